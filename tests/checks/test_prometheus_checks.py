"""prometheus checks against a real Prometheus (Debian's package) scraping the sample app."""

from __future__ import annotations

from typing import Any

import pytest
from checks_support import Prometheus, probe

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
