"""Sampled http checks against their baseline (issue 15): the decision's half, pure.

The probe sends a sampled check's `samples.count` extra requests and prints them in its full
report (stdout, the pod's log); the reconciler reads them from the trusted pod's log and reads
the rv's VerificationRuns, and passes both here. This module:

- reads samples from a report (`samples_from_report`) and from a record (`samples_from_record`),
  and writes them for a record (`samples_record`);
- picks each check's baseline (`baselines_from_records`): the newest Passed run of this rv and
  this Deployment (by uid) in which the check passed or was Inconclusive and whose samples were
  taken with the same method and URL (`target_digest`), other than the current run;
- judges (`judge_baselines`): core.baseline.compare for every check with a `baseline`, and the
  check's result becomes Failed (a critical one then fails the verdict and rolls back as any
  failed check does), Inconclusive (never a rollback) or stays Passed, with the comparison's
  message. A check whose own first request already failed keeps its result; its comparison is
  still recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..api import Check, CheckResultKind, CheckStatus, Verdict
from ..api.spec import BaselineSpec
from ..api.status import BaselineComparisonStatus
from ..api.vrun import SamplesRecord
from ..errors import ReportError
from ..report import CheckReport, ProbeReport, SamplesReport, build_report, parse_report
from .baseline import BaselinePolicy, BaselineVerdict, Comparison, SampleOutcome, Samples, compare
from .outcome import MESSAGE_LIMIT, cap
from .own_records import newest_first

Obj = dict[str, Any]
R = CheckResultKind
SAMPLES_LIMIT = 200
_EPOCH = datetime.fromtimestamp(0, UTC)  # only for a report without times (never a merged one)
_LETTER = {SampleOutcome.OK: "o", SampleOutcome.ERROR: "e"}
_OUTCOME = {"o": SampleOutcome.OK, "e": SampleOutcome.ERROR}


@dataclass(frozen=True)
class Baseline:
    revision: int
    samples: Samples


def sampled_checks(checks: Sequence[Check]) -> list[Check]:
    return [c for c in checks if c.http is not None and c.http.samples is not None]


def compared_checks(checks: Sequence[Check]) -> list[Check]:
    return [c for c in sampled_checks(checks) if c.http is not None and c.http.baseline is not None]


def target_digest(check: Check) -> str:
    """What the samples measured: the method and URL (12 hex digits of their SHA-256)."""
    assert check.http is not None
    return hashlib.sha256(f"{check.http.method} {check.http.url}".encode()).hexdigest()[:12]


def policy_of(spec: BaselineSpec) -> BaselinePolicy:
    return BaselinePolicy(
        max_slowdown_percent=spec.max_slowdown_percent,
        max_error_rate_increase_points=spec.max_error_rate_increase_points,
        percentile=spec.percentile,
        alpha=spec.alpha,
        min_samples=spec.min_samples,
    )


# --- the wire: a report's samples, a record's samples --------------------------------------------


def samples_from_report(report: SamplesReport) -> Samples:
    """A probe report's samples. The report's model bounds them (200, o/e only); a count mismatch
    is left for Samples.problem to name."""
    outcomes = tuple(_OUTCOME[letter] for letter in report.outcomes)
    return Samples(tuple(float(ms) for ms in report.latencies_ms), outcomes)


def samples_by_check(report: ProbeReport) -> dict[str, Samples]:
    return {c.name: samples_from_report(c.samples) for c in report.checks if c.samples is not None}


def report_from_log(text: str) -> ProbeReport | None:
    """The probe's full report in its container's log (its stdout: an indented JSON document that
    starts with a `{` line; stderr may be interleaved before or after), or None."""
    decoder = json.JSONDecoder()
    position = 0
    while True:
        start = text.find("{", position)
        if start < 0:
            return None
        if start == 0 or text[start - 1] == "\n":
            try:
                document, _ = decoder.raw_decode(text, start)
            except ValueError:
                document = None
            if isinstance(document, dict) and document.get("kind") == "ProbeReport":
                try:
                    return parse_report(json.dumps(document))
                except ReportError:
                    return None
        position = start + 1


def samples_record(samples: Samples, check: Check) -> SamplesRecord:
    kept = samples.count if samples.count <= SAMPLES_LIMIT else SAMPLES_LIMIT
    return SamplesRecord(
        target=target_digest(check),
        count=kept,
        latencies_ms=[round(ms, 1) for ms in samples.latencies_ms[:kept]],
        outcomes="".join(_LETTER[o] for o in samples.outcomes[:kept]),
    )


def samples_from_record(raw: Any) -> Samples | None:
    """A record's samples as a Samples, or None when there is nothing usable. A record is outside
    input: what is malformed in it is returned as it is, for Samples.problem to name (compare then
    says Inconclusive), never raised."""
    if not isinstance(raw, dict):
        return None
    latencies = raw.get("latenciesMs")
    outcomes = raw.get("outcomes")
    if not isinstance(latencies, list) or not isinstance(outcomes, str):
        return None
    letters: tuple[Any, ...] = tuple(_OUTCOME.get(letter, letter) for letter in outcomes[: SAMPLES_LIMIT + 1])
    values: tuple[Any, ...] = tuple(
        float(ms) if isinstance(ms, int | float) and not isinstance(ms, bool) else ms
        for ms in latencies[: SAMPLES_LIMIT + 1]
    )
    return Samples(values, letters)


# --- choosing the baseline -------------------------------------------------------------------


def _revision(record: Obj) -> int | None:
    value = (record.get("spec") or {}).get("revision")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def baselines_from_records(
    checks: Sequence[Check], records: Sequence[Obj], *, current: str | None, target_uid: str | None
) -> dict[str, Baseline]:
    """Per compared check, the samples of the newest Passed run (other than `current`) of the same
    Deployment (`target_uid`, when both know it) in which that check was Passed or Inconclusive and
    measured the same method and URL."""
    wanted = {c.name: target_digest(c) for c in compared_checks(checks)}
    found: dict[str, Baseline] = {}
    for record in newest_first(records):  # by creationTimestamp: the API server's, not a writer's
        if not wanted.keys() - found.keys():
            break
        meta, spec, status = record.get("metadata") or {}, record.get("spec") or {}, record.get("status") or {}
        revision = _revision(record)
        if meta.get("name") == current or status.get("verdict") != Verdict.PASSED.value or revision is None:
            continue
        uid = spec.get("targetUID")
        if not uid or (target_uid and uid != target_uid):  # the operator always records it
            continue
        for entry in status.get("checks") or []:
            if not isinstance(entry, dict):
                continue
            name = entry.get("name")
            if not isinstance(name, str) or name not in wanted or name in found:
                continue
            if entry.get("result") not in (R.PASSED.value, R.INCONCLUSIVE.value):
                continue
            raw = entry.get("samples")
            if not isinstance(raw, dict) or raw.get("target") != wanted[name]:
                continue
            samples = samples_from_record(raw)
            if samples is not None:
                found[name] = Baseline(revision, samples)
    return found


# --- judging ---------------------------------------------------------------------------------


def _missing() -> Comparison:
    return Comparison(
        BaselineVerdict.INCONCLUSIVE,
        "SamplesMissing",
        "this run's samples could not be read from the probe pod's log; nothing compared",
        None,
    )


def judge_baselines(
    report: ProbeReport,
    checks: Sequence[Check],
    current: Mapping[str, Samples],
    baselines: Mapping[str, Baseline],
) -> tuple[ProbeReport, dict[str, Comparison]]:
    """The report with every compared check judged against its baseline, and the comparisons.
    A report whose verdict is Error (the runner broke) is left as it is: nothing is compared."""
    compared = {c.name: c for c in compared_checks(checks)}
    if not compared or report.verdict is Verdict.ERROR:
        return report, {}
    comparisons: dict[str, Comparison] = {}
    out: list[CheckReport] = []
    for reported in report.checks:
        check = compared.get(reported.name)
        if check is None or check.http is None or check.http.baseline is None:
            out.append(reported)
            continue
        samples = current.get(check.name)
        if samples is None:
            comparison = _missing()
        else:
            base = baselines.get(check.name)
            comparison = compare(
                samples,
                base.samples if base is not None else None,
                policy_of(check.http.baseline),
                base.revision if base is not None else None,
            )
        comparisons[check.name] = comparison
        out.append(_judged(reported, comparison))
    if out == list(report.checks):
        return report, comparisons
    start = report.start_time or report.finish_time or _EPOCH
    rebuilt = build_report(out, start, report.finish_time or start)
    return rebuilt.model_copy(update={"duration_seconds": report.duration_seconds}), comparisons


def _judged(reported: CheckReport, comparison: Comparison) -> CheckReport:
    if reported.result is not R.PASSED:
        return reported  # its first request already failed (or broke): that stands
    if comparison.verdict is BaselineVerdict.FAILED:
        return reported.model_copy(update={"result": R.FAILED, "message": cap(comparison.message, MESSAGE_LIMIT)})
    if comparison.verdict is BaselineVerdict.INCONCLUSIVE:
        return reported.model_copy(update={"result": R.INCONCLUSIVE, "message": cap(comparison.message, MESSAGE_LIMIT)})
    return reported.model_copy(
        update={"message": cap(f"{reported.message}; baseline: {comparison.message}", MESSAGE_LIMIT)}
    )


def attach_comparisons(statuses: Sequence[CheckStatus], comparisons: Mapping[str, Comparison]) -> None:
    """Record each comparison on its check's status (lastRun.checks[], and from there the record)."""
    for status in statuses:
        comparison = comparisons.get(status.name)
        if comparison is not None:
            status.baseline = comparison_status(comparison)


def comparison_status(comparison: Comparison) -> BaselineComparisonStatus:
    wire = comparison.to_wire()
    for part in ("latency", "errorRate"):
        for key, value in list((wire.get(part) or {}).items()):
            if isinstance(value, float) and not math.isfinite(value):
                wire[part].pop(key)
    return BaselineComparisonStatus.model_validate(wire)
