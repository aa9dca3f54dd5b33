"""The probe report: what a probe run found, as one versioned JSON document.

Schema `releaseguard.io/v1alpha1`, kind `ProbeReport` (camelCase on the wire)::

    {"apiVersion": "releaseguard.io/v1alpha1", "kind": "ProbeReport",
     "verdict": "Passed|Failed|Error", "failedCritical": ["orders"], "message": "one line",
     "startTime": "...", "finishTime": "...", "durationSeconds": 1.2,
     "summary": {"total", "passed", "failed", "flaky", "inconclusive", "error", "skipped"},
     "checks": [{"name", "type", "critical", "result", "message", "observed", "durationSeconds",
                 "failOnFlaky", "failOnInconclusive",
                 "attempts": [{"result", "durationSeconds", "message", "observed"}]}],
     "truncated": false}

A check's `result` is final (retries and `onEmpty` already applied); `failOnFlaky` and
`failOnInconclusive` carry the two spec settings the verdict still needs. The schema's version,
kind and keys and the verdict rule (`verdict_of`, `counts_as_failure`) are contract.py's; the
in-image script (checks/_script.py), which cannot import this package, carries a copy that a test
checks against contract.py for every input. `compact_json` renders a report that fits the kubelet's
4096-byte termination message; `parse_report` reads either form back.
`releaseguard probe --report-schema` prints the JSON Schema of this document.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, ValidationError, model_serializer
from pydantic.alias_generators import to_camel

from .api.status import CheckResultKind, Verdict
from .contract import REPORT_API_VERSION, REPORT_KIND, TERMINATION_LOG_LIMIT, fails, verdict_of
from .errors import ReportError

__all__ = [
    "REPORT_API_VERSION",
    "REPORT_KIND",
    "TERMINATION_LOG_LIMIT",
    "AttemptReport",
    "CheckReport",
    "Measurements",
    "ProbeReport",
    "SamplesReport",
    "Summary",
    "build_report",
    "compact_json",
    "merge_reports",
    "parse_report",
    "summarize",
    "verdict_message",
    "verdict_of",
]

R = CheckResultKind


class _ReportModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class AttemptReport(_ReportModel):
    result: CheckResultKind
    duration_seconds: float = 0.0
    message: str = ""
    observed: str = ""


MEASUREMENT_CODES: Final = {R.PASSED: "P", R.FAILED: "F", R.INCONCLUSIVE: "I", R.ERROR: "E"}
"""The letter of a measurement's result in `Measurements.results`."""


class Measurements(_ReportModel):
    """Every measurement of a repeated or compared prometheus check (issue 15), compactly, so that
    100 of them fit the 4096-byte termination message: one entry a measurement in each list, values
    to 4 significant digits, comma-separated ("" for none: an empty answer or an error)."""

    start_time: datetime | None = None
    """When the first measurement was taken."""
    interval_seconds: float = 0.0
    """The spec's intervalSeconds (0 for one measurement)."""
    offsets: list[float] = []
    """Seconds after startTime of each measurement, to 0.1 s."""
    values: str = ""
    """The value judged of each, e.g. "0.0421,0.0433,,0.05"."""
    baseline_values: str = ""
    """The baseline query's value at each, when the check compares revisions."""
    results: str = ""
    """One letter a measurement: P(assed), F(ailed), I(nconclusive), E(rror)."""

    def result_of(self, index: int) -> CheckResultKind:
        letter = self.results[index] if index < len(self.results) else "E"
        return next((k for k, v in MEASUREMENT_CODES.items() if v == letter), R.ERROR)

    def value_of(self, index: int, baseline: bool = False) -> str | None:
        items = (self.baseline_values if baseline else self.values).split(",")
        return (items[index] if index < len(items) else "") or None


class SamplesReport(_ReportModel):
    """An http check's samples (issue 15), in the full report only (the termination message never
    carries them): latencies in ms rounded to 0.1, outcomes one letter per sample, o (ok) or e (error)."""

    latencies_ms: list[float] = Field(default=[], max_length=200)
    outcomes: str = Field(default="", max_length=200, pattern=r"^[oe]*$")


class CheckReport(_ReportModel):
    name: str
    type: str = ""
    critical: bool = True
    result: CheckResultKind
    message: str = ""
    observed: str = ""
    duration_seconds: float = 0.0
    fail_on_flaky: bool = False
    fail_on_inconclusive: bool = False
    attempts: list[AttemptReport] = []
    samples: SamplesReport | None = None
    measurements: Measurements | None = None

    @model_serializer(mode="wrap")
    def _without_none_measurements(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        for key in ("measurements", "samples"):  # contract.OPTIONAL_CHECK_REPORT_KEYS: only when set
            if out.get(key) is None:
                out.pop(key, None)
        return out

    @property
    def counts_as_failure(self) -> bool:
        """Whether this result fails the verdict if the check is critical (contract.counts_as_failure)."""
        return fails(self)


class Summary(_ReportModel):
    total: int = 0
    passed: int = 0
    failed: int = 0
    flaky: int = 0
    inconclusive: int = 0
    error: int = 0
    skipped: int = 0


class ProbeReport(_ReportModel):
    api_version: Literal["releaseguard.io/v1alpha1"] = REPORT_API_VERSION
    kind: Literal["ProbeReport"] = REPORT_KIND
    verdict: Verdict
    failed_critical: list[str] = []
    message: str = ""
    start_time: datetime | None = None
    finish_time: datetime | None = None
    duration_seconds: float = 0.0
    summary: Summary = Field(default_factory=Summary)
    checks: list[CheckReport] = []
    truncated: bool = False

    def to_wire(self) -> dict[str, Any]:
        wire = self.model_dump(mode="json", by_alias=True)
        for check in wire["checks"]:
            if check.get("samples") is None:  # optional: only sampled http checks carry it
                check.pop("samples", None)
        return wire

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_wire(), indent=indent)

    def check(self, name: str) -> CheckReport:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)


# --- the verdict (the rule itself is contract.verdict_of) ----------------------------------------


def summarize(checks: Sequence[CheckReport]) -> Summary:
    counts = {kind: 0 for kind in CheckResultKind}
    for check in checks:
        counts[check.result] += 1
    return Summary(
        total=len(checks),
        passed=counts[R.PASSED],
        failed=counts[R.FAILED],
        flaky=counts[R.FLAKY],
        inconclusive=counts[R.INCONCLUSIVE],
        error=counts[R.ERROR],
        skipped=counts[R.SKIPPED],
    )


def build_report(
    checks: Sequence[CheckReport],
    start_time: datetime,
    finish_time: datetime,
    verdict: Verdict | None = None,
    message: str | None = None,
) -> ProbeReport:
    """A report over `checks`; the verdict is computed unless forced (Error when the runner broke)."""
    computed, failed = verdict_of(checks)
    final = verdict or computed
    return ProbeReport(
        verdict=final,
        failed_critical=failed,
        message=message if message is not None else verdict_message(final, checks, failed),
        start_time=start_time,
        finish_time=finish_time,
        duration_seconds=round((finish_time - start_time).total_seconds(), 3),
        summary=summarize(checks),
        checks=list(checks),
    )


def verdict_message(verdict: Verdict, checks: Sequence[CheckReport], failed_critical: Sequence[str]) -> str:
    total = len(checks)
    if verdict is Verdict.FAILED and failed_critical:
        by_name = {c.name: c for c in checks}
        first = by_name.get(failed_critical[0])
        detail = f": {first.name}: {first.message}" if first is not None and first.message else ""
        noun = "check" if len(failed_critical) == 1 else "checks"
        names = f" ({', '.join(failed_critical)})" if len(failed_critical) > 1 else ""
        soft = [c.name for c in checks if not c.critical and c.counts_as_failure]
        also = f", {len(soft)} non-critical ({', '.join(soft)})" if soft else ""
        return _one_line(f"{len(failed_critical)} critical {noun} failed{names}{also}{detail}")
    if verdict is Verdict.ERROR:
        return "the probe runner could not reach a verdict"
    passing = sum(1 for c in checks if c.result in (R.PASSED, R.FLAKY, R.SKIPPED))
    other = [c.name for c in checks if c.result not in (R.PASSED, R.FLAKY, R.SKIPPED)]
    tail = f"; not passing (non-critical or tolerated): {', '.join(other)}" if other else ""
    return _one_line(f"{passing} of {total} checks passed{tail}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- merging the reports of several Jobs -----------------------------------------------------


def merge_reports(reports: Sequence[ProbeReport]) -> ProbeReport:
    """One report for a verification that ran as several Jobs. Each input's summary counts are
    kept (a compact report may have dropped passed checks); the verdict is recomputed: Failed
    beats Error beats Passed."""
    if not reports:
        raise ReportError("no reports to merge")
    checks = [c for r in reports for c in r.checks]
    _, failed = verdict_of(checks)
    for report in reports:
        failed.extend(n for n in report.failed_critical if n not in failed)
    if failed:
        verdict = Verdict.FAILED
    elif any(r.verdict is Verdict.ERROR for r in reports):
        verdict = Verdict.ERROR
    else:
        verdict = Verdict.PASSED
    summary = Summary()
    for report in reports:
        for field in Summary.model_fields:
            setattr(summary, field, getattr(summary, field) + getattr(report.summary, field))
    starts = [r.start_time for r in reports if r.start_time is not None]
    finishes = [r.finish_time for r in reports if r.finish_time is not None]
    start, finish = (min(starts) if starts else None), (max(finishes) if finishes else None)
    if verdict is Verdict.ERROR:
        message = "; ".join(r.message for r in reports if r.verdict is Verdict.ERROR and r.message)
    else:
        message = verdict_message(verdict, checks, failed)
    return ProbeReport(
        verdict=verdict,
        failed_critical=failed,
        message=_one_line(message) or verdict_message(verdict, checks, failed),
        start_time=start,
        finish_time=finish,
        duration_seconds=round((finish - start).total_seconds(), 3) if start and finish else 0.0,
        summary=summary,
        checks=checks,
        truncated=any(r.truncated for r in reports),
    )


# --- parsing ---------------------------------------------------------------------------------


def parse_report(text: str | bytes) -> ProbeReport:
    """Read a report (full or compact). Raises ReportError saying what is wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReportError(f"probe report is not UTF-8: {exc}") from None
    if not text.strip():
        raise ReportError("probe report is empty")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        snippet = text.strip()[:80]
        raise ReportError(f"probe report is not JSON ({exc.msg} at char {exc.pos}): {snippet!r}") from None
    if not isinstance(document, dict):
        raise ReportError(f"probe report must be a JSON object, got {type(document).__name__}")
    if document.get("apiVersion") != REPORT_API_VERSION or document.get("kind") != REPORT_KIND:
        raise ReportError(
            f"not a probe report: expected apiVersion {REPORT_API_VERSION} and kind {REPORT_KIND}, "
            f"got {document.get('apiVersion')!r} and {document.get('kind')!r}"
        )
    try:
        return ProbeReport.model_validate(document)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ReportError(f"invalid probe report at {where or 'top level'}: {first['msg']}") from None


# --- the compact form ------------------------------------------------------------------------

_ORDER: Final = {R.FAILED: 0, R.ERROR: 1, R.INCONCLUSIVE: 2, R.FLAKY: 3, R.SKIPPED: 4, R.PASSED: 5}
_MESSAGE_CAPS: Final = (400, 200, 120, 60, 24, 0)
_DROP_MEASUREMENTS_AT: Final = 60


def compact_json(report: ProbeReport, limit: int = TERMINATION_LOG_LIMIT) -> str:
    """The report as JSON of at most `limit` bytes, always valid and always a parseable report.

    Fields come verdict first; failing checks come first. To fit, in order: attempts are dropped,
    then passed checks' messages, then passed checks, then messages are shortened (to 120
    characters), then measurements (a prometheus check's count) are dropped, then messages are
    shortened further, then the least important checks are dropped, and as a last resort the
    failedCritical list is cut.
    """
    head = {
        "apiVersion": report.api_version,
        "kind": report.kind,
        "verdict": report.verdict.value,
        "failedCritical": list(report.failed_critical),
        "message": report.message,
        "summary": report.summary.model_dump(by_alias=True),
        "startTime": _iso(report.start_time),
        "finishTime": _iso(report.finish_time),
        "durationSeconds": report.duration_seconds,
    }
    ranked = sorted(report.checks, key=lambda c: (not (c.critical and c.counts_as_failure), _ORDER[c.result]))
    checks = [_compact_check(c) for c in ranked]

    def render(items: list[dict[str, Any]], truncated: bool, message: str = report.message) -> str:
        doc = {**head, "message": message, "checks": items, "truncated": truncated or report.truncated}
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=True)

    text = render(checks, False)
    if len(text) <= limit:
        return text
    passing = [_is_passing(c) for c in ranked]
    stages: list[tuple[list[dict[str, Any]], str]] = []
    checks = [{k: v for k, v in c.items() if k != "attempts"} for c in checks]
    stages.append((checks, report.message))
    checks = [{k: v for k, v in c.items() if k != "message"} if p else c for c, p in zip(checks, passing, strict=True)]
    stages.append((checks, report.message))
    checks = [c for c, p in zip(checks, passing, strict=True) if not p]
    stages.append((checks, report.message))
    for cap in _MESSAGE_CAPS:
        if cap == _DROP_MEASUREMENTS_AT:  # measurements go before messages are cut any shorter
            checks = [{k: v for k, v in c.items() if k != "measurements"} for c in checks]
        shortened = [{**c, "message": _shorten(c.get("message", ""), cap)} for c in checks]
        stages.append((shortened, _shorten(report.message, max(cap, 80))))
    for items, message in stages:
        text = render(items, True, message)
        if len(text) <= limit:
            return text
    remaining, message = stages[-1]
    while remaining:
        remaining = remaining[:-1]
        text = render(remaining, True, message)
        if len(text) <= limit:
            return text
    names = list(report.failed_critical)
    while True:
        head["failedCritical"] = names
        text = render([], True, _shorten(report.message, 40))
        if len(text) <= limit or not names:
            break
        names = names[:-1]
    if len(text) > limit:
        raise ReportError(f"a probe report cannot be made to fit in {limit} bytes")
    return text


def _compact_check(check: CheckReport) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": check.name,
        "type": check.type,
        "critical": check.critical,
        "result": check.result.value,
        "message": check.message,
        "observed": check.observed,
        "durationSeconds": check.duration_seconds,
    }
    if check.fail_on_flaky:
        out["failOnFlaky"] = True
    if check.fail_on_inconclusive:
        out["failOnInconclusive"] = True
    if check.attempts:
        out["attempts"] = [a.model_dump(mode="json", by_alias=True) for a in check.attempts]
    if check.measurements is not None:
        kept = check.measurements.model_dump(mode="json", by_alias=True)
        out["measurements"] = {k: v for k, v in kept.items() if v not in ([], None, "")}
    return out


def _is_passing(check: CheckReport) -> bool:
    return check.result in (R.PASSED, R.SKIPPED) or (check.result is R.FLAKY and not check.fail_on_flaky)


def _shorten(text: str, cap: int) -> str:
    if len(text) <= cap:
        return text
    return text[: max(cap - 1, 0)] + "…" if cap else ""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
