"""Issue 15 in the reconciler, through the in-memory API: the samples of a sampled http check are
read from the trusted probe pod's log (bounded, once per Job), the rv's VerificationRuns are read
when the run finishes, and the core's comparison lands in the status and the record."""

from __future__ import annotations

import json
from typing import Any

from test_reconcile_order import KEY, World

from releaseguard.api import parse_release_verification
from releaseguard.core.baseline import SampleOutcome, Samples
from releaseguard.core.sampled import samples_record
from releaseguard.operator.reconciler import SAMPLES_LOG_LIMIT
from support.factories import DEP_UID, RV_UID, deployment, replicaset, report, rv_body

Obj = dict[str, Any]
URL = "http://shop.default.svc:8080/api/orders"
CHECK = {
    "name": "orders",
    "http": {"url": URL, "samples": {"count": 30, "intervalSeconds": 3}, "baseline": {}},
}
PASS = report([("orders", "Passed", True)])


def full_report(latencies: list[float], outcomes: str) -> str:
    """The probe's stdout as the pod's log holds it: the indented full report, with its samples."""
    doc = json.loads(PASS)
    doc["checks"][0]["samples"] = {"latenciesMs": latencies, "outcomes": outcomes}
    return "some stderr line\n" + json.dumps(doc, indent=2) + "\n"


def baseline_record(latencies: list[float]) -> Obj:
    check = parse_release_verification(rv_body(checks=[CHECK])).spec.checks[0]
    samples = Samples.of((ms, SampleOutcome.OK) for ms in latencies)
    return {
        "metadata": {
            "name": "shop-r1-old",
            "namespace": "default",
            "creationTimestamp": "2026-11-24T20:00:00Z",
            "ownerReferences": [{"kind": "ReleaseVerification", "uid": RV_UID, "controller": True}],
        },
        "spec": {"revision": 1, "targetUID": DEP_UID},
        "status": {
            "verdict": "Passed",
            "finishTime": "2026-11-24T20:00:10Z",
            "checks": [{"name": "orders", "result": "Passed", "samples": samples_record(samples, check).to_wire()}],
        },
    }


def with_logs(world: World, text: str) -> None:
    for pod in world.kube.pods:
        world.kube.logs[("default", pod["metadata"]["name"])] = text


async def test_samples_from_the_pod_log_and_the_baseline_record_decide_the_check() -> None:
    world = World()
    world.kube.rvs[KEY] = rv_body(checks=[CHECK])
    world.kube.vruns[("default", "shop-r1-old")] = baseline_record([20.0 + i % 4 for i in range(30)])
    world.kube.replicasets = [replicaset(1, "shop:1.0"), replicaset(2, "shop:2.0")]
    world.set_deployment(deployment(revision=2, image="shop:2.0"))
    await world.reconcile()
    world.finish_jobs(PASS)
    with_logs(world, full_report([33.0 + i % 4 for i in range(30)], "o" * 30))
    await world.reconcile()

    assert world.kube.calls.count("pod_log") == 1
    assert "list_vruns" in world.kube.calls
    check = world.status()["lastRun"]["checks"][0]
    assert check["result"] == "Failed"
    assert check["message"].startswith("p95 36 ms vs 23 ms in revision 1 (+57%")
    assert check["baseline"]["reason"] == "LatencyRegressed"
    recorded = next(r for n, r in world.kube.vruns.items() if n[1] != "shop-r1-old")
    kept = recorded["status"]["checks"][0]
    assert kept["samples"]["latenciesMs"][:2] == [33.0, 34.0] and kept["samples"]["outcomes"] == "o" * 30
    assert kept["baseline"]["verdict"] == "Failed"


async def test_an_unreadable_log_makes_the_check_inconclusive_and_is_not_read_again() -> None:
    world = World()
    world.kube.rvs[KEY] = rv_body(checks=[CHECK])
    world.set_deployment(deployment())
    await world.reconcile()
    world.finish_jobs(PASS)  # no log for the pod: the fake answers 404
    await world.reconcile()
    check = world.status()["lastRun"]["checks"][0]
    assert check["result"] == "Inconclusive" and "could not be read" in check["message"]
    assert world.status()["phase"] == "Verified"
    await world.reconcile()
    assert "pod_log" not in world.kube.calls


async def test_an_rv_without_samples_reads_no_log() -> None:
    world = World()
    await world.verify(deployment(), report([("home", "Passed", True)]))
    assert world.status()["phase"] == "Verified"
    assert "pod_log" not in world.kube.calls


async def test_the_log_read_is_bounded() -> None:
    world = World()
    world.kube.rvs[KEY] = rv_body(checks=[CHECK])
    world.set_deployment(deployment())
    await world.reconcile()
    world.finish_jobs(PASS)
    with_logs(world, "x" * SAMPLES_LOG_LIMIT + full_report([20.0] * 30, "o" * 30))  # past the limit
    await world.reconcile()
    check = world.status()["lastRun"]["checks"][0]
    assert check["result"] == "Inconclusive" and "could not be read" in check["message"]
