"""The outcome of a verification's finished Jobs, as one ProbeReport.

Each Job's pod writes its report to the termination log; when there is none (the pod never ran,
the image has no runner, the message is not a report) the Job's own outcome stands in for the
checks it ran, so a verdict is always reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..api import Check, CheckResultKind, CheckStatus, Verdict
from ..errors import ReportError
from ..jobs import checks_of, job_failure_message, job_finished
from ..report import CheckReport, ProbeReport, build_report, merge_reports, parse_report, verdict_message

Obj = dict[str, Any]
R = CheckResultKind


@dataclass(frozen=True)
class JobOutcome:
    name: str
    report: ProbeReport
    from_message: bool  # False when the Job's outcome stood in for a missing or broken report
    broken: bool = False  # the runner itself failed: no verdict can be drawn from this Job


def job_outcome(job: Obj, message: str | None, checks: Sequence[Check], in_runner: bool) -> JobOutcome:
    """The report of one finished Job: its termination message if that is a report, else a
    report made from the Job's outcome. A runner Job that failed without a report is an Error
    (the verification broke); a check in the target's image that could not even report is a
    Failed check (the release cannot run it)."""
    name = str((job.get("metadata") or {}).get("name", ""))
    problem = ""
    if message:
        try:
            return JobOutcome(name, parse_report(message), True)
        except ReportError as exc:
            problem = f"{exc}"
    state = job_finished(job)
    by_name = {c.name: c for c in checks}
    names = checks_of(job) or [c.name for c in checks]
    if state == "Complete":
        result, text = R.PASSED, "the Job succeeded without a report"
    else:
        result = R.ERROR if in_runner else R.FAILED
        text = job_failure_message(job)
    if problem:
        text = f"{text} ({problem})"
    reports = [
        CheckReport(
            name=n,
            type=by_name[n].type if n in by_name else "",
            critical=by_name[n].critical if n in by_name else True,
            fail_on_flaky=by_name[n].fail_on_flaky if n in by_name else False,
            result=result,
            message=text[:1024],
        )
        for n in names
    ]
    start = finish = _job_time(job)
    forced = Verdict.ERROR if result is R.ERROR else None
    report = build_report(reports, start, finish, verdict=forced, message=text[:1024] if forced else None)
    return JobOutcome(name, report, False, broken=forced is not None)


def _job_time(job: Obj) -> Any:
    from datetime import UTC, datetime

    raw = (job.get("status") or {}).get("completionTime") or (job.get("status") or {}).get("startTime")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
    return datetime.now(UTC)


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
            observed=c.observed or None,
            message=c.message[:1024],
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
