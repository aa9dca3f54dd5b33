"""Issue 15 end to end: a sampled http check compared with the last verified revision's samples,
with the sample app's latency and error knobs (SHOP_LATENCY_MS, SHOP_ERROR_PERCENT) on both
backends. A release 60% slower but under maxLatencyMs is caught and rolled back; one whose error
rate rose from 0% is caught; equally fast releases are kept; a first run has no baseline and is
Inconclusive, never rolled back.

`RG_BASELINE_HEALTHY_RUNS` (default 5) sets how many equally fast releases the no-false-rollback
test makes; `make bench` (bench/bench_baseline.py) runs 30 and reports the count.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from rg_harness import Cluster, Operator, release_verification, shop_deployment, shop_service

from support import eventually

pytestmark = pytest.mark.slow
Obj = dict[str, Any]

BASE_MS = (
    100  # the healthy release's /api/orders latency (plus 0..JITTER_MS): large beside this machine's scheduling noise
)
JITTER_MS = 10
SAMPLES = 50
INTERVAL_SECONDS = 5


def sampled_check(ns: str, **baseline: Any) -> Obj:
    return {
        "name": "orders",
        "critical": True,
        "timeoutSeconds": 3,
        "http": {
            "url": f"http://shop.{ns}.svc:8080/api/orders",
            "expectStatus": [200],
            "maxLatencyMs": 1000,  # the ceiling: every release here is far under it
            "samples": {"count": SAMPLES, "intervalSeconds": INTERVAL_SECONDS},
            "baseline": {"maxSlowdownPercent": 25, "maxErrorRateIncreasePoints": 2, "alpha": 0.01, **baseline},
        },
    }


def shop(build: int, latency_ms: float = BASE_MS, error_percent: float = 0) -> Obj:
    dep = shop_deployment("shop:1.0")
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "SHOP_LATENCY_MS", "value": str(latency_ms)},
        {"name": "SHOP_LATENCY_JITTER_MS", "value": str(JITTER_MS)},
        {"name": "SHOP_ERROR_PERCENT", "value": str(error_percent)},
        {"name": "SHOP_BUILD", "value": str(build)},  # a new revision, the same speed
    ]
    return dep


def orders_status(cluster: Cluster) -> Obj:
    checks = ((cluster.status().get("lastRun") or {}).get("checks")) or []
    found: list[Obj] = [c for c in checks if c["name"] == "orders"]
    return found[0] if found else {}


def record_of(cluster: Cluster, revision: int) -> Obj:
    def check() -> Obj | None:
        out = cluster.kubectl("get", "vrun", "-l", "releaseguard.io/rv=shop", "-o", "json").stdout
        for item in json.loads(out)["items"]:
            if item["spec"]["revision"] == revision and (item.get("status") or {}).get("verdict"):
                return dict(item)
        return None

    return eventually(check, 60, f"the finished VerificationRun of revision {revision}")


def rolled_back_from(cluster: Cluster, revision: int) -> Obj:
    """The status once the rollback of `revision` is recorded (its rolled-back revision may already
    be verified by the time this looks: the phase RolledBack can be too short-lived to see)."""

    def check() -> Obj | None:
        status = cluster.status()
        return status if (status.get("lastRollback") or {}).get("fromRevision") == revision else None

    return eventually(check, 120, f"the rollback of revision {revision}")


def record_check(record: Obj) -> Obj:
    return next(c for c in record["status"]["checks"] if c["name"] == "orders")


def start(cluster: Cluster) -> Obj:
    """The app's first revision verified: no baseline yet, Inconclusive, never rolled back."""
    ns = cluster.ns
    # a sampled check has no retries: give the Service a moment after the rollout (old pod gone)
    rv = release_verification(ns, checks=[sampled_check(ns)], delaySeconds=2)
    cluster.apply(shop_service(), shop(1), rv)
    status = cluster.wait_phase("Verified", revision=1, timeout=90)
    return status


def test_a_first_run_has_no_baseline_and_a_release_60_percent_slower_is_rolled_back(
    cluster: Cluster, operator: Operator
) -> None:
    status = start(cluster)
    first = orders_status(cluster)
    assert first["result"] == "Inconclusive", first
    assert "no baseline" in first["message"], first
    assert first["baseline"]["reason"] == "NoBaseline"
    assert "lastRollback" not in status
    recorded = record_check(record_of(cluster, 1))
    assert recorded["samples"]["count"] == SAMPLES
    assert len(recorded["samples"]["latenciesMs"]) == SAMPLES == len(recorded["samples"]["outcomes"])
    assert set(recorded["samples"]["outcomes"]) == {"o"}
    assert recorded["baseline"]["verdict"] == "Inconclusive"

    cluster.apply(shop(2, latency_ms=BASE_MS * 1.6))  # 60% slower, far under maxLatencyMs 1000
    status = rolled_back_from(cluster, 2)
    assert status["lastRollback"]["toRevision"] == 1 and status["lastRollback"]["applied"] is True
    failed = record_check(record_of(cluster, 2))
    assert failed["result"] == "Failed", failed
    comparison = failed["baseline"]
    assert comparison["verdict"] == "Failed" and comparison["reason"] == "LatencyRegressed", comparison
    assert comparison["baselineRevision"] == 1
    assert comparison["latency"]["changePercent"] > 25
    assert comparison["latency"]["pValue"] < 0.01
    # the message says it plainly: p95 NN ms vs NN ms in revision 1 (+NN%, p..., 30 vs 30 samples)
    assert failed["message"].startswith("p95 ") and "in revision 1 (+" in failed["message"], failed["message"]
    assert f"{SAMPLES} vs {SAMPLES} samples" in failed["message"]
    assert "RolledBack" in cluster.event_reasons("ReleaseVerification", "shop")
    # the rolled-back revision is as fast as revision 1 again, and is kept
    status = cluster.wait_phase("Verified", revision=3, timeout=90)
    assert orders_status(cluster)["result"] == "Passed", orders_status(cluster)


def test_an_error_rate_risen_from_zero_is_caught(cluster: Cluster, operator: Operator) -> None:
    start(cluster)
    cluster.apply(shop(2, error_percent=30))  # the check's own first request still passes
    status = rolled_back_from(cluster, 2)
    assert status["lastRollback"]["toRevision"] == 1
    failed = record_check(record_of(cluster, 2))
    assert failed["baseline"]["reason"] == "ErrorRateRegressed", failed
    assert failed["baseline"]["errorRate"]["baselineErrors"] == 0
    assert failed["baseline"]["errorRate"]["currentErrors"] >= 8
    assert failed["message"].startswith("error rate "), failed["message"]
    assert failed["samples"]["outcomes"].count("e") == failed["baseline"]["errorRate"]["currentErrors"]


def healthy_runs() -> int:
    return int(os.environ.get("RG_BASELINE_HEALTHY_RUNS", "5"))


def verdict_on_next_revision(cluster: Cluster, before: int) -> tuple[int, bool]:
    """The revision after `before` once it has its verdict: whether it was rolled back (the phase
    RolledBack can be too short-lived to see: its rollback's own run may already be verified)."""
    revision = eventually(lambda: r if (r := cluster.deployment_revision()) > before else None, 30, "a new revision")

    def verdict() -> str | None:
        s = cluster.status()
        if (s.get("lastRollback") or {}).get("fromRevision") == revision:
            return "rolled back"
        done = s.get("lastVerifiedRevision") == revision and s.get("phase") in ("Verified", "Failed")
        return "kept" if done else None

    return revision, eventually(verdict, 120, f"the verdict on revision {revision}") == "rolled back"


def healthy_comparisons(cluster: Cluster, runs: int) -> tuple[list[Obj], list[Obj]]:
    """`runs` equally fast releases after a first one: each one's comparison (the orders check's
    `baseline` in its VerificationRun), and the false rollbacks' checks (a release as fast as its
    baseline that was rolled back)."""
    start(cluster)
    revision = 1
    comparisons: list[Obj] = []
    false: list[Obj] = []
    for build in range(2, runs + 2):
        cluster.apply(shop(build))
        revision, rolled_back = verdict_on_next_revision(cluster, revision)
        check = record_check(record_of(cluster, revision))
        comparisons.append({**(check.get("baseline") or {}), "revision": revision, "result": check.get("result")})
        if rolled_back:
            false.append(check)
            revision, _ = verdict_on_next_revision(cluster, revision)  # the rolled-back revision's own run
    return comparisons, false


def test_equally_fast_releases_are_kept(cluster: Cluster, operator: Operator) -> None:
    runs = healthy_runs()
    comparisons, false_rollbacks = healthy_comparisons(cluster, runs)
    assert [c.get("verdict") for c in comparisons] == ["Passed"] * runs, comparisons
    assert not false_rollbacks, false_rollbacks
