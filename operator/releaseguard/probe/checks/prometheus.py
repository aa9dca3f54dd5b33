"""The `prometheus` check: an instant query compared with a threshold.

An empty result or NaN is `onEmpty` (Inconclusive by default); every series must satisfy the
threshold, and a failure names the series and its value. Queries connect only to an address
resolved once and checked against the operator's denied networks (probe.checks.pinned); a denied
address or a failed lookup is Error and nothing is sent. `PrometheusRunner(resolver=...)` replaces
the DNS lookup (tests); `PrometheusRunner(transport=...)` sends through the given httpx transport
instead (tests pass an `httpx.MockTransport`, which connects nowhere).

Issue 15 adds, opt-in:

- templated queries: `{{ .PodTemplateHash }}`, `{{ .Revision }}` and their `Baseline...` twins,
  rendered from `RunContext.revisions` (the env the operator sets, contract.REVISION_ENV);
- repeated measurement, as Argo Rollouts' metrics: `count` measurements `intervalSeconds` apart,
  each judged by the threshold; the check fails once more than `failureLimit` fail (measuring
  stops there), is Error once more than `consecutiveErrorLimit` errors come in a row (or all
  error), and is Inconclusive when more than `inconclusiveLimit` are;
- a `baseline`: the baseline query measured beside each measurement, and core.metric_baseline
  comparing all the values of both sides.

Every measurement is kept in the report (`CheckReport.measurements`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from ...api.spec import TEMPLATE_REFERENCE, Check, InconclusiveOutcome, PrometheusCheck, template_variables
from ...api.status import CheckResultKind
from ...core.baseline import BaselineVerdict
from ...core.metric_baseline import MetricComparison, MetricPolicy, compare_values
from ...report import MEASUREMENT_CODES, AttemptReport, CheckReport, Measurements
from .base import BACKSTOP_SECONDS, RunContext, attempt, report_from_attempts, run_with_retries
from .destinations import DestinationError, Resolver, system_resolver

R = CheckResultKind


class PrometheusRunner:
    def __init__(self, transport: httpx.AsyncBaseTransport | None = None, resolver: Resolver = system_resolver) -> None:
        self.transport = transport
        self.resolver = resolver

    async def run(self, check: Check, ctx: RunContext) -> CheckReport:
        spec = check.prometheus
        assert spec is not None
        key = f"prometheus/{id(self.transport)}/{id(self.resolver)}"
        client = ctx.resources.get(key)
        if client is None:
            client = ctx.resources[key] = self._client(ctx)
        assert isinstance(client, httpx.AsyncClient)

        if spec.repeated or spec.baseline is not None:
            return await measured(check, spec, client, ctx)
        try:
            rendered = spec.model_copy(update={"query": render(spec.query, ctx.revisions)})
        except MissingVariable as exc:
            return await run_with_retries(check, ctx, _fixed(attempt(R.ERROR, str(exc), "no revision")))

        async def one() -> AttemptReport:
            return await prometheus_attempt(client, rendered, check.timeout_seconds)

        return await run_with_retries(check, ctx, one)

    def _client(self, ctx: RunContext) -> httpx.AsyncClient:
        if self.transport is not None:
            return httpx.AsyncClient(transport=self.transport)
        from .pinned import pinned_client

        return pinned_client(ctx.denied_networks, self.resolver)


def _fixed(result: AttemptReport) -> Any:
    async def one() -> AttemptReport:
        return result.model_copy()

    return one


# --- templated queries -------------------------------------------------------------------------


class MissingVariable(ValueError):
    """A query names a template variable the probe was given no value for."""

    def __init__(self, variable: str) -> None:
        from ...contract import REVISION_ENV

        self.variable = variable
        super().__init__(
            f"the query names {{{{ .{variable} }}}} but the probe was given no value for it "
            f"(env {REVISION_ENV.get(variable, '?')})"
        )


def render(query: str, values: Mapping[str, str]) -> str:
    """`query` with each `{{ .Name }}` replaced by its value. Raises MissingVariable."""
    for name in template_variables(query):
        if not values.get(name):
            raise MissingVariable(name)
    return TEMPLATE_REFERENCE.sub(lambda m: values[m.group(1)], query)


def baseline_query(spec: PrometheusCheck, values: Mapping[str, str]) -> str:
    """The query for the last verified revision: `baseline.query` with every variable, or else the
    check's query with the Baseline... values in place of the current revision's. Raises
    MissingVariable (naming the Baseline... variable) when the baseline's values are missing."""
    assert spec.baseline is not None
    if spec.baseline.query is not None:
        return render(spec.baseline.query, values)
    swapped = {name: values.get(f"Baseline{name}", "") for name in ("Revision", "PodTemplateHash")}
    for name in template_variables(spec.query):
        if not swapped.get(name):
            raise MissingVariable(f"Baseline{name}")
    return render(spec.query, swapped)


def _baseline_revision(values: Mapping[str, str]) -> int | None:
    raw = values.get("BaselineRevision", "")
    return int(raw) if raw.isdigit() else None


# --- repeated measurement and the baseline ---------------------------------------------------


@dataclass
class _Measured:
    """The measurements taken so far."""

    offsets: list[float] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    baseline_values: list[str] = field(default_factory=list)
    results: list[CheckResultKind] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    current: list[float] = field(default_factory=list)  # every series' value, for the comparison
    baseline: list[float] = field(default_factory=list)

    def clear(self) -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name).clear()

    def count(self, kind: CheckResultKind) -> int:
        return sum(1 for r in self.results if r is kind)

    def errors_in_a_row(self) -> int:
        run = 0
        for result in reversed(self.results):
            if result is not R.ERROR:
                break
            run += 1
        return run


async def measured(check: Check, spec: PrometheusCheck, client: httpx.AsyncClient, ctx: RunContext) -> CheckReport:
    """The check as `count` measurements (and, with a baseline, the comparison)."""
    started, began = datetime.now(UTC), time.monotonic()
    try:
        current_spec = spec.model_copy(update={"query": render(spec.query, ctx.revisions)})
    except MissingVariable as exc:
        failed = attempt(R.ERROR, str(exc), "no revision")
        return report_from_attempts(check, [failed], time.monotonic() - began)
    then_spec: PrometheusCheck | None = None
    missing_baseline: str | None = None
    if spec.baseline is not None:
        try:
            then_spec = spec.model_copy(update={"query": baseline_query(spec, ctx.revisions)})
        except MissingVariable as exc:
            missing_baseline = exc.variable
    taken = _Measured()

    async def one() -> AttemptReport:
        if not spec.repeated:  # a retry measures again: the comparison and the record take the last
            taken.clear()
        return await _measure(check, current_spec, then_spec, client, taken, began)

    if spec.repeated:
        assert spec.interval_seconds is not None
        for number in range(spec.count):
            if number:
                await asyncio.sleep(max(began + number * spec.interval_seconds - time.monotonic(), 0.0))
            await one()
            if taken.count(R.FAILED) > spec.failure_limit or taken.errors_in_a_row() > spec.consecutive_error_limit:
                break  # decided: Argo Rollouts stops measuring a metric that failed or errored out
        result = _assess(spec, taken)
        attempts = [result]
    else:
        report = await run_with_retries(check, ctx, one)
        attempts = report.attempts
    if spec.baseline is not None:
        attempts[-1] = _with_comparison(check, spec, attempts[-1], taken, missing_baseline, ctx.revisions)
    for item in attempts:
        item.duration_seconds = item.duration_seconds or round(time.monotonic() - began, 4)
    report = report_from_attempts(check, attempts, time.monotonic() - began)
    report.measurements = Measurements(
        start_time=started,
        interval_seconds=float(spec.interval_seconds or 0) if spec.repeated else 0.0,
        offsets=taken.offsets,
        values=",".join(taken.values),
        baseline_values=",".join(taken.baseline_values) if then_spec is not None else "",
        results="".join(MEASUREMENT_CODES[r] for r in taken.results),
    )
    return report


async def _measure(
    check: Check,
    now_spec: PrometheusCheck,
    then_spec: PrometheusCheck | None,
    client: httpx.AsyncClient,
    taken: _Measured,
    began: float,
) -> AttemptReport:
    """One measurement: the query (and the baseline query beside it), judged and kept."""
    offset = round(time.monotonic() - began, 3)
    seconds = check.timeout_seconds

    async def query(spec: PrometheusCheck) -> tuple[AttemptReport, list[float]]:
        try:
            async with asyncio.timeout(seconds + BACKSTOP_SECONDS):
                return await _sampled_attempt(client, spec, seconds)
        except TimeoutError:
            return attempt(R.ERROR, f"no answer within {seconds}s", "timeout"), []

    if then_spec is not None:
        (result, values), (then_result, then_values) = await asyncio.gather(query(now_spec), query(then_spec))
        taken.baseline_values.append(_short(then_result.observed) if then_values else "")
        taken.baseline.extend(then_values)
    else:
        result, values = await query(now_spec)
    result.duration_seconds = round(time.monotonic() - began - offset, 4)
    taken.offsets.append(round(offset, 1))
    taken.values.append(_short(result.observed) if values else "")
    taken.results.append(result.result)
    taken.messages.append(result.message)
    taken.current.extend(values)
    return result


async def _sampled_attempt(
    client: httpx.AsyncClient, spec: PrometheusCheck, seconds: float
) -> tuple[AttemptReport, list[float]]:
    """The attempt, and the values of every series it returned (none for an error)."""
    answer = await _query(client, spec, seconds)
    if isinstance(answer, AttemptReport):
        return answer, []
    status_code, body = answer
    samples = _samples(spec.query, status_code, body)
    if isinstance(samples, AttemptReport):
        return samples, []
    return _judge_samples(spec, samples), [v for _, v in samples if not math.isnan(v)]


def _assess(spec: PrometheusCheck, taken: _Measured) -> AttemptReport:
    """The repeated measurements' result, by Argo Rollouts' limits."""
    n, failed = len(taken.results), taken.count(R.FAILED)
    inconclusive, errors = taken.count(R.INCONCLUSIVE), taken.count(R.ERROR)
    tally = (
        f"{n} of {spec.count} measurements {spec.interval_seconds}s apart: {failed} failed "
        f"(failureLimit {spec.failure_limit}), {inconclusive} inconclusive (inconclusiveLimit "
        f"{spec.inconclusive_limit}), {errors} errors"
    )
    observed = f"{failed}/{n} failed"

    def first(kind: CheckResultKind) -> str:
        index = taken.results.index(kind)
        return f"measurement {index + 1}: {taken.messages[index]}"

    if failed > spec.failure_limit:
        return attempt(R.FAILED, f"{tally}; {first(R.FAILED)}", observed)
    if taken.errors_in_a_row() > spec.consecutive_error_limit or errors == n:
        return attempt(R.ERROR, f"{tally}; {first(R.ERROR)}", observed)
    if inconclusive > spec.inconclusive_limit:
        return attempt(R.INCONCLUSIVE, f"{tally}; {first(R.INCONCLUSIVE)}", observed)
    last = next(m for m, r in zip(reversed(taken.messages), reversed(taken.results), strict=True) if r is not R.ERROR)
    return attempt(R.PASSED, f"{tally}; last: {last}", observed)


_ORDER = (R.ERROR, R.FAILED, R.INCONCLUSIVE, R.PASSED)


def _with_comparison(
    check: Check,
    spec: PrometheusCheck,
    measured_result: AttemptReport,
    taken: _Measured,
    missing: str | None,
    values: Mapping[str, str],
) -> AttemptReport:
    """The measurements' result combined with the comparison against the last verified revision:
    Error, then Failed, then Inconclusive wins; Passed needs both."""
    assert spec.baseline is not None
    revision = _baseline_revision(values)
    if missing is not None:
        from ...contract import REVISION_ENV

        why = (
            "no verified revision of the Deployment yet"
            if missing == "BaselineRevision" or not values.get("BaselineRevision")
            else f"the pod-template hash of revision {values.get('BaselineRevision')} is unknown (its ReplicaSet is gone)"
        )
        comparison = MetricComparison(
            BaselineVerdict.INCONCLUSIVE,
            "NoBaseline",
            f"no baseline: {why} ({{{{ .{missing} }}}}, env {REVISION_ENV[missing]}, has no value)",
            revision,
        )
    else:
        policy = MetricPolicy(spec.baseline.max_increase, spec.baseline.max_increase_percent, spec.baseline.alpha)
        comparison = compare_values(taken.current, taken.baseline, policy, revision, check.name)
    compared = R(comparison.verdict.value)
    kinds = [measured_result.result, compared]
    final = next(k for k in _ORDER if k in kinds)
    if comparison.current is not None and comparison.baseline is not None:
        observed = f"{comparison.current:.3g} vs {comparison.baseline:.3g}"
    else:
        observed = measured_result.observed
    if final is compared and final is not measured_result.result:
        message = f"{comparison.message}; {measured_result.message}"
    else:
        message = f"{measured_result.message}; {comparison.message}"
    out = attempt(final, message, observed)
    out.duration_seconds = measured_result.duration_seconds
    return out


async def prometheus_attempt(client: httpx.AsyncClient, spec: PrometheusCheck, seconds: float) -> AttemptReport:
    answer = await _query(client, spec, seconds)
    if isinstance(answer, AttemptReport):
        return answer
    return judge(spec, *answer)


async def _query(client: httpx.AsyncClient, spec: PrometheusCheck, seconds: float) -> AttemptReport | tuple[int, Any]:
    """The answer's status code and JSON body, or the Error attempt of a query without one."""
    url = spec.address.rstrip("/") + "/api/v1/query"
    try:
        response = await client.get(url, params={"query": spec.query}, timeout=seconds)
    except DestinationError as exc:
        return attempt(R.ERROR, f"prometheus {spec.address}: not queried: {exc}", exc.observed)
    except httpx.TimeoutException:
        return attempt(R.ERROR, f"Prometheus {spec.address} did not answer within {seconds:g}s", "timeout")
    except httpx.HTTPError as exc:
        return attempt(R.ERROR, f"cannot query Prometheus at {spec.address}: {exc}", "unreachable")
    try:
        return response.status_code, response.json()
    except ValueError:
        return attempt(
            R.ERROR, f"Prometheus {url} -> {response.status_code} with a body that is not JSON", "bad answer"
        )


def judge(spec: PrometheusCheck, status_code: int, body: Any) -> AttemptReport:
    """Pure: the attempt for one query answer."""
    samples = _samples(spec.query, status_code, body)
    return samples if isinstance(samples, AttemptReport) else _judge_samples(spec, samples)


def _samples(query: str, status_code: int, body: Any) -> AttemptReport | list[tuple[str, float]]:
    """Pure: the (series, value) pairs of one query answer, or the Error attempt of a bad one."""
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
    return samples


def _judge_samples(spec: PrometheusCheck, samples: list[tuple[str, float]]) -> AttemptReport:
    """Pure: the attempt for the samples of one answer (the threshold, onEmpty)."""
    query = spec.query
    if not samples:
        return _empty(spec, f"query {query!r} returned no data", "empty")
    if all(math.isnan(v) for _, v in samples):
        return _empty(spec, f"query {query!r} returned NaN", "NaN")
    if not _has_threshold(spec):  # a baseline alone judges the values
        shown = _show(samples[0][1]) if len(samples) == 1 else f"{len(samples)} series"
        return attempt(R.PASSED, f"{query} = {shown}", _show(samples[0][1]))
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


def _has_threshold(spec: PrometheusCheck) -> bool:
    return spec.less_than is not None or spec.greater_than is not None or spec.between is not None


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


def _short(observed: str) -> str:
    """A value as the report's measurements keep it: 4 significant digits."""
    try:
        return f"{float(observed):.4g}"
    except ValueError:
        return observed.replace(",", " ")


def _show(value: float) -> str:
    return f"{value:g}"


def _labels(metric: dict[str, str]) -> str:
    if not metric:
        return ""
    name = metric.get("__name__", "")
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{inner}}}"
