"""The rights the install hands out, decided by the real authorizer: people bound to a namespace's
built-in `view`, `edit` or `admin` get exactly the chart's aggregated rights on rvs and
VerificationRuns (never the status, never creating or changing a record); the operator in the
recommended least-privilege shape (watch.allNamespaces=false, Roles only in watch.namespaces)
verifies an rv in a listed namespace and is refused by RBAC everywhere else; the opt-in probe
NetworkPolicy is accepted by the API server (not enforced here: no CNI).

Real control plane only: kubesim has no authorizer (it stores RBAC and enforces none)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from rg_harness import (
    DEPLOY,
    RELEASEGUARD,
    ROOT,
    Cluster,
    Operator,
    as_user,
    real_only,
    release_verification,
    role_binding,
    shop_deployment,
    shop_service,
)

from kubesim.real.cluster import RealCluster
from support import eventually

pytestmark = pytest.mark.slow
Obj = dict[str, Any]
CHART = ROOT / "charts" / "releaseguard"
NS = "trust-roles"
VIEWER, EDITOR, ADMIN, OUTSIDER = "team-viewer", "team-editor", "team-admin", "outsider"


@pytest.fixture(scope="module")
def real(request: pytest.FixtureRequest) -> Iterator[RealCluster]:
    cluster = real_only(request, "kubesim has no authorizer")
    # the chart's aggregated roles, as `kubectl apply -f deploy/` installs them
    roles = [
        d
        for d in yaml.safe_load_all(DEPLOY.read_text())
        if d and d["kind"] == "ClusterRole" and d["metadata"]["name"] != "releaseguard"
    ]
    assert len(roles) == 3
    bindings = [
        role_binding(NS, VIEWER, "view", kind="ClusterRole"),
        role_binding(NS, EDITOR, "edit", kind="ClusterRole"),
        role_binding(NS, ADMIN, "admin", kind="ClusterRole"),
    ]
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([namespace, *roles, *bindings]))
    yield cluster
    cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)


# (verb, resource, subresource): what view, edit and admin may do in the namespace
READS = [(v, r, "") for r in ("releaseverifications", "verificationruns") for v in ("get", "list", "watch")]
READS += [("get", "releaseverifications", "status"), ("get", "verificationruns", "status")]
RV_WRITES = [(v, "releaseverifications", "") for v in ("create", "update", "patch", "delete", "deletecollection")]
RECORD_DELETES = [("delete", "verificationruns", ""), ("deletecollection", "verificationruns", "")]
NEVER = [(v, "releaseverifications", "status") for v in ("update", "patch", "create")]
NEVER += [(v, "verificationruns", "") for v in ("create", "update", "patch")]
NEVER += [(v, "verificationruns", "status") for v in ("update", "patch")]
EXPECTED = {
    VIEWER: set(READS),
    EDITOR: set(READS + RV_WRITES),
    ADMIN: set(READS + RV_WRITES + RECORD_DELETES),
    OUTSIDER: set(),
}
ASKED = READS + RV_WRITES + RECORD_DELETES + NEVER


def json_documents(text: str) -> list[Obj]:
    """The objects `kubectl create -o json` prints, one JSON document after another."""
    decoder, out, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        obj, at = decoder.raw_decode(text, at)
        out.extend(obj["items"] if obj.get("kind") == "List" else [obj])
        while at < len(text) and text[at].isspace():
            at += 1
    return out


def access_reviews(cluster: RealCluster, users: list[str], asked: list[tuple[str, str, str]]) -> dict[str, set[Any]]:
    """What the real authorizer allows each user in NS, asked in one request per review (one kubectl)."""
    reviews = [
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user,
                "resourceAttributes": {
                    "namespace": NS,
                    "verb": verb,
                    "group": "releaseguard.io",
                    "resource": resource,
                    "subresource": sub,
                },
            },
        }
        for user in users
        for verb, resource, sub in asked
    ]
    out = cluster.kubectl(
        "create", "-o", "json", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": reviews})
    )
    items = json_documents(out.stdout)
    allowed: dict[str, set[Any]] = {user: set() for user in users}
    for review in items:
        attributes = review["spec"]["resourceAttributes"]
        if review["status"].get("allowed"):
            allowed[review["spec"]["user"]].add(
                (attributes["verb"], attributes["resource"], attributes.get("subresource", ""))
            )
    return allowed


def test_view_edit_and_admin_get_exactly_the_safe_rights(real: RealCluster) -> None:
    users = sorted(EXPECTED)
    seen: list[dict[str, set[Any]]] = [{}]

    def aggregated() -> bool:
        seen[0] = access_reviews(real, users, ASKED)
        return seen[0] == EXPECTED

    try:
        eventually(aggregated, 30, "the built-in roles to aggregate the chart's roles")
    except AssertionError:
        for user in users:  # name what differs
            assert seen[0][user] == EXPECTED[user], user
        raise


def rv(name: str) -> Obj:
    obj = release_verification(NS, policy="Manual", name=name)
    obj["metadata"]["namespace"] = NS
    return obj


def record(name: str, owner: str = "shop") -> Obj:
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "VerificationRun",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "releaseVerification": owner,
            "target": owner,
            "revision": 1,
            "trigger": "NewRevision",
            "checksDigest": "0",
        },
    }


def test_real_requests_get_the_same_answers(real: RealCluster) -> None:
    def create(user: str, obj: Obj) -> Any:
        return as_user(real, user, "create", "-f", "-", input=json.dumps(obj))

    eventually(lambda: create(EDITOR, rv("by-editor")).returncode == 0, 30, "an editor to create an rv")
    assert as_user(real, VIEWER, "get", "-n", NS, "rv", "by-editor").returncode == 0
    denied = create(VIEWER, rv("by-viewer"))
    assert 'cannot create resource "releaseverifications"' in denied.stderr, denied.stderr
    for user in (EDITOR, ADMIN):
        denied = create(user, record(f"forged-{user}"))
        assert 'cannot create resource "verificationruns"' in denied.stderr, denied.stderr
        patch = ("patch", "-n", NS, "rv", "by-editor", "--subresource=status", "--type=merge", "-p", '{"status": {}}')
        denied = as_user(real, user, *patch)
        assert 'cannot patch resource "releaseverifications/status"' in denied.stderr, denied.stderr
    real.kubectl("create", "-f", "-", input=json.dumps(record("old-run")))
    denied = as_user(real, EDITOR, "delete", "-n", NS, "vrun", "old-run")
    assert 'cannot delete resource "verificationruns"' in denied.stderr, denied.stderr
    assert as_user(real, ADMIN, "delete", "-n", NS, "vrun", "old-run").returncode == 0


# --- the operator with the least-privilege shape ---------------------------------------------------

RELEASE, RELEASE_NS = "rg-least", "rg-least"
LISTED, UNLISTED = "least-listed", "least-unlisted"
SA_USER = f"system:serviceaccount:{RELEASE_NS}:{RELEASE}-releaseguard"


def render(values: Obj) -> list[Obj]:
    rendered = helm.Chart.load(CHART).render(values, name=RELEASE, namespace=RELEASE_NS, is_install=True)
    return [doc for text in rendered.values() for doc in yaml.safe_load_all(text) if doc]


NAMESPACED = {"watch": {"allNamespaces": False, "namespaces": [LISTED]}}


@pytest.fixture(scope="module")
def least(real: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The chart's ServiceAccount, Roles and RoleBindings for watch.namespaces=[LISTED] (a release
    apart from deploy/, whose ClusterRoleBinding other modules apply), and a kubeconfig acting as it."""
    docs = render(NAMESPACED)
    assert not [d for d in docs if d["kind"] in ("ClusterRoleBinding",)]
    rbac = [d for d in docs if d["kind"] in ("ServiceAccount", "Role", "RoleBinding")]
    assert {d["metadata"]["namespace"] for d in rbac if d["kind"] != "ServiceAccount"} == {LISTED}
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in (RELEASE_NS, LISTED, UNLISTED)
    ]
    real.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([*namespaces, *rbac]))
    workdir = tmp_path_factory.mktemp("least")
    return real.service_account_kubeconfig(RELEASE_NS, f"{RELEASE}-releaseguard", workdir / "least.kubeconfig")


def test_the_operator_with_only_the_charts_roles_verifies_where_listed_and_is_refused_elsewhere(
    real: RealCluster, least: Path, tmp_path: Path
) -> None:
    listed, unlisted = Cluster(real, LISTED), Cluster(real, UNLISTED)
    for cluster in (listed, unlisted):
        cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns))
    # the Deployment's args for this install: --namespace for each listed namespace
    op = Operator(real, tmp_path, kubeconfig=least, scope=("--namespace", LISTED))
    op.start()
    try:
        listed.wait_phase("Verified", revision=1, timeout=150)
        # given namespaces, kopf scans nothing cluster-wide (it would be refused, and retried for a
        # minute before every start), and the operator asks for nothing its Roles do not grant
        refusals = [line for line in op.log().splitlines() if "orbidden" in line]
        assert not refusals, refusals
        assert unlisted.status() == {} and not unlisted.jobs()
    finally:
        op.stop()
    # and whatever it would do there, as itself: refused by RBAC
    for verb, *what in [
        ("create", "job", "probe", "--image=releaseguard:dev"),
        ("create", "configmap", "script", "--from-literal=a=b"),
    ]:
        result = as_user(real, SA_USER, verb, "-n", UNLISTED, *what)
        assert result.returncode != 0 and f'User "{SA_USER}" cannot create resource' in result.stderr, result.stderr
    for namespace in (UNLISTED, "kube-system", "default"):
        for verb, resource in [
            ("create", "jobs"),
            ("patch", "deployments"),
            ("get", "pods/log"),
            ("create", "configmaps"),
        ]:
            result = as_user(real, SA_USER, "auth", "can-i", verb, resource, "-n", namespace)
            assert result.stdout.strip() == "no", (namespace, verb, resource, result.stdout)
    # in the listed namespace: exactly create for ConfigMaps
    answers = {
        verb: as_user(real, SA_USER, "auth", "can-i", verb, "configmaps", "-n", LISTED).stdout.strip()
        for verb in ("create", "patch", "update", "get", "delete")
    }
    assert answers == {"create": "yes", "patch": "no", "update": "no", "get": "no", "delete": "no"}


def test_an_operator_given_a_namespace_it_may_not_read_says_so_and_exits(real: RealCluster, least: Path) -> None:
    """kopf would wait for that namespace's first listing forever and verify nothing anywhere."""
    env = dict(os.environ, KUBECONFIG=str(least))
    argv = [RELEASEGUARD, "run", "--namespace", LISTED, "--namespace", UNLISTED, "--metrics-port", "0"]
    argv += ["--metrics-address", "127.0.0.1", "--health-port", "0"]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert f"--namespace {UNLISTED}: the operator may not list ReleaseVerifications there" in proc.stderr
    assert f"missing permission: list releaseverifications.releaseguard.io in namespace {UNLISTED}" in proc.stderr
    assert LISTED not in proc.stderr.replace(f"--namespace {UNLISTED}", "")  # the listed one is fine


# --- the probe pods' egress NetworkPolicy ----------------------------------------------------------


def test_the_probe_network_policy_is_accepted_by_the_api_server(real: RealCluster, least: Path) -> None:
    """Not enforced here (no CNI on this control plane): the API server validates it, that is all."""
    policies = [
        d for d in render({**NAMESPACED, "probeNetworkPolicy": {"enabled": True}}) if d["kind"] == "NetworkPolicy"
    ]
    assert [p["metadata"]["namespace"] for p in policies] == [LISTED]
    result = real.kubectl("apply", "--dry-run=server", "-o", "json", "-f", "-", input=yaml.safe_dump_all(policies))
    (accepted,) = json_documents(result.stdout)
    assert accepted["spec"]["egress"] == policies[0]["spec"]["egress"]
    assert accepted["spec"]["podSelector"] == policies[0]["spec"]["podSelector"]
