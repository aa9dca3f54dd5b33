"""The chart's RBAC is what the operator needs, proven by the real authorizer: with one rule taken
away the story fails with the API server's own 403 naming the verb and the resource."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rg_harness import (
    DEPLOY,
    Cluster,
    Operator,
    fresh_namespace,
    real_only,
    release_verification,
    shop_deployment,
    shop_service,
)

from kubesim.real.cluster import RealCluster
from support import eventually

pytestmark = pytest.mark.slow


def chart_rules() -> list[dict[str, Any]]:
    role = next(
        d
        for d in yaml.safe_load_all(DEPLOY.read_text())
        if d and d["kind"] == "ClusterRole" and d["metadata"]["name"] == "releaseguard"
    )
    return list(role["rules"])


def limited_operator(sim: RealCluster, workdir: Path, rules: list[dict[str, Any]]) -> Path:
    """A ServiceAccount bound to a ClusterRole with `rules`, and a kubeconfig acting as it."""
    name = "releaseguard-limited"
    objects = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "releaseguard"}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "releaseguard"}],
        },
    ]
    sim.kubectl("create", "namespace", "releaseguard", check=False)
    sim.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))
    return sim.service_account_kubeconfig("releaseguard", name, workdir / "limited.kubeconfig")


@pytest.fixture(scope="module")
def real(request: pytest.FixtureRequest) -> RealCluster:
    return real_only(request, "only the real API server authorizes requests (kubesim stores RBAC, enforces none)")


@pytest.fixture
def cluster(real: RealCluster, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    with fresh_namespace(real, request) as made:
        yield made


def without_verb(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> list[dict[str, Any]]:
    out = copy.deepcopy(rules)
    for rule in out:
        if group in rule["apiGroups"] and resource in rule["resources"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != verb]
    assert out != rules, f"the chart grants no {verb} on {resource}.{group}"
    return out


def test_without_job_create_the_story_fails_with_the_real_403(
    real: RealCluster, cluster: Cluster, tmp_path: Path
) -> None:
    rules = without_verb(chart_rules(), "batch", "jobs", "create")
    op = Operator(real, tmp_path, kubeconfig=limited_operator(real, tmp_path, rules)).start()
    try:
        cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns))
        forbidden = 'cannot create resource "jobs" in API group "batch"'
        eventually(lambda: forbidden in op.log(), 60, "the operator to log the API server's 403")
        assert "system:serviceaccount:releaseguard:releaseguard-limited" in op.log()
        assert cluster.status().get("phase") != "Verified"
    finally:
        op.stop()


def test_with_the_charts_rules_the_same_account_verifies(real: RealCluster, cluster: Cluster, tmp_path: Path) -> None:
    op = Operator(real, tmp_path, kubeconfig=limited_operator(real, tmp_path, chart_rules())).start()
    try:
        cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns))
        cluster.wait_phase("Verified", revision=1)
        assert "Forbidden" not in op.log() and " 403" not in op.log()
    finally:
        op.stop()
