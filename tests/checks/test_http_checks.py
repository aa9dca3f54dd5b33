"""http and tcp checks against the real sample app on loopback, one release at a time."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from checks_support import probe

from releaseguard.api.spec import SecretKeySelector
from releaseguard.api.status import CheckResultKind as R
from releaseguard.api.status import Verdict
from releaseguard.errors import SpecInvalidError
from releaseguard.probe.checks import REDACTED, secret_env_name
from support import free_port

pytestmark = pytest.mark.slow

ORDERS_SCHEMA = {
    "type": "object",
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "items": {"type": "object", "required": ["id", "price"], "properties": {"price": {"type": "number"}}},
        }
    },
}


def orders_checks(url: str, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"name": "health", "http": {"url": f"{url}/healthz", "json": [{"path": "$.status", "equals": "ok"}]}},
        {"name": "orders", **extra, "http": {"url": f"{url}/api/orders", "jsonSchema": ORDERS_SCHEMA}},
    ]


async def test_good_release_passes(shops: Callable[..., str]) -> None:
    url = shops("good")
    report = await probe(
        [
            *orders_checks(url),
            {
                "name": "prices",
                "http": {
                    "url": f"{url}/api/orders",
                    "maxLatencyMs": 2000,
                    "json": [
                        {"path": "$.items[0].price", "equals": 9.5},
                        {"path": "$.items[*].id", "oneOf": [1, 2, 3]},
                        {"path": "$.total", "exists": True},
                        {"path": "$.error", "exists": False},
                    ],
                },
            },
            {
                "name": "version",
                "http": {"url": f"{url}/api/version", "json": [{"path": "$.release", "matches": "^go"}]},
            },
            {"name": "port", "tcp": {"host": "127.0.0.1", "port": int(url.rsplit(":", 1)[1])}},
        ]
    )
    assert report.verdict is Verdict.PASSED, report.message
    assert [c.result for c in report.checks] == [R.PASSED] * 5
    assert report.check("orders").observed.startswith("HTTP 200 in ")
    assert report.check("orders").message.startswith(f"GET {url}/api/orders -> 200 in ")
    assert report.message == "5 of 5 checks passed"


async def test_500_names_the_request_status_and_attempts(shops: Callable[..., str]) -> None:
    url = shops("error500")
    report = await probe(orders_checks(url, retries=2))
    orders = report.check("orders")
    assert orders.result is R.FAILED
    assert orders.message == f"GET {url}/api/orders -> 500 (expected 200) after 3 attempts"
    assert orders.observed == "HTTP 500"
    assert [a.result for a in orders.attempts] == [R.FAILED] * 3
    assert all(a.duration_seconds > 0 for a in orders.attempts)
    assert report.verdict is Verdict.FAILED and report.failed_critical == ["orders"]
    assert report.check("health").result is R.PASSED


async def test_changed_json_shape_names_the_field(shops: Callable[..., str]) -> None:
    url = shops("shape")
    report = await probe(
        [
            *orders_checks(url),
            {
                "name": "price",
                "http": {"url": f"{url}/api/orders", "json": [{"path": "$.items[0].price", "equals": 9.5}]},
            },
            {
                "name": "gone",
                "http": {"url": f"{url}/api/orders", "json": [{"path": "$.items[0].sku", "exists": True}]},
            },
        ]
    )
    assert report.check("orders").message == "$.items[0].price: expected number, got null (and 2 more)"
    assert report.check("price").message == "$.items[0].price: expected 9.5, got null"
    assert report.check("gone").message == "$.items[0].sku: expected to exist, not found"
    assert report.failed_critical == ["orders", "price", "gone"]


async def test_slow_endpoint_breaks_the_latency_ceiling_and_the_timeout(shops: Callable[..., str]) -> None:
    url = shops("slow", SHOP_SLOW_SECONDS="1.3")
    report = await probe(
        [
            {"name": "latency", "http": {"url": f"{url}/api/orders", "maxLatencyMs": 300}},
            {"name": "timeout", "timeoutSeconds": 1, "http": {"url": f"{url}/api/orders"}},
        ]
    )
    latency = report.check("latency")
    assert latency.result is R.FAILED
    assert latency.message.startswith(f"GET {url}/api/orders -> 200 in 1")
    assert latency.message.endswith(" ms (limit 300 ms)")
    timeout = report.check("timeout")
    assert (timeout.result, timeout.observed) == (R.FAILED, "timeout")
    assert timeout.message == f"GET {url}/api/orders: no response within 1s"


async def test_every_other_call_failing_is_flaky(fresh_shop: Callable[..., str]) -> None:
    url = fresh_shop("flaky")
    checks = [{"name": "orders", "retries": 2, "http": {"url": f"{url}/api/orders"}}]
    report = await probe(checks)
    orders = report.check("orders")
    assert orders.result is R.FLAKY
    assert [a.result for a in orders.attempts] == [R.FAILED, R.PASSED]
    assert orders.message == f"passed on attempt 2 of 2; earlier: GET {url}/api/orders -> 503 (expected 200)"
    assert report.verdict is Verdict.PASSED and report.summary.flaky == 1
    strict = await probe([{**checks[0], "failOnFlaky": True}])
    assert strict.check("orders").result is R.FLAKY
    assert strict.verdict is Verdict.FAILED and strict.failed_critical == ["orders"]


async def test_without_retries_the_flaky_endpoint_just_fails(fresh_shop: Callable[..., str]) -> None:
    url = fresh_shop("flaky")
    report = await probe([{"name": "orders", "http": {"url": f"{url}/api/orders"}}])
    assert report.check("orders").result is R.FAILED
    assert report.check("orders").message == f"GET {url}/api/orders -> 503 (expected 200)"


async def test_refused_dns_and_tcp_failures_are_distinct() -> None:
    port = free_port()
    report = await probe(
        [
            {"name": "refused", "http": {"url": f"http://127.0.0.1:{port}/healthz"}},
            {"name": "dns", "http": {"url": "http://no-such-host.invalid/healthz"}},
            {"name": "tcp-refused", "tcp": {"host": "127.0.0.1", "port": port}},
            {"name": "tcp-dns", "tcp": {"host": "no-such-host.invalid", "port": 80}},
        ]
    )
    got = {c.name: (c.result, c.observed, c.message) for c in report.checks}
    assert got["refused"] == (
        R.FAILED,
        "connection refused",
        f"GET http://127.0.0.1:{port}/healthz: connection refused",
    )
    assert got["dns"][:2] == (R.ERROR, "DNS failure")
    assert got["dns"][2].startswith(
        "GET http://no-such-host.invalid/healthz: DNS lookup of no-such-host.invalid failed"
    )
    assert got["tcp-refused"] == (R.FAILED, "connection refused", f"tcp 127.0.0.1:{port}: connection refused")
    assert got["tcp-dns"][:2] == (R.ERROR, "DNS failure")
    assert report.summary.error == 2 and report.summary.failed == 2


async def test_secret_headers_are_sent_and_redacted(
    shops: Callable[..., str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = shops("good")
    token_file = tmp_path / "token"
    token_file.write_text("file-secret-42\n")
    monkeypatch.setenv("SHOP_TOKEN", "Bearer env-secret-17")
    secret_var = secret_env_name(SecretKeySelector(name="shop-api", key="key"))
    monkeypatch.setenv(secret_var, "secret-from-a-secret")
    headers = [
        {"name": "Authorization", "valueFrom": {"env": "SHOP_TOKEN"}},
        {"name": "X-Token", "valueFrom": {"file": str(token_file)}},
        {"name": "X-Key", "valueFrom": {"secretKeyRef": {"name": "shop-api", "key": "key"}}},
        {"name": "X-Plain", "value": "visible"},
    ]
    report = await probe(
        [
            {
                "name": "sent",
                "http": {
                    "url": f"{url}/api/echo",
                    "headers": headers,
                    "json": [
                        {"path": "$.headers.authorization", "equals": "Bearer env-secret-17"},
                        {"path": "$.headers['x-token']", "equals": "file-secret-42"},
                        {"path": "$.headers['x-key']", "equals": "secret-from-a-secret"},
                        {"path": "$.headers['x-plain']", "equals": "visible"},
                    ],
                },
            },
            {
                "name": "leaky",
                "retries": 1,
                "http": {
                    "url": f"{url}/api/echo",
                    "headers": headers,
                    "json": [
                        {"path": "$.headers.authorization", "equals": "nope"},
                        {"path": "$.headers['x-token']", "matches": "^nothing$"},
                        {"path": "$.headers['x-plain']", "equals": "hidden"},
                    ],
                },
            },
        ]
    )
    assert secret_var.startswith("RG_SECRET_SHOP_API_KEY_")
    assert report.check("sent").result is R.PASSED, report.check("sent").message
    leaky = report.check("leaky")
    assert leaky.result is R.FAILED
    assert leaky.message == f'$.headers.authorization: expected "nope", got "{REDACTED}" (and 2 more) after 2 attempts'
    assert leaky.attempts[0].message == f'$.headers.authorization: expected "nope", got "{REDACTED}" (and 2 more)'
    # The problems themselves are built redacted: the second one, not shown in the message, too.
    from releaseguard.api.spec import JsonAssertion
    from releaseguard.probe.checks.http import assertion_problems

    problems = assertion_problems(
        JsonAssertion(path="$.t", matches="^x$"), {"t": "file-secret-42"}, lambda s: s.replace("file-secret-42", "***")
    )
    assert problems == ['$.t: "***" does not match /^x$/']
    text = report.to_json()
    for secret in ("env-secret-17", "file-secret-42", "secret-from-a-secret"):
        assert secret not in text


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ({"env": "RG_TEST_UNSET_VARIABLE"}, "checks[1].http.headers[0].valueFrom.env"),
        ({"file": "/nonexistent/token"}, "checks[1].http.headers[0].valueFrom.file"),
        ({"secretKeyRef": {"name": "nope", "key": "k"}}, "checks[1].http.headers[0].valueFrom.secretKeyRef"),
    ],
)
async def test_missing_header_sources_are_config_errors(source: dict[str, Any], path: str) -> None:
    checks = [
        {"name": "a", "tcp": {"host": "127.0.0.1", "port": 1}},
        {"name": "b", "http": {"url": "http://127.0.0.1:1/", "headers": [{"name": "X-A", "valueFrom": source}]}},
    ]
    with pytest.raises(SpecInvalidError) as caught:
        await probe(checks)
    assert caught.value.paths == [path]


async def test_not_json_and_status_lists(shops: Callable[..., str]) -> None:
    url = shops("good")
    report = await probe(
        [
            {"name": "metrics-json", "http": {"url": f"{url}/metrics", "json": [{"path": "$.a", "exists": True}]}},
            {"name": "missing", "http": {"url": f"{url}/nope", "expectStatus": [404, 410]}},
            {
                "name": "post",
                "http": {"url": f"{url}/api/echo", "method": "POST", "body": "{}", "expectStatus": [201, 202]},
            },
        ]
    )
    assert report.check("metrics-json").message.startswith(
        f"GET {url}/metrics: response body is not JSON (text/plain; version=0.0.4): "
    )
    assert report.check("missing").result is R.PASSED
    assert report.check("post").message == f"POST {url}/api/echo -> 200 (expected 201 or 202)"


async def test_parallelism_bounds_concurrency(shops: Callable[..., str]) -> None:
    url = shops("slow", SHOP_SLOW_SECONDS="0.4")
    checks = [{"name": f"c{i}", "http": {"url": f"{url}/api/orders"}} for i in range(4)]
    serial = await probe(checks, parallelism=1)
    parallel = await probe(checks, parallelism=4)
    assert serial.verdict is parallel.verdict is Verdict.PASSED
    assert serial.duration_seconds >= 1.6
    assert parallel.duration_seconds < 1.2
    assert json.loads(parallel.to_json())["summary"]["passed"] == 4
