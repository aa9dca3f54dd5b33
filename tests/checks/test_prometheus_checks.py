"""prometheus checks against a real Prometheus (Debian's package) scraping the sample app."""

from __future__ import annotations

from typing import Any

import pytest
from checks_support import BAD_HASH, GOOD_HASH, TWIN_HASH, Prometheus, probe

from releaseguard.api.status import CheckResultKind as R
from releaseguard.api.status import Verdict
from support import free_port

pytestmark = pytest.mark.slow


def prom(p: Prometheus, name: str, query: str, **spec: Any) -> dict[str, Any]:
    return {"name": name, "prometheus": {"address": p.url, "query": query, **spec}}


async def test_thresholds(prometheus: Prometheus) -> None:
    report = await probe(
        [
            prom(prometheus, "traffic", "sum(shop_http_requests_total)", greaterThan=0),
            prom(prometheus, "no-errors", "shop_http_errors_total", lessThan=1),
            prom(prometheus, "band", "sum(shop_http_requests_total)", between={"min": 1, "max": 1e9}),
            prom(prometheus, "too-low", 'sum(shop_http_requests_total{path="/healthz"})', greaterThan=1e9),
            prom(prometheus, "per-series", "shop_http_requests_total", lessThan=0),
        ]
    )
    got = {c.name: c for c in report.checks}
    assert all(got[n].result is R.PASSED for n in ("traffic", "no-errors", "band")), report.message
    assert got["no-errors"].observed == "0"
    assert got["no-errors"].message == "shop_http_errors_total = 0, < 1"
    too_low = got["too-low"]
    assert too_low.result is R.FAILED
    assert too_low.message == f'sum(shop_http_requests_total{{path="/healthz"}}) = {too_low.observed}, expected > 1e+09'
    assert float(too_low.observed) >= 3
    assert (
        got["per-series"].message.startswith("shop_http_requests_total = ")
        and 'for shop_http_requests_total{code="200",instance=' in got["per-series"].message
    )
    assert report.failed_critical == ["too-low", "per-series"]


async def test_empty_result_and_nan_are_inconclusive_by_default(prometheus: Prometheus) -> None:
    report = await probe(
        [
            prom(prometheus, "empty", "shop_no_such_metric_total", lessThan=1),
            prom(prometheus, "nan", "0/0", lessThan=1),
            prom(prometheus, "empty-fails", "shop_no_such_metric_total", lessThan=1, onEmpty="Failed"),
            prom(prometheus, "empty-passes", "shop_no_such_metric_total", lessThan=1, onEmpty="Passed"),
        ]
    )
    got = {c.name: (c.result, c.message) for c in report.checks}
    assert got["empty"] == (
        R.INCONCLUSIVE,
        "query 'shop_no_such_metric_total' returned no data (onEmpty: Inconclusive)",
    )
    assert got["nan"] == (R.INCONCLUSIVE, "query '0/0' returned NaN (onEmpty: Inconclusive)")
    assert got["empty-fails"][0] is R.FAILED
    assert got["empty-passes"][0] is R.PASSED
    assert report.failed_critical == ["empty-fails"]


async def test_fail_on_inconclusive_fails_the_verdict(prometheus: Prometheus) -> None:
    check = prom(prometheus, "empty", "shop_no_such_metric_total", lessThan=1, failOnInconclusive=True)
    report = await probe([{**check, "retries": 1}])
    empty = report.check("empty")
    assert empty.result is R.INCONCLUSIVE and empty.fail_on_inconclusive
    assert len(empty.attempts) == 2
    assert report.verdict is Verdict.FAILED and report.failed_critical == ["empty"]


async def test_bad_query_and_unreachable_server_are_errors(prometheus: Prometheus) -> None:
    report = await probe(
        [
            prom(prometheus, "syntax", "sum(", lessThan=1),
            {
                "name": "down",
                "prometheus": {"address": f"http://127.0.0.1:{free_port()}", "query": "up", "lessThan": 1},
            },
        ]
    )
    syntax, down = report.check("syntax"), report.check("down")
    assert syntax.result is R.ERROR
    assert syntax.message.startswith("query 'sum(' failed: bad_data: ")
    assert down.result is R.ERROR
    assert down.message.startswith("cannot query Prometheus at http://127.0.0.1:")


# --- issue 15: repeated measurement (count, intervalSeconds, failureLimit) ------------------------


async def test_repeated_measurement_counts_failures_and_keeps_every_measurement(prometheus: Prometheus) -> None:
    always_high = "sum(shop_http_requests_total)"
    report = await probe(
        [
            prom(prometheus, "fails", always_high, lessThan=0, count=3, intervalSeconds=1, failureLimit=2),
            prom(prometheus, "tolerated", always_high, lessThan=0, count=3, intervalSeconds=1, failureLimit=3),
            prom(prometheus, "passes", always_high, greaterThan=0, count=3, intervalSeconds=1),
        ]
    )
    fails, tolerated, passes = (report.check(n) for n in ("fails", "tolerated", "passes"))
    assert fails.result is R.FAILED, fails.message
    assert fails.message.startswith(
        "3 of 3 measurements 1s apart: 3 failed (failureLimit 2), 0 inconclusive (inconclusiveLimit 0), 0 errors; "
        "measurement 1: sum(shop_http_requests_total) = "
    )
    assert fails.observed == "3/3 failed"
    assert tolerated.result is R.PASSED and tolerated.observed == "3/3 failed", tolerated.message
    assert passes.result is R.PASSED and passes.observed == "0/3 failed"
    for check in (fails, tolerated, passes):
        m = check.measurements
        assert m is not None and m.interval_seconds == 1.0 and m.start_time is not None
        assert len(m.offsets) == len(m.values.split(",")) == len(m.results) == 3
        assert m.offsets[0] < 0.5 and 0.8 <= m.offsets[1] - m.offsets[0] < 1.7 and m.offsets[2] > m.offsets[1]
        assert all(float(v) >= 1 for v in m.values.split(","))
        assert m.baseline_values == ""
    assert fails.measurements is not None and fails.measurements.results == "FFF"
    assert passes.measurements is not None and passes.measurements.results == "PPP"
    assert report.failed_critical == ["fails"]


async def test_repeated_measurement_stops_once_failed_and_limits_inconclusive(prometheus: Prometheus) -> None:
    report = await probe(
        [
            prom(prometheus, "early", "sum(shop_http_requests_total)", lessThan=0, count=5, intervalSeconds=1),
            prom(prometheus, "empty", "shop_no_such_metric_total", lessThan=1, count=2, intervalSeconds=1),
            prom(
                prometheus,
                "empty-ok",
                "shop_no_such_metric_total",
                lessThan=1,
                count=2,
                intervalSeconds=1,
                inconclusiveLimit=2,
            ),
        ]
    )
    early, empty, empty_ok = (report.check(n) for n in ("early", "empty", "empty-ok"))
    assert early.result is R.FAILED and early.measurements is not None
    assert early.measurements.results == "F", "Argo stops measuring once failureLimit is exceeded"
    assert early.message.startswith("1 of 5 measurements 1s apart: 1 failed (failureLimit 0)")
    assert empty.result is R.INCONCLUSIVE and empty.measurements is not None
    assert empty.measurements.results == "II" and empty.measurements.values == ","
    assert empty_ok.result is R.PASSED, empty_ok.message


# --- issue 15: the new revision against the last verified one ------------------------------------

ERROR_RATIO = (
    'sum(shop_http_errors_total{pod_template_hash="{{ .PodTemplateHash }}"})'
    ' / sum(shop_http_requests_total{pod_template_hash="{{ .PodTemplateHash }}"})'
)


def revisions(current: str, baseline: str | None, revision: int = 5, baseline_revision: int = 4) -> dict[str, str]:
    env = {"RG_REVISION": str(revision), "RG_POD_TEMPLATE_HASH": current}
    if baseline is not None:
        env |= {"RG_BASELINE_REVISION": str(baseline_revision), "RG_BASELINE_POD_TEMPLATE_HASH": baseline}
    return env


async def test_a_templated_query_flags_a_regressed_revision(revisions_prometheus: Prometheus) -> None:
    check = prom(revisions_prometheus, "errors", ERROR_RATIO, baseline={"maxIncrease": 0.01})
    report = await probe([check], environ=revisions(BAD_HASH, GOOD_HASH))
    errors = report.check("errors")
    assert errors.result is R.FAILED, errors.message
    ratio = float(errors.observed.split(" vs ")[0])
    assert 0 < ratio <= 1 and errors.observed.endswith(" vs 0")
    assert errors.message.startswith(f"errors {ratio:.3g} vs 0 in revision 4 (+{ratio:.3g}, limit +0.01); ")
    m = errors.measurements
    assert m is not None and m.results == "P" and m.baseline_values == "0"
    assert report.failed_critical == ["errors"]


async def test_a_templated_query_passes_an_equal_revision(revisions_prometheus: Prometheus) -> None:
    check = prom(revisions_prometheus, "errors", ERROR_RATIO, lessThan=0.5, baseline={"maxIncrease": 0.01})
    report = await probe([check], environ=revisions(TWIN_HASH, GOOD_HASH))
    errors = report.check("errors")
    assert errors.result is R.PASSED, errors.message
    assert errors.observed == "0 vs 0"
    assert errors.message.endswith("; errors 0 vs 0 in revision 4 (+0, limit +0.01)")


async def test_repeated_measurements_are_compared_by_the_rank_test(revisions_prometheus: Prometheus) -> None:
    spec = {"count": 5, "intervalSeconds": 1, "baseline": {"maxIncreasePercent": 10}}
    bad = prom(revisions_prometheus, "bad", ERROR_RATIO, **spec)
    twin = prom(revisions_prometheus, "twin", ERROR_RATIO, **spec)
    report = await probe([bad], environ=revisions(BAD_HASH, GOOD_HASH))
    got = report.check("bad")
    assert got.result is R.FAILED, got.message
    assert got.message.startswith("bad median ") and " vs 0 in revision 4 (+" in got.message
    assert "limit +10%; p=" in got.message and "5 vs 5 samples)" in got.message
    assert got.measurements is not None and got.measurements.baseline_values == "0,0,0,0,0"
    report = await probe([twin], environ=revisions(TWIN_HASH, GOOD_HASH))
    same = report.check("twin")
    assert same.result is R.PASSED, same.message
    assert "twin median 0 vs 0 in revision 4 (+0, limit +10%; p=1, 5 vs 5 samples)" in same.message


async def test_no_baseline_revision_is_inconclusive(revisions_prometheus: Prometheus) -> None:
    check = prom(revisions_prometheus, "errors", ERROR_RATIO, baseline={"maxIncrease": 0.01})
    report = await probe([check], environ=revisions(BAD_HASH, None))
    errors = report.check("errors")
    assert errors.result is R.INCONCLUSIVE, errors.message
    assert errors.message.startswith(
        "no baseline: no verified revision of the Deployment yet ({{ .BaselinePodTemplateHash }}, "
        "env RG_BASELINE_POD_TEMPLATE_HASH, has no value); "
    )
    assert report.verdict is Verdict.PASSED


async def test_a_query_naming_an_unknown_revision_is_an_error(revisions_prometheus: Prometheus) -> None:
    report = await probe([prom(revisions_prometheus, "errors", ERROR_RATIO, lessThan=1)], environ={})
    errors = report.check("errors")
    assert errors.result is R.ERROR
    assert errors.message == (
        "the query names {{ .PodTemplateHash }} but the probe was given no value for it (env RG_POD_TEMPLATE_HASH)"
    )
