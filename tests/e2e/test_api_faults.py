"""Known outcomes under a flaky API server, for the operator's requests only: 500s, 429s with
Retry-After and 409s on a share of requests, added latency, watch streams cut every 3 s, and the
history compacted every 4 s so that a resumed watch gets 410. On kubesim its fault switch injects
them; on the real control plane the real mechanisms do (Toxiproxy in front of kube-apiserver, API
Priority and Fairness, a failing admission webhook, concurrent writers, etcd compaction: see
fault_backends). Zero wrong verdicts, zero missed or duplicate rollbacks, every rv final, every
Event present, and the faults seen to reach the operator (each class, on the real control plane)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from crash_fleet import Fleet, Watcher
from fault_backends import FaultyBackend, faulty_backend
from rg_harness import IMAGES, Cluster, Operator

from kubesim import backends
from support import eventually

pytestmark = pytest.mark.slow

APPS = 6


@pytest.fixture(params=backends.selected())
def faulty(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultyBackend]:
    yield from faulty_backend(request.param, tmp_path_factory.mktemp(f"faults-{request.param}"), IMAGES)


def catch_up(cluster: Cluster, fleet: Fleet, healthy: set[str], round_: int) -> None:
    """Give the apps that were not rolled back a revision too, so every app is at the same one."""
    for name in sorted(healthy):
        cluster.kubectl("set", "env", f"deployment/{name}", f"CATCH_UP={round_}")
    fleet.revision += 1
    fleet.regressed = set()
    eventually(lambda: not fleet.unsettled(), 90, f"every app at revision {fleet.revision}", interval=0.5)


def test_flaky_api_server_changes_no_outcome_and_loses_no_event(faulty: FaultyBackend, tmp_path: Path) -> None:
    sim = faulty.backend
    sim.kubectl("create", "namespace", "faults")
    cluster = Cluster(sim, "faults")
    own_operator = Operator(sim, tmp_path, kubeconfig=faulty.operator_kubeconfig(tmp_path))
    fleet = Fleet(cluster, APPS)
    try:
        own_operator.start()
        fleet.create()
        eventually(lambda: not fleet.unsettled(), 90, "every app verified at revision 1", interval=0.5)
        seconds: dict[str, float] = {}
        watcher = Watcher(fleet)
        watcher.start()
        try:
            started = time.monotonic()
            fleet.roll({"app1", "app3"}, 2)
            eventually(lambda: not fleet.unsettled(), 120, "round 2 without faults", interval=0.5)
            seconds["round 2, no faults"] = round(time.monotonic() - started, 1)
            catch_up(cluster, fleet, {"app0", "app2", "app4", "app5"}, 2)

            faulty.on(cluster, fleet.names)
            for round_, regressed in ((3, {"app0", "app2", "app4"}), (4, {"app1", "app5"})):
                started = time.monotonic()
                fleet.roll(regressed, round_)
                eventually(lambda: not fleet.unsettled(), 180, f"round {round_} under faults", interval=0.5)
                seconds[f"round {round_}, faults"] = round(time.monotonic() - started, 1)
                if round_ == 3:
                    catch_up(cluster, fleet, {"app1", "app3", "app5"}, round_)
        finally:
            faulty.off()
            seen = watcher.stop()
        counts = faulty.seen()
        print(f"[{faulty.name}] time to clear a round: {seconds}; faults the operator met: {counts}")
        assert not seen, seen[:10]
        # every Event the decisions meant: one per verdict and rollback, on the rv and on the Deployment.
        # The last verdict's may still be on their way: one refused with a 429 is posted again after
        # its Retry-After, in the background (faults are off now, so that attempt lands).
        rvs = fleet.rvs()

        def events_as_meant() -> bool:
            for name in fleet.names:
                history = rvs[name]["history"]
                want = {
                    "VerificationSucceeded": sum(h["verdict"] == "Passed" for h in history),
                    "VerificationFailed": sum(h["verdict"] == "Failed" for h in history),
                    "RolledBack": sum(bool(h.get("rolledBackTo")) for h in history),
                }
                for kind in ("ReleaseVerification", "Deployment"):
                    reasons = cluster.event_reasons(kind, name)
                    got = {reason: reasons.count(reason) for reason in want}
                    assert got == want, (name, kind, got, want, history)
            return True

        eventually(events_as_meant, 60, "every Event the decisions meant", interval=1)
        rolled_back = {n: sum(bool(h.get("rolledBackTo")) for h in rvs[n]["history"]) for n in fleet.names}
        assert rolled_back == {"app0": 1, "app1": 2, "app2": 1, "app3": 1, "app4": 1, "app5": 1}, rolled_back
        # the faults did reach the operator (on the real control plane, each class at least once)
        assert all(counts[k] >= 1 for k in faulty.must_see), (faulty.must_see, counts)
    finally:
        own_operator.stop()
