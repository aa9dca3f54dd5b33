"""The `prometheus` check: an instant query compared with a threshold.

An empty result or NaN is `onEmpty` (Inconclusive by default); every series must satisfy the
threshold, and a failure names the series and its value. `PrometheusRunner(transport=...)` sends
through the given httpx transport (tests pass an `httpx.MockTransport`).
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from ...api.spec import Check, InconclusiveOutcome, PrometheusCheck
from ...api.status import CheckResultKind
from ...report import AttemptReport, CheckReport
from .base import RunContext, attempt, run_with_retries
from .destinations import DestinationDenied, ensure_allowed

R = CheckResultKind


class PrometheusRunner:
    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.transport = transport

    async def run(self, check: Check, ctx: RunContext) -> CheckReport:
        spec = check.prometheus
        assert spec is not None
        key = "prometheus" if self.transport is None else f"prometheus/{id(self.transport)}"
        client = ctx.resources.get(key)
        if client is None:
            client = ctx.resources[key] = httpx.AsyncClient(transport=self.transport)
        assert isinstance(client, httpx.AsyncClient)

        async def one() -> AttemptReport:
            url = httpx.URL(spec.address)
            try:
                await ensure_allowed(url.host, url.port, ctx.denied_networks)
            except DestinationDenied as exc:
                return attempt(R.ERROR, f"prometheus {spec.address}: not queried: {exc}", "denied destination")
            return await prometheus_attempt(client, spec, check.timeout_seconds)

        return await run_with_retries(check, ctx, one)


async def prometheus_attempt(client: httpx.AsyncClient, spec: PrometheusCheck, seconds: float) -> AttemptReport:
    url = spec.address.rstrip("/") + "/api/v1/query"
    try:
        response = await client.get(url, params={"query": spec.query}, timeout=seconds)
    except httpx.TimeoutException:
        return attempt(R.ERROR, f"Prometheus {spec.address} did not answer within {seconds:g}s", "timeout")
    except httpx.HTTPError as exc:
        return attempt(R.ERROR, f"cannot query Prometheus at {spec.address}: {exc}", "unreachable")
    try:
        body = response.json()
    except ValueError:
        return attempt(
            R.ERROR, f"Prometheus {url} -> {response.status_code} with a body that is not JSON", "bad answer"
        )
    return judge(spec, response.status_code, body)


def judge(spec: PrometheusCheck, status_code: int, body: Any) -> AttemptReport:
    """Pure: the attempt for one query answer."""
    query = spec.query
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error", "unknown error") if isinstance(body, dict) else "unknown error"
        kind = body.get("errorType", f"HTTP {status_code}") if isinstance(body, dict) else f"HTTP {status_code}"
        return attempt(R.ERROR, f"query {query!r} failed: {kind}: {error}", "query error")
    data = body.get("data") or {}
    result_type = data.get("resultType")
    result: Any = data.get("result") or []
    samples: list[tuple[str, float]]
    if result_type == "scalar":
        samples = [("", _float(result[1]))]
    elif result_type == "vector":
        samples = [(_labels(s.get("metric", {})), _float(s["value"][1])) for s in result]
    else:
        return attempt(
            R.ERROR, f"query {query!r} returned a {result_type}; expected an instant vector or scalar", "bad answer"
        )
    if not samples:
        return _empty(spec, f"query {query!r} returned no data", "empty")
    if all(math.isnan(v) for _, v in samples):
        return _empty(spec, f"query {query!r} returned NaN", "NaN")
    wanted = _threshold(spec)
    for series, value in samples:
        if math.isnan(value) or not _ok(spec, value):
            where = f" for {series}" if series else ""
            return attempt(R.FAILED, f"{query} = {_show(value)}{where}, expected {wanted}", _show(value))
    shown = _show(samples[0][1]) if len(samples) == 1 else f"{len(samples)} series"
    return attempt(R.PASSED, f"{query} = {shown}, {wanted}", _show(samples[0][1]))


def _empty(spec: PrometheusCheck, message: str, observed: str) -> AttemptReport:
    outcome = {
        InconclusiveOutcome.INCONCLUSIVE: R.INCONCLUSIVE,
        InconclusiveOutcome.PASSED: R.PASSED,
        InconclusiveOutcome.FAILED: R.FAILED,
    }[spec.on_empty]
    return attempt(outcome, f"{message} (onEmpty: {spec.on_empty.value})", observed)


def _ok(spec: PrometheusCheck, value: float) -> bool:
    if spec.less_than is not None:
        return value < spec.less_than
    if spec.greater_than is not None:
        return value > spec.greater_than
    assert spec.between is not None
    return spec.between.min <= value <= spec.between.max


def _threshold(spec: PrometheusCheck) -> str:
    if spec.less_than is not None:
        return f"< {spec.less_than:g}"
    if spec.greater_than is not None:
        return f"> {spec.greater_than:g}"
    assert spec.between is not None
    return f"between {spec.between.min:g} and {spec.between.max:g}"


def _float(text: Any) -> float:
    return float(text)  # Prometheus sends "NaN", "+Inf", "1.5" as strings


def _show(value: float) -> str:
    return f"{value:g}"


def _labels(metric: dict[str, str]) -> str:
    if not metric:
        return ""
    name = metric.get("__name__", "")
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{inner}}}"
