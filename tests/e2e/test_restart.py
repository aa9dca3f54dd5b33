"""Restarts and modes of the operator process: SIGKILL mid-verification loses and repeats nothing;
--dry-run never patches a Deployment. Each test runs its own `releaseguard run`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import helm_python as helm
import pytest
import yaml
from rg_harness import (
    ROOT,
    Backend,
    Cluster,
    Operator,
    operator_kubeconfig,
    orders_check,
    release_verification,
    shop_deployment,
    shop_service,
)

from support import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def own_operator(sim: Backend, tmp_path: Path) -> Iterator[Operator]:
    op = Operator(sim, tmp_path)
    yield op
    op.stop()


def test_sigkill_during_a_verification_repeats_nothing(cluster: Cluster, own_operator: Operator) -> None:
    op = own_operator.start()
    slow = orders_check(cluster.ns, timeoutSeconds=20)
    cluster.apply(shop_service(), shop_deployment("shop:1.1-slow"), release_verification(cluster.ns, [slow]))
    eventually(lambda: cluster.status().get("phase") == "Verifying", 30, "the verification to start")
    jobs = cluster.status()["lastRun"]["jobs"]
    op.kill()
    eventually(lambda: all(j.get("status", {}).get("succeeded") for j in cluster.jobs()), 30, "the Job to finish")
    op.start()
    status = cluster.wait_phase("Verified", revision=1)
    assert status["lastRun"]["jobs"] == jobs
    assert [j["metadata"]["name"] for j in cluster.jobs()] == jobs
    assert len(status["history"]) == 1
    reasons = cluster.event_reasons("ReleaseVerification", "shop")
    assert reasons.count("VerificationStarted") == 1
    assert reasons.count("VerificationSucceeded") == 1


def test_sigkill_around_a_failure_rolls_back_once(cluster: Cluster, own_operator: Operator) -> None:
    op = own_operator.start()
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns))
    cluster.wait_phase("Verified", revision=1)
    cluster.apply(shop_deployment("shop:1.1-error500"))
    eventually(lambda: cluster.status().get("currentRevision") == 2, 30, "revision 2 picked up")
    op.kill()
    op.start()
    status = cluster.wait_phase("Verified", revision=3, timeout=60)
    op.kill()
    op.start()
    time.sleep(2)  # give a restarted operator the chance to do something twice; it must not
    assert cluster.deployment_revision() == 3
    assert cluster.image() == "shop:1.0"
    assert cluster.event_reasons("Deployment", "shop").count("RolledBack") == 1
    assert [h["revision"] for h in cluster.status()["history"]] == [3, 2, 1]
    assert status["lastRollback"]["fromRevision"] == 2


def test_dry_run_decides_but_never_patches(cluster: Cluster, sim: Backend, tmp_path: Path) -> None:
    op = Operator(sim, tmp_path, "--dry-run").start()
    try:
        cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns))
        cluster.wait_phase("Verified", revision=1)
        cluster.apply(shop_deployment("shop:1.1-error500"))
        status = cluster.wait_phase("Failed", revision=2)
        assert cluster.condition("RolledBack")["reason"] == "DryRun"
        assert status["lastRollback"] == {**status["lastRollback"], "applied": False, "toRevision": 1}
        assert cluster.image() == "shop:1.1-error500"
        assert "dry run" in op.log()
    finally:
        op.stop()


def test_two_peered_replicas_one_acts_and_the_other_takes_over(
    cluster: Cluster, sim: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kopf's peering CRDs and the ClusterKopfPeering, as the chart installs them for two replicas
    rendered = helm.Chart.load(ROOT / "charts" / "releaseguard").render({"replicaCount": 2}, name="releaseguard")
    peering = [d for d in yaml.safe_load_all(rendered["releaseguard/templates/peering.yaml"]) if d]
    crds = tmp_path / "peering-crds.yaml"
    crds.write_text(yaml.safe_dump_all([d for d in peering if d["kind"] == "CustomResourceDefinition"]))
    objects = tmp_path / "peering.yaml"
    objects.write_text(yaml.safe_dump_all([d for d in peering if d["kind"] != "CustomResourceDefinition"]))
    sim.kubectl("apply", "-f", str(crds))
    eventually(lambda: sim.kubectl("apply", "-f", str(objects), check=False).returncode == 0)
    monkeypatch.setenv("RELEASEGUARD_PEERING_LIFETIME", "3")
    # the operator's ServiceAccount with the rights the chart grants two replicas (kopf's peering too)
    kubeconfig = operator_kubeconfig(sim, tmp_path)
    role = next(
        d
        for d in yaml.safe_load_all(rendered["releaseguard/templates/rbac.yaml"])
        if d and d["kind"] == "ClusterRole" and any("clusterkopfpeerings" in r["resources"] for r in d["rules"])
    )
    sim.kubectl("apply", "-f", "-", input=yaml.safe_dump(role))
    active = Operator(sim, tmp_path / "a", "--peering", "releaseguard", "--priority", "20", kubeconfig=kubeconfig)
    standby = Operator(sim, tmp_path / "b", "--peering", "releaseguard", "--priority", "10", kubeconfig=kubeconfig)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    try:
        active.start()
        standby.start()

        def peers() -> int:
            proc = sim.kubectl("get", "clusterkopfpeering", "releaseguard", "-o", "json")
            return len(json.loads(proc.stdout).get("status") or {})

        eventually(lambda: peers() == 2, 20, "both replicas in the peering")
        cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns))
        cluster.wait_phase("Verified", revision=1)
        assert f"{cluster.ns}/shop: revision 1" in active.log()
        assert f"{cluster.ns}/shop" not in standby.log()
        assert cluster.event_reasons("ReleaseVerification", "shop").count("VerificationStarted") == 1
        active.kill()
        cluster.kubectl("set", "env", "deployment/shop", "GREETING=hi")
        cluster.wait_phase("Verified", revision=2, timeout=60)
        assert f"{cluster.ns}/shop: revision 2" in standby.log()
    finally:
        active.stop()
        standby.stop()


def test_without_a_namespace_flag_every_namespace_is_watched_and_logged(sim: Backend, tmp_path: Path) -> None:
    op = Operator(sim, tmp_path, scope=()).start()
    try:
        eventually(lambda: "watching all namespaces" in op.log(), 10, "the start-up line naming the namespaces")
        # a namespace that is neither `default` nor the kubeconfig context's
        namespace = f"elsewhere-{int(time.time() * 1000) % 100000}"
        sim.kubectl("create", "namespace", namespace)
        cluster = Cluster(sim, namespace)
        cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(namespace))
        cluster.wait_phase("Verified", revision=1)
    finally:
        op.stop()
