"""The shipped ValidatingAdmissionPolicies: their CEL compiles, and their logic refuses each route by
which an rv, a re-run or an approval would grant its author more than they have, naming the field
and the permission, and lets only the operator write its record (an rv's status, VerificationRuns).

kubesim has no authorizer, so here the policy's `authorizer` answers from a small permission
table given by each test (a stand-in for RBAC, no more). That the real kube-apiserver accepts the
policies and its real authorizer gives these answers is proven on the real control plane
(tests/e2e/test_admission_policy_real.py, tests/e2e/test_trust_policy_real.py)."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from celpy import celtypes

ROOT = Path(__file__).resolve().parents[2]
POLICY_FILE = ROOT / "deploy" / "admission-policy.yaml"
Obj = dict[str, Any]


@functools.cache
def _policies() -> dict[str, Obj]:
    """The shipped policies by name; each binding names its policy and denies."""
    docs = list(yaml.safe_load_all(POLICY_FILE.read_text()))
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"}
    bindings = {d["spec"]["policyName"]: d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"}
    assert set(policies) == set(bindings)
    return policies


Allowed = set[tuple[str, str, str | None]]


class _Check:
    """authorizer.group(g).resource(r).subresource(s).namespace(n).name(x).check(verb), answered
    from `allowed`: (resource or resource/subresource, verb, name or None for any name)."""

    def __init__(self, allowed: Allowed, **scope: str) -> None:
        self.allowed, self.scope = allowed, scope


def _narrow(key: str) -> Any:
    return lambda check, value: _Check(check.allowed, **{**check.scope, key: str(value)})


def _decide(check: _Check, verb: Any) -> celtypes.BoolType:
    resource, name = check.scope.get("resource", ""), check.scope.get("name")
    if check.scope.get("subresource"):
        resource += "/" + check.scope["subresource"]
    return celtypes.BoolType(
        (resource, str(verb), name) in check.allowed or (resource, str(verb), None) in check.allowed
    )


FUNCTIONS = {
    "group": _narrow("group"),
    "resource": _narrow("resource"),
    "subresource": _narrow("subresource"),
    "namespace": _narrow("namespace"),
    "name": _narrow("name"),
    "check": _decide,
    "allowed": lambda decision: decision,
    "join": lambda items, sep: celtypes.StringType(str(sep).join(str(i) for i in items)),
}
RV_POLICY, OUTPUTS_POLICY = "releaseverifications.releaseguard.io", "outputs.releaseguard.io"
OPERATOR = "system:serviceaccount:releaseguard:releaseguard"


@functools.cache
def _program(expression: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(expression), functions=FUNCTIONS)


def admit(
    obj: Obj,
    allowed: Allowed,
    old: Obj | None = None,
    *,
    policy: str = RV_POLICY,
    user: str = "alice",
    sub_resource: str = "",
    resource: str = "releaseverifications",
) -> list[str] | None:
    """The messages of the validations that refuse `obj` (empty: admitted; None: the policy does
    not match the request, so nothing is checked)."""
    vap = _policies()[policy]
    request = {
        "namespace": "shop",
        "operation": "UPDATE" if old else "CREATE",
        "userInfo": {"username": user},
        "resource": {"group": "releaseguard.io", "version": "v1alpha1", "resource": resource},
    }
    if sub_resource:  # as on the real API server: absent, not '', on the main resource
        request["subResource"] = sub_resource
    activation: dict[str, Any] = {
        "object": celpy.json_to_cel(obj),
        "oldObject": celpy.json_to_cel(old),
        "request": celpy.json_to_cel(request),
        "authorizer": _Check(allowed),
    }

    def run(expression: str, variables: dict[str, Any]) -> Any:
        return _program(expression).evaluate({**activation, "variables": celtypes.MapType(variables)})

    for condition in vap["spec"].get("matchConditions", []):
        if not run(condition["expression"], {}):
            return None
    variables: dict[Any, Any] = {}
    for variable in vap["spec"].get("variables", []):
        variables[celtypes.StringType(variable["name"])] = run(variable["expression"], variables)
    return [
        str(run(v["messageExpression"], variables))
        for v in vap["spec"]["validations"]
        if not run(v["expression"], variables)
    ]


def _rv(*checks: Obj, runner: Obj | None = None, policy: str | None = "Manual", **spec: Any) -> Obj:
    """An rv of Deployment shop; policy None leaves rollback out (the default: Automatic)."""
    body: Obj = {"targetRef": {"kind": "Deployment", "name": "shop"}, "checks": list(checks), **spec}
    if runner is not None:
        body["runner"] = runner
    if policy is not None:
        body["rollback"] = {"policy": policy}
    return {"apiVersion": "releaseguard.io/v1alpha1", "kind": "ReleaseVerification", "metadata": {}, "spec": body}


def annotated(rv: Obj, **annotations: str) -> Obj:
    """`rv` with these annotations (keys: rerun, approve_rollback, approved_by, or any other)."""
    names = {"rerun": "releaseguard.io/rerun", "approve_rollback": "releaseguard.io/approve-rollback"}
    names["approved_by"] = "releaseguard.io/approved-by"
    out = copy.deepcopy(rv)
    current = out["metadata"].setdefault("annotations", {})
    current.update({names.get(k, k): v for k, v in annotations.items()})
    return out


HTTP = {"name": "home", "http": {"url": "http://shop/"}}
COMMAND = {"name": "smoke", "command": {"command": ["true"]}}
SECRET_HEADER = {
    "name": "auth",
    "http": {
        "url": "http://shop/",
        "headers": [
            {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "shop-token", "key": "t"}}},
            {"name": "X-Plain", "value": "1"},
        ],
    },
}
PATCH_SHOP = ("deployments", "patch", "shop")
ADMIN: Allowed = {("pods", "create", None), ("secrets", "get", None), PATCH_SHOP, ("pods/log", "get", None)}
RV_ONLY: Allowed = set()


def test_the_policies_and_their_bindings_are_shipped_apart_and_deny() -> None:
    docs = list(yaml.safe_load_all(POLICY_FILE.read_text()))
    assert [d["kind"] for d in docs] == ["ValidatingAdmissionPolicy"] * 2 + ["ValidatingAdmissionPolicyBinding"] * 2
    policies = _policies()
    assert set(policies) == {RV_POLICY, OUTPUTS_POLICY}
    for binding in docs[2:]:
        assert binding["spec"]["validationActions"] == ["Deny"]
    env = celpy.Environment()
    for vap in policies.values():
        assert vap["spec"]["failurePolicy"] == "Fail"
        spec = vap["spec"]
        for item in spec.get("variables", []) + spec["validations"] + spec["matchConditions"]:
            for key in ("expression", "messageExpression"):
                if key in item:
                    env.compile(item[key])  # raises on a syntax error
    assert policies[RV_POLICY]["spec"]["matchConstraints"]["resourceRules"] == [
        {
            "apiGroups": ["releaseguard.io"],
            "apiVersions": ["*"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["releaseverifications"],
        }
    ]


@pytest.mark.parametrize(
    ("rv", "field", "permission"),
    [
        (_rv(COMMAND), "spec.checks:", "create pods"),
        (_rv({"name": "env", "python": {"env": ["A"]}}), "spec.checks:", "create pods"),
        (_rv({"name": "suite", "pytest": {"args": []}}), "spec.checks:", "create pods"),
        (_rv({"name": "own", "command": {"command": ["x"], "image": "evil:1"}}), "spec.checks:", "create pods"),
        (_rv(HTTP, runner={"image": "evil:1"}), "spec.runner:", "create pods"),
        (_rv(HTTP, runner={"serviceAccountName": "admin"}), "spec.runner:", "create pods"),
        (_rv(SECRET_HEADER), "spec.checks[].http.headers[].valueFrom.secretKeyRef:", "get secrets"),
        (_rv(HTTP, policy=None), "spec.rollback.policy:", "patch deployments/shop"),
        (_rv(HTTP, policy="Automatic"), "spec.rollback.policy:", "patch deployments/shop"),
        (_rv(HTTP, early={"enabled": True}), "spec.early.enabled:", "patch deployments/shop"),
        (_rv(HTTP, policy="Never", early={"enabled": True}), "spec.early.enabled:", "patch deployments/shop"),
        (_rv(HTTP, diagnostics={"crashLog": True}), "spec.diagnostics.crashLog:", "get pods/log"),
    ],
)
def test_a_user_with_only_rv_rights_is_refused_naming_the_field_and_permission(
    rv: Obj, field: str, permission: str
) -> None:
    [message] = admit(rv, RV_ONLY) or [""]
    assert message.startswith(field) and f"missing permission: {permission}" in message
    assert "alice" in message and "namespace shop" in message
    assert admit(rv, ADMIN) == []


def test_patching_another_deployment_is_not_enough() -> None:
    [message] = admit(_rv(HTTP, policy="Automatic"), {("deployments", "patch", "cart")}) or [""]
    assert "missing permission: patch deployments/shop" in message


def test_manual_and_never_rvs_without_early_need_only_rv_rights() -> None:
    for policy in ("Manual", "Never"):
        assert admit(_rv(HTTP, policy=policy), RV_ONLY) == []
        assert admit(_rv(HTTP, policy=policy, early={"enabled": False}), RV_ONLY) == []
    assert admit(_rv(HTTP, diagnostics={"crashLog": False}), RV_ONLY) == []


def test_one_secret_not_allowed_refuses_and_the_message_names_the_secrets_sent() -> None:
    """The message lists every Secret the headers send, not only the refused ones: the real API
    server (1.37) cannot evaluate a messageExpression that reaches the authorizer."""
    other = {
        "name": "other",
        "http": {
            "url": "http://shop/",
            "headers": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "other-token", "key": "k"}}}],
        },
    }
    [message] = admit(_rv(SECRET_HEADER, other), {("secrets", "get", "shop-token")}) or [""]
    assert "(shop-token, other-token)" in message and "missing permission: get secrets" in message


def test_network_checks_without_secrets_or_overrides_need_nothing_more() -> None:
    assert admit(_rv(HTTP, {"name": "db", "tcp": {"host": "db", "port": 5432}}), RV_ONLY) == []


def test_a_metadata_only_update_touching_no_request_annotation_is_not_checked() -> None:
    rv = _rv(COMMAND, policy=None)
    finalized = copy.deepcopy(rv)
    finalized["metadata"]["finalizers"] = ["releaseguard.io/kopf-finalizer"]
    assert admit(annotated(rv, a="b"), RV_ONLY, old=rv) is None
    assert admit(finalized, RV_ONLY, old=rv) is None
    assert admit(annotated(rv, **{"releaseguard.io/last-handled-configuration": "{}"}), RV_ONLY, old=rv) is None
    changed = _rv({"name": "smoke", "command": {"command": ["false"]}}, policy=None)
    assert len(admit(changed, RV_ONLY, old=rv) or []) == 2  # the pods and the rollback


# --- re-run ------------------------------------------------------------------------------------


def test_a_rerun_is_checked_like_creating_the_current_spec() -> None:
    rv = _rv(COMMAND, policy=None)
    asked = annotated(rv, rerun="run-1")
    messages = admit(asked, RV_ONLY, old=rv) or []
    assert len(messages) == 2, messages
    for message in messages:
        assert message.startswith("metadata.annotations[releaseguard.io/rerun]: a re-run needs what creating")
    assert any("spec.checks: checks smoke" in m and "missing permission: create pods" in m for m in messages)
    assert any("missing permission: patch deployments/shop" in m for m in messages)
    assert admit(asked, ADMIN, old=rv) == []
    # asked again with a new value: checked again; the same value kept (another annotation changes): not
    again = annotated(asked, rerun="run-2")
    assert admit(again, RV_ONLY, old=asked)
    assert admit(annotated(asked, other="x"), RV_ONLY, old=asked) is None
    # removing the request asks for nothing
    assert admit(rv, RV_ONLY, old=asked) == []
    # a plain Manual rv may be re-run by anyone who may annotate it
    plain = _rv(HTTP)
    assert admit(annotated(plain, rerun="x"), RV_ONLY, old=plain) == []


def test_a_rerun_on_creation_is_checked_with_the_spec() -> None:
    assert admit(annotated(_rv(HTTP), rerun="x"), RV_ONLY) == []
    assert admit(annotated(_rv(COMMAND), rerun="x"), RV_ONLY)


# --- approve -----------------------------------------------------------------------------------

APPROVER: Allowed = {PATCH_SHOP}


def test_an_approval_needs_patch_on_the_target_and_nothing_of_the_spec() -> None:
    rv = _rv(COMMAND, SECRET_HEADER)  # Manual, with pods and secrets the approver may not touch
    approval = annotated(rv, approve_rollback="shop-2-abc", approved_by="alice")
    [message] = admit(approval, RV_ONLY, old=rv) or [""]
    assert message.startswith("metadata.annotations[releaseguard.io/approve-rollback]:")
    assert "alice may not patch it in namespace shop (missing permission: patch deployments/shop)" in message
    assert admit(approval, APPROVER, old=rv) == []


def test_the_approver_name_must_be_the_requesters_own() -> None:
    rv = _rv(HTTP)
    for typed in ("bob", "", "ALICE"):
        [message] = admit(annotated(rv, approve_rollback="r", approved_by=typed), APPROVER, old=rv) or [""]
        assert message.startswith("metadata.annotations[releaseguard.io/approved-by]:")
        assert "must be the approver as the API server sees them, alice" in message
    [message] = admit(annotated(rv, approve_rollback="r"), APPROVER, old=rv) or [""]
    assert "approved-by" in message
    assert admit(annotated(rv, approve_rollback="r", approved_by="alice"), APPROVER, old=rv) == []


def test_an_approval_is_refused_unless_the_policy_is_manual_at_that_moment() -> None:
    for policy in ("Automatic", "Never", None):
        rv = _rv(HTTP, policy=policy)
        messages = admit(annotated(rv, approve_rollback="r", approved_by="alice"), APPROVER, old=rv) or []
        assert [m for m in messages if m.startswith("spec.rollback.policy: only the rollback an rv with policy Manual")]
    # turning Manual into Automatic and approving in one request: the new policy counts
    rv = _rv(HTTP)
    both = annotated(_rv(HTTP, policy="Automatic"), approve_rollback="r", approved_by="alice")
    assert any("only the rollback an rv with policy Manual" in m for m in admit(both, APPROVER, old=rv) or [])


def test_nobody_rewrites_who_approved() -> None:
    approved = annotated(_rv(HTTP), approve_rollback="r", approved_by="carol")
    # alice, with only rv rights, may neither put another name nor her own on carol's approval
    for name in ("mallory", "alice"):
        assert admit(annotated(approved, approved_by=name), RV_ONLY, old=approved)
    assert admit(annotated(approved, approved_by="bob"), APPROVER, old=approved)
    # nor remove the name while the approval stands
    bare = copy.deepcopy(approved)
    del bare["metadata"]["annotations"]["releaseguard.io/approved-by"]
    assert admit(bare, APPROVER, old=approved)
    # an approver taking the approval over puts their own name
    assert admit(annotated(approved, approved_by="alice"), APPROVER, old=approved) == []
    # without an approval, approved-by alone may only be the requester's name, or go
    plain = _rv(HTTP)
    assert admit(annotated(plain, approved_by="bob"), RV_ONLY, old=plain)
    assert admit(annotated(plain, approved_by="alice"), RV_ONLY, old=plain) == []
    assert admit(plain, RV_ONLY, old=approved) == []  # both annotations removed
    withdrawn = copy.deepcopy(approved)
    del withdrawn["metadata"]["annotations"]["releaseguard.io/approve-rollback"]
    assert admit(withdrawn, RV_ONLY, old=approved) == []  # withdrawing asks for nothing


def test_an_approval_on_creation_is_checked_too() -> None:
    assert admit(annotated(_rv(HTTP), approve_rollback="r", approved_by="bob"), APPROVER)
    assert admit(annotated(_rv(HTTP), approve_rollback="r", approved_by="alice"), RV_ONLY)
    assert admit(annotated(_rv(HTTP), approve_rollback="r", approved_by="alice"), APPROVER) == []


# --- outputs -----------------------------------------------------------------------------------


def _vrun(**spec: Any) -> Obj:
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "VerificationRun",
        "metadata": {
            "name": "shop-2-abc",
            "ownerReferences": [{"apiVersion": "v", "kind": "ReleaseVerification", "name": "shop", "uid": "u1"}],
        },
        "spec": {"releaseVerification": "shop", "revision": 2, **spec},
    }


@pytest.mark.parametrize("user", ["alice", "system:serviceaccount:releaseguard:other", "system:admin"])
def test_only_the_operator_writes_the_record(user: str) -> None:
    rv, vrun = _rv(HTTP), _vrun()
    forged = {**rv, "status": {"lastRollback": {"applied": True, "toRevision": 1}}}
    routes: list[tuple[str, list[str] | None]] = [
        ("status:", admit(forged, ADMIN, old=rv, policy=OUTPUTS_POLICY, user=user, sub_resource="status")),
        ("verificationruns:", admit(vrun, ADMIN, policy=OUTPUTS_POLICY, user=user, resource="verificationruns")),
        (
            "spec:",
            admit(_vrun(revision=3), ADMIN, old=vrun, policy=OUTPUTS_POLICY, user=user, resource="verificationruns"),
        ),
        (
            "status:",
            admit(
                vrun,
                ADMIN,
                old=vrun,
                policy=OUTPUTS_POLICY,
                user=user,
                resource="verificationruns",
                sub_resource="status",
            ),
        ),
    ]
    other_owner = copy.deepcopy(vrun)
    other_owner["metadata"]["ownerReferences"][0]["uid"] = "u2"
    routes.append(("metadata.ownerReferences:", admit(other_owner, ADMIN, old=vrun, policy=OUTPUTS_POLICY, user=user)))
    for field, messages in routes:
        assert messages is not None and len(messages) == 1, (field, messages)
        assert messages[0].startswith(field), messages
        assert f"written only by the operator ({OPERATOR}), never by {user}" in messages[0]


def test_the_operator_writes_its_record_and_others_keep_metadata_and_owner_removal() -> None:
    rv, vrun = _rv(HTTP), _vrun()
    assert admit(rv, RV_ONLY, old=rv, policy=OUTPUTS_POLICY, user=OPERATOR, sub_resource="status") is None
    assert admit(vrun, RV_ONLY, policy=OUTPUTS_POLICY, user=OPERATOR, resource="verificationruns") is None
    # the garbage collector orphaning a record (owner reference removed), a label by anyone: not matched
    orphan = copy.deepcopy(vrun)
    del orphan["metadata"]["ownerReferences"]
    gc = "system:serviceaccount:kube-system:generic-garbage-collector"
    assert admit(orphan, RV_ONLY, old=vrun, policy=OUTPUTS_POLICY, user=gc, resource="verificationruns") is None
    labelled = copy.deepcopy(vrun)
    labelled["metadata"]["labels"] = {"team": "a"}
    assert admit(labelled, RV_ONLY, old=vrun, policy=OUTPUTS_POLICY, resource="verificationruns") is None
