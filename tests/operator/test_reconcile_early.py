"""The reconciler carries out an early failure in order: the status (with the rollback and the
pause recorded), then the pause patch, then the rollback patch that resumes the Deployment; and
it reads the new revision's ready pods only for an rv whose checks name a pod."""

from __future__ import annotations

import copy
from typing import Any

from fake_kube import FakeKube
from test_reconcile_order import PASS, World

from releaseguard.core.decide import Settings
from releaseguard.operator.metrics import Metrics
from releaseguard.operator.reconciler import Reconciler
from support.factories import deployment, replicaset, report, rv_body

Obj = dict[str, Any]
KEY = ("default", "shop")
POD_CHECK = {"name": "home", "http": {"url": "http://{{ .PodIP }}:8080/"}}


def new_pod(rs: Obj, name: str) -> Obj:
    labels = copy.deepcopy(rs["spec"]["template"]["metadata"]["labels"])
    return {
        "metadata": {
            "name": name,
            "labels": labels,
            "ownerReferences": [{"kind": "ReplicaSet", "uid": rs["metadata"]["uid"], "controller": True}],
        },
        "status": {"podIP": "10.0.0.7", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def with_uid(rs: Obj, uid: str) -> Obj:
    rs["metadata"]["uid"] = uid
    rs["spec"]["selector"] = {"matchLabels": copy.deepcopy(rs["spec"]["template"]["metadata"]["labels"])}
    return rs


async def test_an_early_failure_is_recorded_then_paused_then_rolled_back_and_resumed() -> None:
    world = World()
    world.kube = FakeKube()
    world.reconciler = Reconciler(world.kube, Metrics(), Settings(runner_image="runner:test"))
    world.kube.rvs[KEY] = rv_body(checks=[POD_CHECK], extra_spec={"early": {"enabled": True}})
    rs1, rs2 = with_uid(replicaset(1, "shop:1.0"), "rs1"), with_uid(replicaset(2, "shop:2.0"), "rs2")
    world.kube.replicasets = [rs1]
    world.kube.pods = [new_pod(rs1, "shop-hash1-a")]
    world.set_deployment(deployment())
    await world.reconcile()
    world.finish_jobs(PASS)
    await world.reconcile()
    assert world.status()["phase"] == "Verified"

    world.kube.replicasets = [rs1, rs2]
    world.kube.pods = [new_pod(rs2, "shop-hash2-a")]
    world.set_deployment(deployment(revision=2, image="shop:2.0", complete=False, replicas=10))
    await world.reconcile()
    assert "pods_of" in world.kube.calls
    assert world.status()["lastRun"]["early"]["pods"] == [{"name": "shop-hash2-a", "ip": "10.0.0.7"}]
    world.finish_jobs(report([("home", "Failed", True)]))
    world.kube.pods += [new_pod(rs2, "shop-hash2-a")]
    await world.reconcile()
    calls = world.kube.calls
    status_at = calls.index("patch_rv_status")
    patches = [i for i, c in enumerate(calls) if c == "json_patch_deployment"]
    assert len(patches) == 2 and status_at < patches[0]  # recorded first, then pause, then rollback
    dep = world.kube.deployments[KEY]
    assert dep["spec"]["paused"] is False and dep["spec"]["template"]["spec"]["containers"][0]["image"] == "shop:1.0"
    status = world.status()
    assert status["lastRun"]["reason"] == "EarlyChecksFailed" and status["lastRollback"]["paused"] is True
    assert {"PausedForRollback", "RolledBack"} <= set(world.reasons())


async def test_pods_are_not_read_for_checks_that_name_no_pod() -> None:
    world = World()
    await world.verify(deployment(), PASS)
    assert "pods_of" not in world.kube.calls
