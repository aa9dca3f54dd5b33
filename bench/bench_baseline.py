"""Issue 15's figures: false rollbacks of the baseline comparison under this machine's normal noise,
and how often real regressions are caught, with the sample app on kubesim (real pods, real probe
Jobs, `releaseguard run` as a subprocess; tests/e2e/test_baseline_releases.py's helpers).

  healthy     BENCH_BASELINE_RUNS (default 30) releases exactly as fast as the first (a new env var
              each): every comparison's verdict, p95 change and p-value; a false positive is a
              healthy release failed by its comparison (and so rolled back)
  slow        BENCH_BASELINE_REGRESSIONS (default 5) releases 60% slower (100 -> 160 ms, far under
              maxLatencyMs 1000): how many were rolled back by the comparison
  errors      as many releases answering 500 to 30% of /api/orders (0% before): how many were caught
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]

from rg_harness import CRD, IMAGES, RESTRICTED, RUN_CRD, Cluster, Operator  # noqa: E402
from test_baseline import (  # noqa: E402
    BASE_MS,
    healthy_comparisons,
    record_check,
    record_of,
    shop,
    start,
    verdict_on_next_revision,
)

from kubesim.testing import KubeSim  # noqa: E402

Obj = dict[str, Any]


def _namespace(sim: KubeSim, name: str) -> Cluster:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}}
    sim.kubectl("apply", "-f", "-", input=json.dumps(namespace))
    return Cluster(sim, name)


def _regressions(cluster: Cluster, times: int, **knobs: float) -> tuple[int, list[str]]:
    """`times` regressed releases, each followed by the rollback's own run: how many were caught."""
    start(cluster)
    revision, caught, messages = 1, 0, []
    for build in range(2, times + 2):
        cluster.apply(shop(build, **knobs))
        revision, rolled_back = verdict_on_next_revision(cluster, revision)
        messages.append(record_check(record_of(cluster, revision))["message"])
        if rolled_back:
            caught += 1
            revision, _ = verdict_on_next_revision(cluster, revision)  # the rolled-back revision's run
        else:
            cluster.apply(shop(1000 + build))  # a healthy one again, the baseline for the next
            revision, _ = verdict_on_next_revision(cluster, revision)
    return caught, messages


def main() -> None:
    runs = int(os.environ.get("BENCH_BASELINE_RUNS", "30"))
    regressions = int(os.environ.get("BENCH_BASELINE_REGRESSIONS", "5"))
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        work = Path(tmp)
        with KubeSim(work / "kubesim", images=IMAGES, rollout_delay_seconds=0.2) as sim:
            sim.kubectl("apply", "-f", str(CRD), "-f", str(RUN_CRD))
            (work / "operator").mkdir()
            operator = Operator(sim, work / "operator").start()
            try:
                comparisons, false = healthy_comparisons(_namespace(sim, "healthy"), runs)
                changes = [
                    c["latency"]["changePercent"] for c in comparisons if "changePercent" in (c.get("latency") or {})
                ]
                p_values = [c["latency"]["pValue"] for c in comparisons if c.get("latency")]
                verdicts = {
                    v: sum(1 for c in comparisons if c.get("verdict") == v)
                    for v in ("Passed", "Failed", "Inconclusive")
                }
                print(f"healthy: {runs} equally fast releases, comparisons {verdicts}, false rollbacks {len(false)}")
                if changes:
                    print(
                        f"  p95 change vs baseline: median {statistics.median(changes):+.1f}%, "
                        f"min {min(changes):+.1f}%, max {max(changes):+.1f}%; "
                        f"latency p-values < 0.01: {sum(1 for p in p_values if p < 0.01)} of {len(p_values)}"
                    )
                for check in false:
                    print(f"  false positive: {check.get('message')}")
                slow, slow_messages = _regressions(_namespace(sim, "slow"), regressions, latency_ms=BASE_MS * 1.6)
                print(f"slow (+60%, under maxLatencyMs): caught {slow} of {regressions}")
                for text in slow_messages:
                    print(f"  {text}")
                errors, error_messages = _regressions(_namespace(sim, "errors"), regressions, error_percent=30)
                print(f"errors (0% -> 30%): caught {errors} of {regressions}")
                for text in error_messages:
                    print(f"  {text}")
            finally:
                operator.stop()


if __name__ == "__main__":
    main()
