from __future__ import annotations

from releaseguard.api import Verdict, parse_release_verification
from releaseguard.core.outcome import check_statuses, job_outcome, merged_outcome, passed_of_total
from support.factories import NOW, finished_job, http_check, report, rv_body

CHECKS = parse_release_verification(rv_body(checks=[http_check("a"), http_check("b", critical=False)])).spec.checks
JOB = {"metadata": {"name": "rv-x", "annotations": {"releaseguard.io/checks": "a,b"}}}


def test_report_from_the_termination_message() -> None:
    out = job_outcome(finished_job(JOB), report([("a", "Passed", True), ("b", "Failed", False)]), CHECKS, True, now=NOW)
    assert out.from_message and not out.broken
    assert out.report.verdict is Verdict.PASSED
    assert passed_of_total(out.report) == (1, 2)
    statuses = check_statuses(out.report)
    assert [(s.name, s.result.value, s.critical) for s in statuses] == [("a", "Passed", True), ("b", "Failed", False)]


def test_failed_runner_without_report_is_an_error() -> None:
    out = job_outcome(finished_job(JOB, succeeded=False), None, CHECKS, in_runner=True, now=NOW)
    assert out.broken and not out.from_message
    merged = merged_outcome([out])
    assert merged.verdict is Verdict.ERROR
    assert "DeadlineExceeded" in merged.message


def test_failed_target_job_without_report_fails_its_check() -> None:
    job = {"metadata": {"name": "rv-y", "annotations": {"releaseguard.io/checks": "a"}}}
    out = job_outcome(finished_job(job, succeeded=False), "", CHECKS, in_runner=False, now=NOW)
    assert not out.broken
    assert out.report.verdict is Verdict.FAILED
    assert out.report.failed_critical == ["a"]


def test_real_failures_beat_a_broken_runner() -> None:
    broken = job_outcome(finished_job(JOB, succeeded=False), None, CHECKS, in_runner=True, now=NOW)
    other = {"metadata": {"name": "rv-z", "annotations": {"releaseguard.io/checks": "c"}}}
    c = parse_release_verification(rv_body(checks=[http_check("c")])).spec.checks
    failing = job_outcome(finished_job(other), report([("c", "Failed", True)]), c, in_runner=False, now=NOW)
    assert merged_outcome([broken, failing]).verdict is Verdict.FAILED


def test_unparseable_message_says_why() -> None:
    out = job_outcome(finished_job(JOB), "{not json", CHECKS, in_runner=True, now=NOW)
    assert out.report.verdict is Verdict.ERROR and out.broken
    assert "not JSON" in out.report.checks[0].message
