"""Who may make the operator act, decided by the real API server with the shipped admission
policies (deploy/admission-policy.yaml) and real RBAC, through impersonated users and real
ServiceAccount tokens with Roles made here. Each route is refused for a user who lacks the right,
naming the field and the missing permission, and allowed for one who has it; where the operator
acts on it (an approved rollback, a re-run), it does, recorded under the requester's real name.

Real control plane only: kubesim has no authorizer and enforces no admission policy.

- the spec: rollback.policy Automatic (the default) or early.enabled needs `patch` on the target;
- a re-run (releaseguard.io/rerun) needs what creating the current spec needs;
- an approval (releaseguard.io/approve-rollback) needs `patch` on the target, policy Manual at that
  moment, and releaseguard.io/approved-by equal to the requester's username, which nobody rewrites;
- outputs are never instructions: only the operator's ServiceAccount writes an rv's status, creates
  a VerificationRun, changes its spec, owner or status (not even a cluster admin); the garbage
  collector still orphans and deletes records.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from rg_harness import (
    CLUSTER_ADMIN,
    OPERATOR_USER,
    RELEASEGUARD,
    Cluster,
    Operator,
    api_call,
    as_user,
    operator_kubeconfig,
    real_only,
    release_verification,
    role,
    role_binding,
    rule,
    shipped_policies,
    shop_deployment,
    shop_service,
)

from kubesim.real.cluster import RealCluster
from support import eventually

pytestmark = pytest.mark.slow
Obj = dict[str, Any]
NS = "trust-policy"  # admission only: rvs whose targets do not exist, so the operator does nothing there
RUN_NS = "trust-run"  # where the operator carries out what was allowed
AUTHOR = "rv-author"  # may write rvs, nothing else
DEPLOYER = "deployer"  # may write rvs and patch Deployment shop (only that one)
TEAM_ADMIN = "team-admin"  # the namespace's built-in admin role (with the chart's aggregated rights)
FORGER = "record-forger"  # has RBAC to write the record: only the outputs policy stands in the way
RV_POLICY = "ValidatingAdmissionPolicy 'releaseverifications.releaseguard.io'"
OUTPUTS_POLICY = "ValidatingAdmissionPolicy 'outputs.releaseguard.io'"


def rv_writer(namespace: str) -> Obj:
    verbs = ["get", "list", "watch", "create", "update", "patch", "delete"]
    return role(namespace, "rv-writer", rule("releaseguard.io", ["releaseverifications"], verbs))


def deployer(namespace: str, *targets: str) -> Obj:
    return role(namespace, "deployer", rule("apps", ["deployments"], ["get", "patch"], list(targets)))


@dataclass
class Env:
    real: RealCluster
    workdir: Path
    operator_kubeconfig: Path


@pytest.fixture(scope="module")
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    real = real_only(request, "kubesim has no authorizer and enforces no admission policy")
    workdir = tmp_path_factory.mktemp("trust-policy")
    kubeconfig = operator_kubeconfig(real, workdir)  # deploy/'s RBAC: the operator and the aggregated roles
    record_writer = role(
        NS,
        "record-writer",
        rule("releaseguard.io", ["releaseverifications/status", "verificationruns", "verificationruns/status"], ["*"]),
    )
    objects: list[Obj] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": RUN_NS}},
        rv_writer(NS),
        deployer(NS, "shop"),
        record_writer,
        role_binding(NS, AUTHOR, "rv-writer"),
        role_binding(NS, DEPLOYER, "rv-writer"),
        role_binding(NS, DEPLOYER, "deployer"),
        role_binding(NS, FORGER, "rv-writer"),
        role_binding(NS, FORGER, "record-writer"),
        role_binding(NS, TEAM_ADMIN, "admin", kind="ClusterRole"),
    ]
    real.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))
    # the aggregation controller gives `admin` the chart's rights a moment after they are applied
    eventually(
        lambda: as_user(real, TEAM_ADMIN, "auth", "can-i", "create", "releaseverifications", "-n", NS).returncode == 0,
        30,
        "the built-in admin role to aggregate the chart's admin role",
    )
    with shipped_policies(real):
        yield Env(real, workdir, kubeconfig)
    real.kubectl("delete", "namespace", NS, RUN_NS, "--wait=false", check=False)


def rv(name: str, policy: str | None = "Manual", target: str = "shop", namespace: str = NS, **spec: Any) -> Obj:
    body: Obj = {
        "targetRef": {"name": target},
        "delaySeconds": 0,
        "timeoutSeconds": 60,
        "checks": [
            {
                "name": "health",
                "retries": 3,
                "timeoutSeconds": 3,
                "http": {"url": f"http://{target}.{namespace}.svc:8080/healthz", "expectStatus": [200]},
            }
        ],
        **spec,
    }
    if policy is not None:
        body["rollback"] = {"policy": policy}
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def create(env: Env, user: str | None, obj: Obj, dry_run: bool = True) -> subprocess.CompletedProcess[str]:
    args = ["create", "-f", "-", *(["--dry-run=server"] if dry_run else [])]
    if user is None:
        return env.real.kubectl(*args, input=json.dumps(obj), check=False)
    return as_user(env.real, user, *args, input=json.dumps(obj))


def annotate(env: Env, user: str, name: str, *pairs: str, dry_run: bool = False) -> subprocess.CompletedProcess[str]:
    args = ["annotate", "-n", NS, "releaseverification", name, *pairs, "--overwrite"]
    return as_user(env.real, user, *args, *(["--dry-run=server"] if dry_run else []))


def refused(result: subprocess.CompletedProcess[str], policy: str, *expected: str) -> str:
    assert result.returncode != 0, result.stdout
    assert policy in result.stderr, result.stderr
    for text in expected:
        assert text in result.stderr, (text, result.stderr)
    return result.stderr


def allowed(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr


def admin_creates(env: Env, *objs: Obj) -> None:
    env.real.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(list(objs)))


# --- the spec: what makes the operator patch the target ------------------------------------------

SPEC_ROUTES = {
    "default-policy": (rv("auto-default", policy=None), "spec.rollback.policy: Automatic"),
    "automatic": (rv("auto", policy="Automatic"), "spec.rollback.policy: Automatic"),
    "early": (rv("early", policy="Manual", early={"enabled": True}), "spec.early.enabled: "),
    "early-never": (rv("early-never", policy="Never", early={"enabled": True}), "spec.early.enabled: "),
}


@pytest.mark.parametrize("route", sorted(SPEC_ROUTES))
def test_an_rv_that_makes_the_operator_patch_needs_patch_on_the_target(env: Env, route: str) -> None:
    obj, field = SPEC_ROUTES[route]
    refused(
        create(env, AUTHOR, obj),
        RV_POLICY,
        field,
        f"{AUTHOR} may not patch it in namespace {NS}",
        "(missing permission: patch deployments/shop",
    )
    allowed(create(env, DEPLOYER, obj))


def test_the_permission_is_on_the_named_target(env: Env) -> None:
    refused(create(env, DEPLOYER, rv("cart", policy="Automatic", target="cart")), RV_POLICY, "patch deployments/cart")


@pytest.mark.parametrize("policy", ["Manual", "Never"])
def test_manual_and_never_rvs_need_only_rv_rights(env: Env, policy: str) -> None:
    allowed(create(env, AUTHOR, rv(f"plain-{policy.lower()}", policy=policy)))
    allowed(create(env, AUTHOR, rv(f"plain-{policy.lower()}-early-off", policy=policy, early={"enabled": False})))


def test_a_crash_log_needs_get_pods_log(env: Env) -> None:
    reader = role(NS, "log-reader", rule("", ["pods/log"], ["get"]))
    env.real.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([reader, role_binding(NS, DEPLOYER, "log-reader")]))
    obj = rv("crash-log", diagnostics={"crashLog": True})
    refused(create(env, AUTHOR, obj), RV_POLICY, "spec.diagnostics.crashLog:", "(missing permission: get pods/log)")
    allowed(create(env, DEPLOYER, obj))


def test_changing_a_manual_rv_to_automatic_needs_the_permission_too(env: Env) -> None:
    admin_creates(env, rv("turned", policy="Manual"))
    patch = json.dumps({"spec": {"rollback": {"policy": "Automatic"}}})
    args = ("patch", "-n", NS, "releaseverification", "turned", "--type=merge", "-p", patch)
    refused(as_user(env.real, AUTHOR, *args), RV_POLICY, "spec.rollback.policy", "patch deployments/shop")
    allowed(as_user(env.real, DEPLOYER, *args, "--dry-run=server"))
    # a metadata-only change (a label, another annotation) asks for nothing
    allowed(as_user(env.real, AUTHOR, "label", "-n", NS, "releaseverification", "turned", "team=a"))
    allowed(annotate(env, AUTHOR, "turned", "note=hello"))


# --- re-run --------------------------------------------------------------------------------------


def test_a_rerun_needs_what_creating_the_current_spec_needs(env: Env) -> None:
    pods = rv("rerun-pods")
    pods["spec"]["checks"].append({"name": "smoke", "command": {"command": ["true"]}})
    admin_creates(env, rv("rerun-auto", policy="Automatic"), pods)
    rerun = "releaseguard.io/rerun=please"
    refused(
        annotate(env, AUTHOR, "rerun-auto", rerun),
        RV_POLICY,
        "metadata.annotations[releaseguard.io/rerun]: a re-run needs what creating this spec needs",
        "spec.rollback.policy",
        "(missing permission: patch deployments/shop",
    )
    allowed(annotate(env, DEPLOYER, "rerun-auto", rerun, dry_run=True))
    refused(
        annotate(env, DEPLOYER, "rerun-pods", rerun),
        RV_POLICY,
        "metadata.annotations[releaseguard.io/rerun]",
        "spec.checks: checks smoke run pods",
        "(missing permission: create pods)",
    )
    allowed(annotate(env, TEAM_ADMIN, "rerun-pods", rerun, dry_run=True))
    # a Manual rv of plain network checks may be re-run by anyone who may annotate it
    admin_creates(env, rv("rerun-plain"))
    allowed(annotate(env, AUTHOR, "rerun-plain", rerun))


# --- approve -------------------------------------------------------------------------------------

APPROVE = "releaseguard.io/approve-rollback=shop-2-abc"


def test_an_approval_needs_patch_on_the_target_and_the_requesters_own_name(env: Env) -> None:
    admin_creates(env, rv("approve-manual"))
    refused(
        annotate(env, AUTHOR, "approve-manual", APPROVE, f"releaseguard.io/approved-by={AUTHOR}"),
        RV_POLICY,
        "metadata.annotations[releaseguard.io/approve-rollback]:",
        f"{AUTHOR} may not patch it in namespace {NS} (missing permission: patch deployments/shop)",
    )
    refused(
        annotate(env, DEPLOYER, "approve-manual", APPROVE, "releaseguard.io/approved-by=alice"),
        RV_POLICY,
        "metadata.annotations[releaseguard.io/approved-by]: must be the approver as the API server sees them, "
        f"{DEPLOYER}, not 'alice'",
    )
    refused(annotate(env, DEPLOYER, "approve-manual", APPROVE), RV_POLICY, f"sees them, {DEPLOYER}, not ''")
    # the approver needs nothing of the spec's own rights (no pods, no Secrets): only the target
    allowed(annotate(env, DEPLOYER, "approve-manual", APPROVE, f"releaseguard.io/approved-by={DEPLOYER}"))

    # nobody rewrites who approved: changing or removing the name on a standing approval is approving
    # (patch on the target), and an approver may only put their own name
    for pair in ("approved-by=mallory", f"approved-by={AUTHOR}", "approved-by-"):
        result = annotate(env, AUTHOR, "approve-manual", f"releaseguard.io/{pair}")
        refused(result, RV_POLICY, "approve-rollback", "patch deployments/shop")
    for pair in ("approved-by=mallory", "approved-by-"):
        refused(annotate(env, DEPLOYER, "approve-manual", f"releaseguard.io/{pair}"), RV_POLICY, "approved-by")
    # withdrawing the approval and the name together is no request
    allowed(
        annotate(
            env,
            AUTHOR,
            "approve-manual",
            "releaseguard.io/approve-rollback-",
            "releaseguard.io/approved-by-",
            dry_run=True,
        )
    )
    on_record = json.loads(env.real.kubectl("get", "-n", NS, "rv", "approve-manual", "-o", "json").stdout)
    assert on_record["metadata"]["annotations"]["releaseguard.io/approved-by"] == DEPLOYER


@pytest.mark.parametrize("policy", ["Automatic", "Never"])
def test_an_approval_is_refused_unless_the_policy_is_manual_at_that_moment(env: Env, policy: str) -> None:
    name = f"approve-{policy.lower()}"
    admin_creates(env, rv(name, policy=policy))
    refused(
        annotate(env, DEPLOYER, name, APPROVE, f"releaseguard.io/approved-by={DEPLOYER}"),
        RV_POLICY,
        f"spec.rollback.policy: only the rollback an rv with policy Manual recommends is approved, and this one has policy {policy}",
    )


# --- outputs are never instructions --------------------------------------------------------------

FORGED_ROLLBACK = {"applied": True, "fromRevision": 2, "toRevision": 1, "paused": True}
FORGED_STATUS = {"status": {"lastRollback": {**FORGED_ROLLBACK, "time": "2026-01-01T00:00:00Z", "reason": "forged"}}}


def vrun(name: str, owner: Obj, **spec: Any) -> Obj:
    meta = owner["metadata"]
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "VerificationRun",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {"releaseguard.io/rv": meta["name"]},
            "ownerReferences": [
                {
                    "apiVersion": "releaseguard.io/v1alpha1",
                    "kind": "ReleaseVerification",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {
            "releaseVerification": meta["name"],
            "target": "shop",
            "revision": 1,
            "trigger": "NewRevision",
            "checksDigest": "0" * 16,
            **spec,
        },
    }


def created_rv(env: Env, name: str) -> Obj:
    admin_creates(env, rv(name, policy="Never"))
    obj: Obj = json.loads(env.real.kubectl("get", "-n", NS, "rv", name, "-o", "json").stdout)
    return obj


def by(env: Env, user: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    return env.real.kubectl(*args, check=False) if user is None else as_user(env.real, user, *args)


def operator_only(user: str) -> str:
    return f"written only by the operator ({OPERATOR_USER}), never by {user}"


@pytest.mark.parametrize("user", [FORGER, None], ids=["namespace-user-with-rbac", "cluster-admin"])
def test_nobody_but_the_operator_writes_an_rv_status(env: Env, user: str | None) -> None:
    created_rv(env, "forged-status")
    args = ("patch", "-n", NS, "rv", "forged-status", "--subresource=status", "--type=merge", "-p")
    result = by(env, user, *args, json.dumps(FORGED_STATUS))
    refused(
        result, OUTPUTS_POLICY, "status: the status of releaseverifications is", operator_only(user or CLUSTER_ADMIN)
    )
    status = json.loads(env.real.kubectl("get", "-n", NS, "rv", "forged-status", "-o", "json").stdout).get("status")
    assert not (status or {}).get("lastRollback"), status


def test_a_namespace_admin_has_no_rbac_for_the_record_and_the_operator_has(env: Env) -> None:
    owner = created_rv(env, "admin-record")
    args = (
        "patch",
        "-n",
        NS,
        "rv",
        "admin-record",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(FORGED_STATUS),
    )
    result = as_user(env.real, TEAM_ADMIN, *args)
    assert result.returncode != 0 and 'cannot patch resource "releaseverifications/status"' in result.stderr, (
        result.stderr
    )
    result = create(env, TEAM_ADMIN, vrun("admin-record-1", owner))
    assert result.returncode != 0 and 'cannot create resource "verificationruns"' in result.stderr, result.stderr
    # the operator's ServiceAccount does both (a plain PATCH: it has no right to GET the status first)
    path = f"/apis/releaseguard.io/v1alpha1/namespaces/{NS}/releaseverifications/admin-record/status"
    code, text = api_call(
        env.operator_kubeconfig, "PATCH", path, {"status": {"message": "by the operator"}}, dry_run=True
    )
    assert code == 200, text
    allowed(create(env, OPERATOR_USER, vrun("admin-record-1", owner)))


@pytest.mark.parametrize("user", [FORGER, None], ids=["namespace-user-with-rbac", "cluster-admin"])
def test_nobody_but_the_operator_creates_or_changes_a_verification_run(env: Env, user: str | None) -> None:
    who = user or CLUSTER_ADMIN
    owner = created_rv(env, "forged-runs")
    forged = vrun("forged", owner)
    refused(create(env, user, forged), OUTPUTS_POLICY, "verificationruns: VerificationRuns are", operator_only(who))
    name = f"by-operator-{'forger' if user else 'admin'}"
    allowed(create(env, OPERATOR_USER, vrun(name, owner), dry_run=False))
    base = ("patch", "-n", NS, "vrun", name, "--type=merge", "-p")
    # the CRD itself keeps a record's spec immutable (for everyone); the policy would refuse it too
    respec = by(env, user, *base, json.dumps({"spec": {"revision": 9}}))
    assert respec.returncode != 0 and "a VerificationRun's spec is immutable" in respec.stderr, respec.stderr
    refused(
        by(env, user, *base, json.dumps({"status": {"verdict": "Passed"}}), "--subresource=status"),
        OUTPUTS_POLICY,
        "status: the status of verificationruns is",
    )
    other = created_rv(env, "forged-runs-other")
    owners = vrun(name, other)["metadata"]["ownerReferences"]
    owners[0]["controller"] = False
    refused(
        by(env, user, *base, json.dumps({"metadata": {"ownerReferences": owners}})),
        OUTPUTS_POLICY,
        "metadata.ownerReferences: the owner of a VerificationRun is",
    )
    allowed(by(env, user, "label", "-n", NS, "vrun", name, "reviewed=yes"))  # metadata stays with RBAC
    record = json.loads(env.real.kubectl("get", "-n", NS, "vrun", name, "-o", "json").stdout)
    assert record["spec"]["revision"] == 1 and not record.get("status")
    assert [r["uid"] for r in record["metadata"]["ownerReferences"]] == [owner["metadata"]["uid"]]


def test_the_garbage_collector_still_orphans_and_deletes_records(env: Env) -> None:
    def exists(name: str) -> bool:
        return env.real.kubectl("get", "-n", NS, "vrun", name, check=False).returncode == 0

    # deleting an rv deletes its records (the garbage collector's DELETE, never matched)
    gone = created_rv(env, "gc-delete")
    allowed(create(env, OPERATOR_USER, vrun("gc-delete-1", gone), dry_run=False))
    env.real.kubectl("delete", "-n", NS, "rv", "gc-delete", "--wait=false")
    # 60 s: a garbage collector that has not yet seen the CRDs finds them by discovery every 30 s
    eventually(lambda: not exists("gc-delete-1"), 60, "the garbage collector to delete the deleted rv's record")

    # orphaning them: the collector patches the owner reference away, which the policy lets through
    kept = created_rv(env, "gc-orphan")
    allowed(create(env, OPERATOR_USER, vrun("gc-orphan-1", kept), dry_run=False))
    env.real.kubectl("delete", "-n", NS, "rv", "gc-orphan", "--cascade=orphan", "--wait=false")

    def orphaned() -> bool:
        record = json.loads(env.real.kubectl("get", "-n", NS, "vrun", "gc-orphan-1", "-o", "json").stdout)
        return not record["metadata"].get("ownerReferences")

    eventually(orphaned, 30, "the garbage collector to remove the deleted owner's reference")
    eventually(
        lambda: env.real.kubectl("get", "-n", NS, "rv", "gc-orphan", check=False).returncode != 0, 30, "the rv gone"
    )


# --- the operator carries out what a permitted user asked, under their real name -------------------


@dataclass
class Team:
    cluster: Cluster
    operator: Operator
    approver: Path  # kubeconfig of ServiceAccount approver: rv rights, get and patch Deployments shop and cart
    rv_only: Path  # kubeconfig of ServiceAccount rv-only: rv rights, and reading Deployments

    def cli(self, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [RELEASEGUARD, *args, "-n", RUN_NS, "--kubeconfig", str(kubeconfig)]
        environ = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        return subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=60)


def approver_name() -> str:
    return f"system:serviceaccount:{RUN_NS}:approver"


@pytest.fixture(scope="module")
def team(env: Env) -> Iterator[Team]:
    real = env.real
    accounts = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": n, "namespace": RUN_NS}}
        for n in ("approver", "rv-only")
    ]
    rbac = [
        rv_writer(RUN_NS),
        deployer(RUN_NS, "shop", "cart"),
        role_binding(RUN_NS, approver_name(), "rv-writer"),
        role_binding(RUN_NS, approver_name(), "deployer"),
        role(RUN_NS, "deployment-reader", rule("apps", ["deployments"], ["get", "list", "watch"])),
        role_binding(RUN_NS, f"system:serviceaccount:{RUN_NS}:rv-only", "rv-writer"),
        role_binding(RUN_NS, f"system:serviceaccount:{RUN_NS}:rv-only", "deployment-reader"),
    ]
    real.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([*accounts, *rbac]))
    approver = real.service_account_kubeconfig(RUN_NS, "approver", env.workdir / "approver.kubeconfig")
    rv_only = real.service_account_kubeconfig(RUN_NS, "rv-only", env.workdir / "rv-only.kubeconfig")
    operator = Operator(real, env.workdir, kubeconfig=env.operator_kubeconfig).start()
    cluster = Cluster(real, RUN_NS)
    cluster.apply(
        shop_service("shop"),
        shop_deployment("shop:1.0", name="shop"),
        shop_service("cart"),
        shop_deployment("shop:1.0", name="cart"),
        {**release_verification(RUN_NS, policy="Manual"), "metadata": {"name": "shop", "namespace": RUN_NS}},
        rv("cart", policy="Automatic", target="cart", namespace=RUN_NS),
    )
    try:
        cluster.wait_phase("Verified", rv="shop", revision=1, timeout=90)
        cluster.wait_phase("Verified", rv="cart", revision=1, timeout=90)
        yield Team(cluster, operator, approver, rv_only)
    finally:
        operator.stop()


def runs(cluster: Cluster, rv_name: str) -> list[Obj]:
    out = cluster.kubectl("get", "vrun", "-l", f"releaseguard.io/rv={rv_name}", "-o", "json").stdout
    items: list[Obj] = json.loads(out)["items"]
    return sorted(items, key=lambda r: r["metadata"]["creationTimestamp"])


def test_a_rerun_is_started_for_someone_who_may_and_refused_to_someone_who_may_not(team: Team) -> None:
    cluster = team.cluster
    before = len(runs(cluster, "cart"))
    result = team.cli(team.rv_only, "rerun", "cart")
    assert result.returncode != 0, result.stdout
    assert "spec.rollback.policy" in result.stderr and "missing permission: patch deployments/cart" in result.stderr
    assert f"system:serviceaccount:{RUN_NS}:rv-only may not patch it" in result.stderr, result.stderr

    result = team.cli(team.approver, "rerun", "cart")
    assert result.returncode == 0 and "requested" in result.stdout, result.stderr

    def rerun_done() -> Obj | None:
        found = [r for r in runs(cluster, "cart") if r["spec"]["trigger"] == "Rerun"]
        return found[0] if found and (found[0].get("status") or {}).get("verdict") else None

    record = eventually(rerun_done, 90, "the re-run's VerificationRun with a verdict")
    assert record["status"]["verdict"] == "Passed" and record["spec"]["revision"] == 1
    assert len(runs(cluster, "cart")) == before + 1
    assert cluster.status("cart")["lastRun"]["trigger"] == "Rerun"


def test_an_approved_rollback_is_carried_out_under_the_approvers_real_name(team: Team) -> None:
    cluster = team.cluster
    cluster.apply(shop_deployment("shop:1.1-error500", name="shop"))
    cluster.wait_phase("Failed", rv="shop", revision=2, timeout=90)
    assert cluster.status("shop")["lastRollback"]["applied"] is False

    result = team.cli(team.rv_only, "approve", "shop")
    assert result.returncode != 0, result.stdout
    assert "metadata.annotations[releaseguard.io/approve-rollback]" in result.stderr, result.stderr
    assert "missing permission: patch deployments/shop" in result.stderr
    # typing someone else's name is refused, telling the approver the name the server knows them by
    typed = as_user(
        cluster.sim,
        approver_name(),
        "annotate", "-n", RUN_NS, "rv", "shop", "--overwrite",
        "releaseguard.io/approve-rollback=x", "releaseguard.io/approved-by=the-boss",
    )  # fmt: skip
    refused(typed, RV_POLICY, f"sees them, {approver_name()}, not 'the-boss'")
    assert cluster.deployment_revision("shop") == 2 and cluster.image("shop") == "shop:1.1-error500"

    result = team.cli(team.approver, "approve", "shop")
    assert result.returncode == 0, result.stderr
    status = cluster.wait_phase("Verified", rv="shop", revision=3, timeout=90)
    assert cluster.image("shop") == "shop:1.0"
    last = status["lastRollback"]
    assert (last["fromRevision"], last["toRevision"], last["applied"]) == (2, 1, True)
    assert last["appliedBy"] == f"approved:{approver_name()}"
    assert "Forbidden" not in team.operator.log() and " 403" not in team.operator.log()
