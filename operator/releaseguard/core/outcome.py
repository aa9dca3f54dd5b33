"""The outcome of a verification's finished Jobs, as one ProbeReport.

Each Job's pod writes its report to the termination log; when there is none (the pod never ran,
the image has no runner, the message is not a report) the Job's own outcome stands in for the
checks it ran, so a verdict is always reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ..api import Check, CheckResultKind, CheckStatus, Verdict
from ..errors import ReportError
from ..report import AttemptReport, CheckReport, ProbeReport, build_report, merge_reports, parse_report, verdict_message
from .jobs import job_failure_message, job_finished

Obj = dict[str, Any]
R = CheckResultKind


@dataclass(frozen=True)
class JobOutcome:
    name: str
    report: ProbeReport
    from_message: bool  # False when the Job's outcome stood in for a missing or broken report
    broken: bool = False  # the runner itself failed: no verdict can be drawn from this Job


MESSAGE_LIMIT: Final = 512
OBSERVED_LIMIT: Final = 256


def cap(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def job_outcome(
    job: Obj,
    message: str | None,
    checks: Sequence[Check],
    in_runner: bool,
    problem: str | None = None,
    *,
    now: datetime,
) -> JobOutcome:
    """The report of one finished Job about `checks`, the checks the spec assigned to it.

    From its termination message when that is a report: filtered to `checks`, with `critical`
    and the failure flags taken from the spec and every string capped; an assigned check the
    report leaves out is Error. Otherwise the Job's own outcome stands in: a runner Job that
    failed without a report is an Error (the verification broke); a check in the target's image
    whose container ran and failed without reporting is Failed (the release cannot run it). A Job
    whose pod cannot be trusted or never ran its container (`problem`) makes its checks Error.
    Every Error that is not a check's own result marks the outcome broken: it never rolls back.
    `now` dates a stand-in report whose Job shows no time of its own."""
    name = str((job.get("metadata") or {}).get("name", ""))
    if problem is not None:
        return _stand_in(name, job, checks, R.ERROR, cap(problem, MESSAGE_LIMIT), now)
    reason = ""
    if message:
        try:
            return _from_report(name, parse_report(message), checks, job, now)
        except ReportError as exc:
            reason = f" ({cap(str(exc), 200)})"
    if job_finished(job) == "Complete":
        return _stand_in(name, job, checks, R.ERROR, f"the Job succeeded without a report{reason}", now)
    text = cap(job_failure_message(job), 300) + reason
    return _stand_in(name, job, checks, R.ERROR if in_runner else R.FAILED, text, now)


def _stand_in(name: str, job: Obj, checks: Sequence[Check], result: R, text: str, now: datetime) -> JobOutcome:
    reports = [_spec_fields(CheckReport(name=c.name, result=result, message=text), c) for c in checks]
    start = finish = _job_time(job, now)
    forced = Verdict.ERROR if result is R.ERROR else None
    report = build_report(reports, start, finish, verdict=forced, message=text if forced else None)
    return JobOutcome(name, report, False, broken=forced is not None)


def _spec_fields(report: CheckReport, check: Check) -> CheckReport:
    """The check as the spec says it is (name, type, critical, flags), with its strings capped."""
    return CheckReport(
        name=check.name,
        type=check.type,
        critical=check.critical,
        result=report.result,
        message=cap(report.message, MESSAGE_LIMIT),
        observed=cap(report.observed, OBSERVED_LIMIT),
        duration_seconds=max(min(report.duration_seconds, 1e6), 0.0),
        fail_on_flaky=check.fail_on_flaky,
        fail_on_inconclusive=bool(getattr(check.config, "fail_on_inconclusive", False)),
        attempts=[
            AttemptReport(result=a.result, duration_seconds=max(min(a.duration_seconds, 1e6), 0.0))
            for a in report.attempts[: check.retries + 1]
        ],
    )


def _from_report(name: str, report: ProbeReport, checks: Sequence[Check], job: Obj, now: datetime) -> JobOutcome:
    found: dict[str, CheckReport] = {}
    for reported in report.checks:
        found.setdefault(reported.name, reported)
    present = [found[c.name] for c in checks if c.name in found]
    # a compact report drops passing checks first and failing ones last: a check it left out
    # passed exactly when the report's own counts leave no unexplained failure
    shown_bad = sum(1 for c in present if c.result not in (R.PASSED, R.FLAKY, R.SKIPPED))
    s = report.summary
    unexplained_bad = s.failed + s.error + s.inconclusive - shown_bad
    out: list[CheckReport] = []
    missing: list[str] = []
    for check in checks:
        got = found.get(check.name)
        if got is None and report.truncated and unexplained_bad <= 0 and check.name not in report.failed_critical:
            got = CheckReport(
                name=check.name, result=R.PASSED, message="passed (detail dropped from a truncated report)"
            )
        if got is None:
            missing.append(check.name)
            got = CheckReport(
                name=check.name, result=R.ERROR, message=f"check {check.name} is missing from the report of Job {name}"
            )
        out.append(_spec_fields(got, check))
    start = report.start_time or _job_time(job, now)
    finish = report.finish_time or start
    broken = bool(missing) or report.verdict is Verdict.ERROR
    if broken:
        why = f"checks missing from the report: {', '.join(missing)}" if missing else cap(report.message, MESSAGE_LIMIT)
        rebuilt = build_report(
            out, start, finish, verdict=Verdict.ERROR, message=cap(f"Job {name}: {why}", MESSAGE_LIMIT)
        )
    else:
        rebuilt = build_report(out, start, finish)
    return JobOutcome(name, rebuilt, True, broken=broken)


def _job_time(job: Obj, now: datetime) -> datetime:
    raw = (job.get("status") or {}).get("completionTime") or (job.get("status") or {}).get("startTime")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
    return now


def merged_outcome(outcomes: Sequence[JobOutcome]) -> ProbeReport:
    """All Jobs' reports as one. Checks that did fail decide (Failed); otherwise a broken runner
    makes the verdict Error, never Failed, so an infrastructure problem does not roll back."""
    merged = merge_reports([o.report for o in outcomes])
    broken = [o for o in outcomes if o.broken]
    if not broken:
        return merged
    sound = [o.report for o in outcomes if not o.broken]
    if sound and merge_reports(sound).verdict is Verdict.FAILED:
        return merged
    message = "; ".join(f"{o.name}: {o.report.message}" for o in broken)
    return merged.model_copy(update={"verdict": Verdict.ERROR, "failed_critical": [], "message": message})


def in_spec_order(report: ProbeReport, checks: Sequence[Check]) -> ProbeReport:
    """The report with its checks (and failed critical checks) in the spec's order, so a run's
    failures read the same however its Jobs finished; a Failed verdict's message follows."""
    rank = {c.name: i for i, c in enumerate(checks)}
    ordered = sorted(report.checks, key=lambda c: rank.get(c.name, len(rank)))
    failed = sorted(report.failed_critical, key=lambda n: rank.get(n, len(rank)))
    update: dict[str, Any] = {"checks": ordered, "failed_critical": failed}
    if report.verdict is Verdict.FAILED and failed:
        update["message"] = verdict_message(report.verdict, ordered, failed)
    return report.model_copy(update=update)


def check_statuses(report: ProbeReport) -> list[CheckStatus]:
    return [
        CheckStatus(
            name=c.name,
            type=c.type or None,
            critical=c.critical,
            result=c.result,
            attempts=len(c.attempts) or 1,
            duration_seconds=round(c.duration_seconds, 3),
            observed=cap(c.observed, OBSERVED_LIMIT) or None,
            message=cap(c.message, MESSAGE_LIMIT),
        )
        for c in report.checks
    ]


def passed_of_total(report: ProbeReport) -> tuple[int, int]:
    """How many checks passed, of how many (from the summary: a compact report drops passed checks)."""
    summary = report.summary
    total = summary.total or len(report.checks)
    failing_flaky = sum(1 for c in report.checks if c.result is R.FLAKY and c.fail_on_flaky)
    return summary.passed + summary.flaky - failing_flaky, total


def non_critical_failures(report: ProbeReport) -> list[str]:
    return [c.name for c in report.checks if not c.critical and c.counts_as_failure]
