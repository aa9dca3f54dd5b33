"""A watch stream that ends in an ERROR event other than 410 (a real API server writes `500
InternalError` when etcd fails it, e.g. "etcd event received with PrevKv=nil" after a compaction
without the watch cache; seen in the full-size fault benchmark on the real control plane) stops
kopf's watching for good. The operator must not become a zombie: its watches start again, and the
releases rolled out meanwhile and afterwards get their verdicts. kubesim injects the event
(Faults.watch_error_rate); the real server cannot be made to send it on demand."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from crash_fleet import Fleet
from fault_backends import OPERATOR_AGENTS
from rg_harness import CRD, IMAGES, RUN_CRD, Cluster, Operator

from kubesim.testing import KubeSim
from support import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[KubeSim]:
    with KubeSim(tmp_path / "sim", images=IMAGES, rollout_delay_seconds=0.2) as sim:
        sim.kubectl("apply", "-f", str(CRD), "-f", str(RUN_CRD))
        yield sim


def test_failed_watch_streams_do_not_stop_verification(sim: KubeSim, tmp_path: Path) -> None:
    sim.kubectl("create", "namespace", "watches")
    cluster = Cluster(sim, "watches")
    operator = Operator(sim, tmp_path)
    fleet = Fleet(cluster, 2)
    try:
        operator.start()
        fleet.create()
        eventually(lambda: not fleet.unsettled(), 90, "every app verified at revision 1", interval=0.5)

        sim.faults.user_agents = OPERATOR_AGENTS
        sim.faults.watch_error_rate = 1.0  # every watch of the operator's ends in ERROR 500
        fleet.roll({"app1"}, 2)
        time.sleep(4)
        sim.faults.watch_error_rate = 0.0
        assert sim.faults.injected.get(500, 0) >= 3, sim.faults.injected

        eventually(lambda: not fleet.unsettled(), 120, "round 2 after the watch failures", interval=0.5)
        fleet.catch_up()
        eventually(lambda: not fleet.behind(), 60, "every app at the same revision", interval=0.5)
        fleet.roll({"app0"}, 3)
        eventually(lambda: not fleet.unsettled(), 120, "round 3", interval=0.5)
        assert operator.proc is not None and operator.proc.poll() is None, operator.log()
        assert "the operator's watching stopped (WatchingError" in operator.log(), operator.log()[-3000:]
        restarts = [
            line for line in operator.metrics().splitlines() if line.startswith("releaseguard_watch_restarts_total")
        ]
        assert restarts and float(restarts[0].split()[-1]) >= 1, restarts
    finally:
        operator.stop()
