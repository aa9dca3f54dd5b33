"""The shipped ValidatingAdmissionPolicy: its CEL compiles, and its logic refuses each route by
which an rv would grant its author more than they have, naming the field and the permission.

kubesim has no authorizer, so here the policy's `authorizer` answers from a small permission
table given by each test (a stand-in for RBAC, no more). That the real kube-apiserver accepts the
policy and its real authorizer gives these answers is to be proven on the real control plane."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from celpy import celtypes

ROOT = Path(__file__).resolve().parents[2]
POLICY_FILE = ROOT / "deploy" / "admission-policy.yaml"
Obj = dict[str, Any]


def _policy() -> tuple[Obj, Obj]:
    vap, binding = yaml.safe_load_all(POLICY_FILE.read_text())
    return vap, binding


class _Check:
    """authorizer.group(g).resource(r).namespace(n).name(x).check(verb), answered from `allowed`."""

    def __init__(self, allowed: set[tuple[str, str, str | None]], **scope: str) -> None:
        self.allowed, self.scope = allowed, scope


def _narrow(key: str) -> Any:
    return lambda check, value: _Check(check.allowed, **{**check.scope, key: str(value)})


def _decide(check: _Check, verb: Any) -> celtypes.BoolType:
    resource, name = check.scope.get("resource", ""), check.scope.get("name")
    return celtypes.BoolType(
        (resource, str(verb), name) in check.allowed or (resource, str(verb), None) in check.allowed
    )


FUNCTIONS = {
    "group": _narrow("group"),
    "resource": _narrow("resource"),
    "namespace": _narrow("namespace"),
    "name": _narrow("name"),
    "check": _decide,
    "allowed": lambda decision: decision,
    "join": lambda items, sep: celtypes.StringType(str(sep).join(str(i) for i in items)),
}


def admit(obj: Obj, allowed: set[tuple[str, str, str | None]], old: Obj | None = None) -> list[str]:
    """The messages of the validations that refuse `obj` (empty: admitted)."""
    vap, _ = _policy()
    env = celpy.Environment()
    request = {"namespace": "shop", "operation": "UPDATE" if old else "CREATE", "userInfo": {"username": "alice"}}
    activation: dict[str, Any] = {
        "object": celpy.json_to_cel(obj),
        "oldObject": celpy.json_to_cel(old),
        "request": celpy.json_to_cel(request),
        "authorizer": _Check(allowed),
    }

    def run(expression: str, variables: dict[str, Any]) -> Any:
        program = env.program(env.compile(expression), functions=FUNCTIONS)
        return program.evaluate({**activation, "variables": celtypes.MapType(variables)})

    for condition in vap["spec"]["matchConditions"]:
        if not run(condition["expression"], {}):
            return []
    variables: dict[Any, Any] = {}
    for variable in vap["spec"]["variables"]:
        variables[celtypes.StringType(variable["name"])] = run(variable["expression"], variables)
    return [
        str(run(v["messageExpression"], variables))
        for v in vap["spec"]["validations"]
        if not run(v["expression"], variables)
    ]


def _rv(*checks: Obj, runner: Obj | None = None) -> Obj:
    spec: Obj = {"targetRef": {"kind": "Deployment", "name": "shop"}, "checks": list(checks)}
    if runner is not None:
        spec["runner"] = runner
    return {"apiVersion": "releaseguard.io/v1alpha1", "kind": "ReleaseVerification", "spec": spec}


HTTP = {"name": "home", "http": {"url": "http://shop/"}}
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
ADMIN = {("pods", "create", None), ("secrets", "get", None)}
RV_ONLY: set[tuple[str, str, str | None]] = set()


def test_the_policy_and_its_binding_are_shipped_apart_and_deny() -> None:
    vap, binding = _policy()
    assert vap["kind"] == "ValidatingAdmissionPolicy" and binding["kind"] == "ValidatingAdmissionPolicyBinding"
    assert binding["spec"]["policyName"] == vap["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert vap["spec"]["failurePolicy"] == "Fail"
    rules = vap["spec"]["matchConstraints"]["resourceRules"]
    assert rules == [
        {
            "apiGroups": ["releaseguard.io"],
            "apiVersions": ["*"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["releaseverifications"],
        }
    ]
    env = celpy.Environment()
    for item in vap["spec"]["variables"] + vap["spec"]["validations"] + vap["spec"]["matchConditions"]:
        for key in ("expression", "messageExpression"):
            if key in item:
                env.compile(item[key])  # raises on a syntax error


@pytest.mark.parametrize(
    ("rv", "field", "permission"),
    [
        (_rv({"name": "smoke", "command": {"command": ["true"]}}), "spec.checks:", "create pods"),
        (_rv({"name": "env", "python": {"env": ["A"]}}), "spec.checks:", "create pods"),
        (_rv({"name": "suite", "pytest": {"args": []}}), "spec.checks:", "create pods"),
        (_rv({"name": "own", "command": {"command": ["x"], "image": "evil:1"}}), "spec.checks:", "create pods"),
        (_rv(HTTP, runner={"image": "evil:1"}), "spec.runner:", "create pods"),
        (_rv(HTTP, runner={"serviceAccountName": "admin"}), "spec.runner:", "create pods"),
        (_rv(SECRET_HEADER), "spec.checks[].http.headers[].valueFrom.secretKeyRef:", "get secrets"),
    ],
)
def test_a_user_with_only_rv_rights_is_refused_naming_the_field_and_permission(
    rv: Obj, field: str, permission: str
) -> None:
    [message] = admit(rv, RV_ONLY)
    assert message.startswith(field) and f"missing permission: {permission}" in message
    assert "alice" in message and "namespace shop" in message
    assert admit(rv, ADMIN) == []


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
    [message] = admit(_rv(SECRET_HEADER, other), {("secrets", "get", "shop-token")})
    assert "(shop-token, other-token)" in message and "missing permission: get secrets" in message


def test_network_checks_without_secrets_or_overrides_need_nothing_more() -> None:
    assert admit(_rv(HTTP, {"name": "db", "tcp": {"host": "db", "port": 5432}}), RV_ONLY) == []


def test_a_metadata_only_update_is_not_checked() -> None:
    rv = _rv({"name": "smoke", "command": {"command": ["true"]}})
    annotated = {**rv, "metadata": {"annotations": {"a": "b"}}}
    assert admit(annotated, RV_ONLY, old=rv) == []
    changed = _rv({"name": "smoke", "command": {"command": ["false"]}})
    assert admit(changed, RV_ONLY, old=rv) != []
