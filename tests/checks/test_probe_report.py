"""The report: the verdict rule, the compact form, parsing and merging (pure)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from releaseguard.api.status import CheckResultKind as R
from releaseguard.api.status import Verdict
from releaseguard.errors import ReportError
from releaseguard.report import (
    AttemptReport,
    CheckReport,
    ProbeReport,
    build_report,
    compact_json,
    merge_reports,
    parse_report,
    verdict_of,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def check(name: str, result: R, critical: bool = True, **kw: object) -> CheckReport:
    return CheckReport.model_validate({"name": name, "type": "http", "critical": critical, "result": result, **kw})


def report(*checks: CheckReport) -> ProbeReport:
    return build_report(list(checks), T0, T0 + timedelta(seconds=2))


@pytest.mark.parametrize(
    ("result", "critical", "flags", "verdict"),
    [
        (R.PASSED, True, {}, Verdict.PASSED),
        (R.FAILED, True, {}, Verdict.FAILED),
        (R.ERROR, True, {}, Verdict.FAILED),
        (R.FAILED, False, {}, Verdict.PASSED),
        (R.INCONCLUSIVE, True, {}, Verdict.PASSED),
        (R.INCONCLUSIVE, True, {"failOnInconclusive": True}, Verdict.FAILED),
        (R.FLAKY, True, {}, Verdict.PASSED),
        (R.FLAKY, True, {"failOnFlaky": True}, Verdict.FAILED),
        (R.FLAKY, False, {"failOnFlaky": True}, Verdict.PASSED),
        (R.SKIPPED, True, {}, Verdict.PASSED),
    ],
)
def test_verdict_rule(result: R, critical: bool, flags: dict[str, bool], verdict: Verdict) -> None:
    got, failed = verdict_of([check("a", R.PASSED), check("b", result, critical, **flags)])
    assert got is verdict
    assert failed == (["b"] if verdict is Verdict.FAILED else [])


def test_no_checks_pass() -> None:
    assert verdict_of([]) == (Verdict.PASSED, [])


def test_report_names_failures_and_counts() -> None:
    r = report(
        check("health", R.PASSED),
        check("orders", R.FAILED, message="GET http://x/api/orders -> 500 (expected 200) after 3 attempts"),
        check("latency", R.FLAKY, critical=False),
        check("errors", R.INCONCLUSIVE),
    )
    assert r.verdict is Verdict.FAILED
    assert r.failed_critical == ["orders"]
    assert (
        r.message == "1 critical check failed: orders: GET http://x/api/orders -> 500 (expected 200) after 3 attempts"
    )
    assert r.summary.model_dump() == {
        "total": 4,
        "passed": 1,
        "failed": 1,
        "flaky": 1,
        "inconclusive": 1,
        "error": 0,
        "skipped": 0,
    }
    assert r.duration_seconds == 2.0
    wire = json.loads(r.to_json())
    assert list(wire)[:5] == ["apiVersion", "kind", "verdict", "failedCritical", "message"]
    assert wire["checks"][1]["durationSeconds"] == 0.0
    assert parse_report(r.to_json()) == r


def test_compact_keeps_a_small_report_whole() -> None:
    r = report(check("a", R.PASSED, attempts=[{"result": "Passed", "durationSeconds": 0.1}]))
    text = compact_json(r)
    assert json.loads(text)["truncated"] is False
    back = parse_report(text)
    assert back.checks == r.checks and back.verdict is r.verdict


def _big(rng: random.Random, checks: int, message: int) -> ProbeReport:
    items = []
    for i in range(checks):
        result = rng.choice(list(R))
        text = "".join(rng.choice('abcdé€ "\\\n{}') for _ in range(rng.randint(0, message)))
        attempts = [AttemptReport(result=result, message=text, observed="HTTP 500") for _ in range(rng.randint(0, 4))]
        name = f"c{i:02d}-" + "x" * rng.randint(0, 58)
        items.append(check(name, result, rng.random() < 0.7, message=text, attempts=attempts))
    return report(*items)


@pytest.mark.parametrize("seed", range(40))
def test_compact_always_fits_and_parses(seed: int) -> None:
    rng = random.Random(seed)
    r = _big(rng, checks=rng.randint(1, 64), message=rng.choice([10, 300, 3000]))
    text = compact_json(r)
    assert len(text.encode("utf-8")) <= 4096
    back = parse_report(text)
    assert back.verdict is r.verdict
    assert back.summary == r.summary
    if len(r.to_json(indent=None)) > 4096:
        assert back.truncated
    # The failures come first and survive as long as anything does.
    kept_failing = [c.name for c in back.checks if c.critical and c.counts_as_failure]
    assert set(kept_failing) <= set(r.failed_critical)
    assert back.checks[: len(kept_failing)] == [c for c in back.checks if c.name in kept_failing]
    if back.checks and any(not (c.critical and c.counts_as_failure) for c in back.checks):
        assert len(kept_failing) == len(r.failed_critical)


def test_compact_drops_attempts_before_passed_checks_before_failure_messages() -> None:
    passed = [check(f"ok-{i}", R.PASSED, message="fine " * 20) for i in range(20)]
    failing = check(
        "orders", R.FAILED, message="GET /api/orders -> 500 (expected 200)", attempts=[{"result": "Failed"}] * 3
    )
    text = compact_json(report(*passed, failing), limit=1500)
    doc = json.loads(text)
    assert doc["truncated"] is True
    assert doc["checks"][0]["name"] == "orders"
    assert doc["checks"][0]["message"] == "GET /api/orders -> 500 (expected 200)"
    assert "attempts" not in doc["checks"][0]
    assert doc["summary"]["passed"] == 20


def test_compact_worst_case_keeps_the_verdict() -> None:
    names = [f"check-{i:02d}-" + "n" * 50 for i in range(64)]
    r = report(*(check(n, R.FAILED, message="€" * 1500) for n in names))
    text = compact_json(r)
    assert len(text.encode()) <= 4096
    back = parse_report(text)
    assert back.verdict is Verdict.FAILED and back.truncated
    assert back.failed_critical == names[: len(back.failed_critical)] and back.failed_critical


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("Traceback (most recent call last):", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"apiVersion": "v1", "kind": "Pod"}', "not a probe report"),
        ('{"apiVersion": "releaseguard.io/v1alpha1", "kind": "ProbeReport"}', "verdict"),
        ('{"apiVersion": "releaseguard.io/v1alpha1", "kind": "ProbeReport", "verdict": "Maybe"}', "verdict"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_parse_report_says_what_is_wrong(text: str | bytes, reason: str) -> None:
    with pytest.raises(ReportError, match=reason):
        parse_report(text)


def test_merge_recomputes_the_verdict_and_keeps_counts() -> None:
    runner = report(check("health", R.PASSED), check("orders", R.PASSED))
    compacted = parse_report(compact_json(runner, limit=450))  # passed checks dropped, counts kept
    assert compacted.checks == [] and compacted.summary.total == 2
    target = report(check("imports", R.FAILED, message="import shop.app: ModuleNotFoundError"))
    merged = merge_reports([compacted, target])
    assert merged.verdict is Verdict.FAILED
    assert merged.failed_critical == ["imports"]
    assert merged.summary.total == 3 and merged.summary.passed == 2 and merged.summary.failed == 1
    assert merged.truncated


def test_merge_error_and_passed_is_error_and_failed_wins() -> None:
    broken = build_report([], T0, T0, verdict=Verdict.ERROR, message="the probe runner broke: boom")
    ok = report(check("a", R.PASSED))
    assert merge_reports([ok, broken]).verdict is Verdict.ERROR
    assert merge_reports([ok, broken]).message == "the probe runner broke: boom"
    assert merge_reports([broken, report(check("b", R.ERROR))]).verdict is Verdict.FAILED
    assert merge_reports([ok, ok]).verdict is Verdict.PASSED
    with pytest.raises(ReportError):
        merge_reports([])
