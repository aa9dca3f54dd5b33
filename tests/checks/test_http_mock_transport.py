"""http and prometheus runners over an injected `httpx.MockTransport`: no sockets, no servers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from releaseguard.api import parse_checks
from releaseguard.api.status import CheckResultKind as R
from releaseguard.probe.checks import prepare
from releaseguard.probe.checks.http import HttpRunner
from releaseguard.probe.checks.prometheus import PrometheusRunner
from releaseguard.report import CheckReport

Handler = Any


async def run_http(check: dict[str, Any], handler: Handler, environ: dict[str, str] | None = None) -> CheckReport:
    checks = parse_checks({"checks": [{"name": "c", **check}]})
    ctx = prepare(checks, environ=environ or {})
    try:
        return await HttpRunner(transport=httpx.MockTransport(handler)).run(checks[0], ctx)
    finally:
        await ctx.aclose()


async def test_an_unexpected_status_fails_naming_it() -> None:
    report = await run_http({"http": {"url": "http://shop.test/healthz"}}, lambda request: httpx.Response(503))
    assert report.result is R.FAILED
    assert report.message == "GET http://shop.test/healthz -> 503 (expected 200)"
    assert report.observed == "HTTP 503"


async def test_json_assertions_pass_and_fail_by_location() -> None:
    body = {"status": "ok", "items": [{"price": 9.5}, {"price": 3}]}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    passing = {"url": "http://shop.test/api", "json": [{"path": "$.status", "equals": "ok"}]}
    assert (await run_http({"http": passing}, handler)).result is R.PASSED
    failing = {"url": "http://shop.test/api", "json": [{"path": "$.items[*].price", "oneOf": [9.5]}]}
    report = await run_http({"http": failing}, handler)
    assert report.result is R.FAILED
    assert report.message == "$.items[1].price: expected one of [9.5], got 3"


async def test_a_slow_answer_fails_the_latency_limit() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return httpx.Response(200)

    report = await run_http({"http": {"url": "http://shop.test/", "maxLatencyMs": 1}}, slow)
    assert report.result is R.FAILED
    assert "(limit 1 ms)" in report.message


async def test_a_cross_origin_redirect_drops_secret_and_credential_headers() -> None:
    seen: dict[str, dict[str, str]] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = dict(request.headers)
        if request.url.host == "shop.test":
            return httpx.Response(302, headers={"location": "http://elsewhere.test/landing"})
        return httpx.Response(200)

    headers = [
        {"name": "X-Token", "valueFrom": {"env": "TOKEN"}},
        {"name": "Authorization", "value": "Bearer literal"},
        {"name": "X-Plain", "value": "kept"},
    ]
    check = {"http": {"url": "http://shop.test/", "followRedirects": True, "headers": headers}}
    report = await run_http(check, handler, environ={"TOKEN": "s3cret"})
    assert report.result is R.PASSED
    assert seen["shop.test"]["x-token"] == "s3cret" and seen["shop.test"]["authorization"] == "Bearer literal"
    assert "x-token" not in seen["elsewhere.test"] and "authorization" not in seen["elsewhere.test"]
    assert seen["elsewhere.test"]["x-plain"] == "kept"


async def test_a_same_origin_redirect_keeps_the_headers() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.headers))
        if request.url.path == "/":
            return httpx.Response(301, headers={"location": "/next"})
        return httpx.Response(200)

    check = {
        "http": {
            "url": "http://shop.test/",
            "followRedirects": True,
            "headers": [{"name": "X-Token", "valueFrom": {"env": "TOKEN"}}],
        }
    }
    report = await run_http(check, handler, environ={"TOKEN": "s3cret"})
    assert report.result is R.PASSED
    assert [h.get("x-token") for h in seen] == ["s3cret", "s3cret"]


async def test_prometheus_over_a_mock_transport() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query" and request.url.params["query"] == "errors"
        data = {"resultType": "vector", "result": [{"metric": {"job": "shop"}, "value": [0, "0.5"]}]}
        return httpx.Response(200, content=json.dumps({"status": "success", "data": data}))

    checks = parse_checks(
        {"checks": [{"name": "p", "prometheus": {"address": "http://prom.test", "query": "errors", "lessThan": 1}}]}
    )
    ctx = prepare(checks, environ={})
    try:
        report = await PrometheusRunner(transport=httpx.MockTransport(handler)).run(checks[0], ctx)
    finally:
        await ctx.aclose()
    assert report.result is R.PASSED
    assert report.message == "errors = 0.5, < 1"


async def test_a_sampled_check_keeps_its_first_requests_result_and_reports_every_sample() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(500 if len(calls) % 3 == 0 else 200, json={"items": []})

    check = {"http": {"url": "http://shop.test/api/orders", "samples": {"count": 6, "intervalSeconds": 0}}}
    report = await run_http(check, handler)
    assert report.result is R.PASSED  # the first request, as an unsampled check
    assert len(calls) == 7
    assert report.samples is not None
    assert report.samples.outcomes == "oeooeo"  # requests 2..7: every third one answered 500
    assert len(report.samples.latencies_ms) == 6
    assert all(ms >= 0 and round(ms, 1) == ms for ms in report.samples.latencies_ms)
    wire = report.model_dump(mode="json", by_alias=True)
    assert wire["samples"]["outcomes"] == "oeooeo"


async def test_a_sample_is_judged_by_the_checks_own_assertions() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "degraded"})

    check = {
        "http": {
            "url": "http://shop.test/healthz",
            "json": [{"path": "$.status", "equals": "ok"}],
            "samples": {"count": 3},
        }
    }
    report = await run_http(check, handler)
    assert report.result is R.FAILED
    assert report.samples is not None and report.samples.outcomes == "eee"
