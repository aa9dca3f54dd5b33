"""The ValidatingAdmissionPolicy shipped with the install, enforced by the real API server: an rv
grants nothing its author could not do. A user who may only write rvs is refused on every route
(checks in the target image, a runner override, a header from a Secret) with a message naming the
field and the missing permission; a user who may also create pods and read the Secret is allowed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from rg_harness import real_only, shipped_policies

from kubesim.real.cluster import RealCluster
from releaseguard.api import parse_release_verification
from releaseguard.api.spec import MAX_JSON_DEPTH
from releaseguard.errors import SpecInvalidError
from support import eventually

pytestmark = pytest.mark.slow
NAMESPACE = "vap"
AUTHOR, ADMIN = "rv-author", "team-admin"


@pytest.fixture(scope="module")
def real(request: pytest.FixtureRequest) -> Iterator[RealCluster]:
    sim = real_only(request, "only the real API server runs ValidatingAdmissionPolicies and has an authorizer")
    sim.kubectl("create", "namespace", NAMESPACE)
    rv_writer = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "rv-writer", "namespace": NAMESPACE},
        "rules": [
            {
                "apiGroups": ["releaseguard.io"],
                "resources": ["releaseverifications"],
                "verbs": ["get", "list", "create", "update", "patch", "delete"],
            }
        ],
    }
    bindings = [
        _binding("rv-author", "Role", "rv-writer", AUTHOR),
        _binding("admin-rv", "Role", "rv-writer", ADMIN),
        _binding("admin-admin", "ClusterRole", "admin", ADMIN),
    ]
    sim.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([rv_writer, *bindings]))
    with shipped_policies(sim):  # removed, and no longer enforced, before the next module
        eventually(lambda: _enforced(sim), 30, "the policy enforced (the API server compiles it in the background)")
        yield sim
    sim.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _enforced(cluster: RealCluster) -> bool:
    obj, _, _ = ROUTES["runner"]
    result = cluster.kubectl(
        "create", "--dry-run=server", f"--as={AUTHOR}", "-f", "-", input=json.dumps(obj), check=False
    )
    return "ValidatingAdmissionPolicy" in result.stderr


def _binding(name: str, kind: str, role: str, user: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }


def rv(name: str, *checks: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """rollback.policy Manual: an Automatic rv also needs patch on the target (tests/e2e/test_trust_policy_real.py)."""
    health = {"name": "health", "http": {"url": "http://shop:8080/healthz"}}
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"targetRef": {"name": "shop"}, "rollback": {"policy": "Manual"}, "checks": [health, *checks], **spec},
    }


SECRET_HEADER = {
    "name": "orders",
    "http": {
        "url": "http://shop:8080/api/orders",
        "headers": [{"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "shop-smoke", "key": "token"}}}],
    },
}
ROUTES = {
    "command": (rv("cmd", {"name": "migrate", "command": {"command": ["true"]}}), "spec.checks", "create pods"),
    "python": (rv("py", {"name": "env", "python": {"imports": ["json"]}}), "spec.checks", "create pods"),
    "pytest": (rv("pt", {"name": "suite", "pytest": {"args": ["-q"]}}), "spec.checks", "create pods"),
    "runner": (rv("runner", runner={"image": "ghcr.io/releaseguard/releaseguard:dev"}), "spec.runner", "create pods"),
    "secret": (rv("secret", SECRET_HEADER), "secretKeyRef", "get secrets"),
}


def create_as(cluster: RealCluster, user: str, obj: dict[str, Any]) -> Any:
    return cluster.kubectl("create", f"--as={user}", "-f", "-", input=json.dumps(obj), check=False)


def type_checked(cluster: RealCluster, name: str) -> dict[str, Any]:
    """The policy's status once the controller has type-checked its current generation."""

    def checked() -> dict[str, Any] | None:
        policy: dict[str, Any] = json.loads(
            cluster.kubectl("get", "validatingadmissionpolicy", name, "-o", "json").stdout
        )
        status = policy.get("status") or {}
        done = "typeChecking" in status and status.get("observedGeneration") == policy["metadata"].get("generation")
        return status if done else None

    return eventually(checked, timeout=60, what=f"the type checking of policy {name}")


@pytest.mark.parametrize("name", ["releaseverifications.releaseguard.io", "outputs.releaseguard.io"])
def test_the_policies_are_accepted_and_type_check_cleanly(real: RealCluster, name: str) -> None:
    status = type_checked(real, name)
    assert status["typeChecking"].get("expressionWarnings") in (None, []), status


def test_the_type_checker_does_warn_of_a_policy_that_reads_a_field_the_crd_lacks(real: RealCluster) -> None:
    # so the clean result above is the checker's verdict, not a checker that never looked
    broken = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "releaseguard-typo.test"},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["releaseguard.io"],
                        "apiVersions": ["v1alpha1"],
                        "operations": ["CREATE"],
                        "resources": ["releaseverifications"],
                    }
                ]
            },
            "validations": [{"expression": "object.spec.targetRef.nmae == 'x'"}],
        },
    }
    real.kubectl("apply", "-f", "-", input=json.dumps(broken))
    try:
        warnings = type_checked(real, "releaseguard-typo.test")["typeChecking"].get("expressionWarnings") or []
        assert any("nmae" in w.get("warning", "") for w in warnings), warnings
    finally:
        real.kubectl("delete", "validatingadmissionpolicy", "releaseguard-typo.test", check=False)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_user_with_only_rv_rights_is_refused(real: RealCluster, route: str) -> None:
    obj, field, permission = ROUTES[route]
    result = create_as(real, AUTHOR, obj)
    assert result.returncode != 0, result.stdout
    assert "ValidatingAdmissionPolicy 'releaseverifications.releaseguard.io'" in result.stderr, result.stderr
    assert field in result.stderr and f"missing permission: {permission}" in result.stderr, result.stderr
    assert AUTHOR in result.stderr


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_user_who_may_do_it_themselves_is_allowed(real: RealCluster, route: str) -> None:
    obj, _, _ = ROUTES[route]
    allowed = json.loads(json.dumps(obj))
    allowed["metadata"]["name"] += "-admin"
    result = create_as(real, ADMIN, allowed)
    assert result.returncode == 0, result.stderr


def test_plain_network_checks_need_no_more_than_rv_rights(real: RealCluster) -> None:
    result = create_as(real, AUTHOR, rv("plain"))
    assert result.returncode == 0, result.stderr


def json_of_depth(depth: int, kind: str) -> Any:
    """A value `depth` levels deep as the models count them (the value itself is level 1)."""
    value: Any = {} if kind == "jsonSchema" else "x"
    for _ in range(depth - 1):
        value = {"not": value} if kind == "jsonSchema" else [value]
    return value


def deep_check(depth: int, kind: str) -> dict[str, Any]:
    http: dict[str, Any] = {"url": "http://shop:8080/api/orders"}
    if kind == "jsonSchema":
        http["jsonSchema"] = json_of_depth(depth, kind)
    else:
        http["json"] = [{"path": "$.items", kind: json_of_depth(depth, kind)}]
    return {"name": "orders", "http": http}


@pytest.mark.parametrize("kind", ["equals", "oneOf", "jsonSchema"])
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 900])
def test_the_policy_and_the_models_take_json_exactly_as_deep(real: RealCluster, kind: str, depth: int) -> None:
    """The API server refuses what the operator would refuse, and only that: the server alone
    stores JSON up to 10,000 levels deep, which one rv could use to stall everyone's watch."""
    obj = rv(f"deep-{kind.lower()}-{depth}", deep_check(depth, kind))
    try:
        parse_release_verification(obj)
        model_refuses = False
    except SpecInvalidError as exc:
        model_refuses = True
        assert "deeper than 32 levels" in str(exc), str(exc)
    result = create_as(real, ADMIN, obj)
    assert model_refuses == (depth > MAX_JSON_DEPTH)
    if model_refuses:
        assert result.returncode != 0, result.stdout
        assert "is invalid" in result.stderr and "nested deeper than 32 levels" in result.stderr, result.stderr
        assert "the JSON of checks orders" in result.stderr, result.stderr
    else:
        assert result.returncode == 0, result.stderr
