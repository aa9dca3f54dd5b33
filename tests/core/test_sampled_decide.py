"""Issue 15's decision paths (core.sampled through core.decide): a sampled http check with a
baseline, judged against the samples of the last verified revision's record."""

from __future__ import annotations

import random
from typing import Any

from releaseguard.api import parse_release_verification
from releaseguard.api.status import status_from_wire
from releaseguard.core.baseline import SampleOutcome, Samples
from releaseguard.core.decide import Observed, Plan, decide
from releaseguard.core.record import record_status
from releaseguard.core.sampled import (
    baselines_from_records,
    report_from_log,
    samples_by_check,
    samples_from_record,
    samples_record,
    target_digest,
)
from support.driver import SETTINGS, Driver
from support.factories import DEP_UID, NOW, deployment, report, rv_body

Obj = dict[str, Any]
URL = "http://shop.default.svc:8080/api/orders"


def sampled(url: str = URL, critical: bool = True, **baseline: Any) -> Obj:
    return {
        "name": "orders",
        "critical": critical,
        "http": {"url": url, "samples": {"count": 30, "intervalSeconds": 3}, "baseline": baseline},
    }


def samples(mean_ms: float, errors: int = 0, count: int = 30, seed: int = 1) -> Samples:
    rng = random.Random(seed)
    outcomes = [SampleOutcome.ERROR if i < errors else SampleOutcome.OK for i in range(count)]
    return Samples.of((round(mean_ms + rng.uniform(0, 4), 1), o) for o in outcomes)


def record(
    revision: int,
    got: Samples,
    *,
    verdict: str = "Passed",
    result: str = "Passed",
    url: str = URL,
    uid: str = DEP_UID,
    name: str | None = None,
) -> Obj:
    check = parse_release_verification(rv_body(checks=[sampled(url)])).spec.checks[0]
    return {
        "metadata": {"name": name or f"shop-r{revision}", "creationTimestamp": f"2026-11-24T20:0{revision}:00Z"},
        "spec": {"revision": revision, "targetUID": uid},
        "status": {
            "verdict": verdict,
            "finishTime": f"2026-11-24T20:0{revision}:30Z",
            "checks": [{"name": "orders", "result": result, "samples": samples_record(got, check).to_wire()}],
        },
    }


def verified_first(checks: list[Obj]) -> Driver:
    """Revision 1 verified (its check Inconclusive: no samples read, no baseline)."""
    driver = Driver(rv_body(checks=checks))
    plan = driver.verify(deployment(1), report([("orders", "Passed", True)]))
    assert plan.status.last_good_revision == 1
    return driver


def finish_revision(driver: Driver, revision: int, current: Samples | None, records: list[Obj]) -> Plan:
    dep = deployment(revision)
    driver.step(dep)
    driver.finish_all(report([("orders", "Passed", True)]))
    observed = Observed(
        driver.body,
        dep,
        dict(driver.jobs),
        dict(driver.messages),
        NOW,
        samples={"orders": current} if current is not None else {},
        records=records,
    )
    plan = decide(observed, SETTINGS)
    driver.body["status"] = plan.status.to_wire()
    return plan


def orders(plan: Plan) -> Any:
    assert plan.status.last_run is not None
    return next(c for c in plan.status.last_run.checks if c.name == "orders")


def test_no_baseline_is_inconclusive_and_never_rolls_back() -> None:
    driver = Driver(rv_body(checks=[sampled()]))
    plan = finish_revision(driver, 1, samples(20), [])
    check = orders(plan)
    assert check.result == "Inconclusive"
    assert "no baseline" in check.message
    assert check.baseline is not None and check.baseline.reason == "NoBaseline"
    assert plan.status.last_run is not None and plan.status.last_run.verdict == "Passed"
    assert plan.rollback is None


def test_a_slower_release_fails_the_check_and_rolls_back_to_the_baseline_revision() -> None:
    driver = verified_first([sampled()])
    plan = finish_revision(driver, 2, samples(32, seed=2), [record(1, samples(20))])
    check = orders(plan)
    assert check.result == "Failed"
    assert check.message.startswith("p95 ") and "in revision 1 (+" in check.message
    assert check.message.endswith("30 vs 30 samples)")
    assert check.baseline is not None and check.baseline.reason == "LatencyRegressed"
    assert check.baseline.baseline_revision == 1
    assert plan.rollback is not None and plan.rollback.to_revision == 1
    assert plan.status.last_run is not None and plan.status.last_run.reason == "CriticalChecksFailed"


def test_an_equally_fast_release_passes_with_the_comparison_in_its_message() -> None:
    driver = verified_first([sampled()])
    plan = finish_revision(driver, 2, samples(20, seed=3), [record(1, samples(20))])
    check = orders(plan)
    assert check.result == "Passed"
    assert "baseline: p95 " in check.message
    assert check.baseline is not None and check.baseline.verdict == "Passed"
    assert plan.rollback is None


def test_an_error_rate_risen_from_zero_fails() -> None:
    driver = verified_first([sampled()])
    plan = finish_revision(driver, 2, samples(20, errors=9), [record(1, samples(20))])
    check = orders(plan)
    assert check.result == "Failed" and check.message.startswith("error rate 30.0% vs 0.0% in revision 1")
    assert check.baseline is not None and check.baseline.reason == "ErrorRateRegressed"
    assert plan.rollback is not None


def test_a_non_critical_regression_fails_the_check_but_does_not_roll_back() -> None:
    driver = verified_first([sampled(critical=False)])
    plan = finish_revision(driver, 2, samples(32, seed=2), [record(1, samples(20))])
    assert orders(plan).result == "Failed"
    assert plan.rollback is None
    assert plan.status.last_run is not None and plan.status.last_run.verdict == "Passed"


def test_missing_samples_are_inconclusive_and_never_roll_back() -> None:
    driver = verified_first([sampled()])
    plan = finish_revision(driver, 2, None, [record(1, samples(20))])
    check = orders(plan)
    assert check.result == "Inconclusive" and "could not be read" in check.message
    assert plan.rollback is None


def test_too_few_samples_are_inconclusive() -> None:
    driver = verified_first([sampled(minSamples=20)])
    plan = finish_revision(driver, 2, samples(40, count=10), [record(1, samples(20))])
    check = orders(plan)
    assert check.result == "Inconclusive" and check.message.startswith("too few samples")
    assert plan.rollback is None


def test_a_first_request_that_failed_stays_failed_with_its_comparison_recorded() -> None:
    driver = verified_first([sampled()])
    dep = deployment(2)
    driver.step(dep)
    driver.finish_all(report([("orders", "Failed", True)]))
    observed = Observed(
        driver.body,
        dep,
        dict(driver.jobs),
        dict(driver.messages),
        NOW,
        samples={"orders": samples(20)},
        records=[record(1, samples(20))],
    )
    check = orders(decide(observed, SETTINGS))
    assert check.result == "Failed" and check.message == "orders failed"
    assert check.baseline is not None and check.baseline.verdict == "Passed"


def test_the_baseline_is_the_newest_passed_run_of_the_same_target_and_url() -> None:
    checks = parse_release_verification(rv_body(checks=[sampled()])).spec.checks
    records = [
        record(1, samples(10)),
        record(2, samples(20)),
        record(3, samples(30), verdict="Failed", result="Failed"),  # a failed run is no baseline
        record(4, samples(40), url="http://shop.default.svc:8080/api/other"),  # retargeted
        record(5, samples(50), uid="another-deployment"),  # a Deployment replaced under the same name
        record(6, samples(60), name="current"),  # the run being decided
    ]
    chosen = baselines_from_records(checks, records, current="current", target_uid=DEP_UID)
    assert chosen["orders"].revision == 2
    assert chosen["orders"].samples == samples_from_record(records[1]["status"]["checks"][0]["samples"])
    inconclusive = record(7, samples(70), result="Inconclusive")  # a first run's: it is the baseline
    assert (
        baselines_from_records(checks, [*records, inconclusive], current=None, target_uid=DEP_UID)["orders"].revision
        == 7
    )


def test_a_record_with_broken_samples_is_inconclusive_not_an_exception() -> None:
    broken = record(1, samples(20))
    broken["status"]["checks"][0]["samples"]["latenciesMs"][3] = "fast"
    broken["status"]["checks"][0]["samples"]["outcomes"] = "o" * 29 + "x"
    driver = verified_first([sampled()])
    check = orders(finish_revision(driver, 2, samples(20), [broken]))
    assert check.result == "Inconclusive"
    assert check.baseline is not None and check.baseline.reason == "InvalidSamples"


def test_the_record_keeps_the_samples_and_the_comparison() -> None:
    driver = verified_first([sampled()])
    current = samples(32, seed=2)
    plan = finish_revision(driver, 2, current, [record(1, samples(20))])
    checks = parse_release_verification(driver.body).spec.checks
    recorded = record_status(status_from_wire(plan.status.to_wire()), checks, {}, {"orders": current})
    assert recorded is not None
    wire = recorded.to_wire()["checks"][0]
    assert wire["samples"] == {
        "target": target_digest(checks[0]),
        "count": 30,
        "latenciesMs": list(current.latencies_ms),
        "outcomes": "o" * 30,
    }
    assert wire["baseline"]["verdict"] == "Failed" and wire["baseline"]["latency"]["currentSamples"] == 30


def test_the_full_report_is_found_in_a_log_with_other_lines() -> None:
    full = (
        '{"apiVersion": "releaseguard.io/v1alpha1", "kind": "ProbeReport", "verdict": "Passed", "checks": '
        '[{"name": "orders", "result": "Passed", "samples": {"latenciesMs": [1.5, 2.0], "outcomes": "oe"}}]}'
    )
    text = "warning: something {not json}\n{broken\n" + full.replace(", ", ",\n  ") + "\ntrailing line\n"
    found = report_from_log(text)
    assert found is not None
    assert samples_by_check(found) == {"orders": Samples((1.5, 2.0), (SampleOutcome.OK, SampleOutcome.ERROR))}
    assert report_from_log("no report here\n") is None
