"""Property-based tests (hypothesis) over the trust boundary: the models, the report parser, the
termination-message path, and the generated in-image script's inputs."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from releaseguard.api import CheckResultKind, parse_checks, parse_release_verification
from releaseguard.core.outcome import MESSAGE_LIMIT, OBSERVED_LIMIT, job_outcome
from releaseguard.errors import ReportError, SpecInvalidError
from releaseguard.probe.checks import _script, run_checks
from releaseguard.probe.checks.headers import REDACTED, Redactor
from releaseguard.probe.checks.standalone import check_payload, container_command
from releaseguard.report import TERMINATION_LOG_LIMIT, CheckReport, build_report, compact_json, parse_report

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)


def _rv(spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": "p", "namespace": "p"},
        "spec": spec,
    }


@SETTINGS
@given(st.dictionaries(st.sampled_from(["targetRef", "checks", "timeoutSeconds", "runner", "x"]), json_values))
def test_the_models_refuse_any_garbage_with_field_errors_only(spec: dict[str, Any]) -> None:
    try:
        parse_release_verification(_rv(spec))
    except SpecInvalidError as exc:
        assert exc.errors and all(isinstance(e.path, str) and e.message for e in exc.errors)


check_strategy = st.one_of(
    st.builds(lambda n, u: {"name": n, "http": {"url": f"http://{u}.svc/"}}, names, names),
    st.builds(lambda n, h, p: {"name": n, "tcp": {"host": h, "port": p}}, names, names, st.integers(1, 65535)),
    st.builds(
        lambda n, argv: {"name": n, "command": {"command": argv}},
        names,
        st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=5),
    ),
)


@SETTINGS
@given(st.lists(check_strategy, min_size=1, max_size=6, unique_by=lambda c: c["name"]), st.integers(1, 64))
def test_a_valid_rv_round_trips_through_its_wire_form(checks: list[dict[str, Any]], parallelism: int) -> None:
    spec = {"targetRef": {"name": "shop"}, "checks": checks, "parallelism": parallelism}
    rv = parse_release_verification(_rv(spec))
    wire = {"targetRef": {"name": "shop"}, "checks": [c.to_wire() for c in rv.spec.checks], "parallelism": parallelism}
    again = parse_release_verification(_rv(wire))
    assert [c.to_wire() for c in again.spec.checks] == [c.to_wire() for c in rv.spec.checks]


@SETTINGS
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), json_values.map(json.dumps)))
def test_the_report_parser_reads_or_says_why_never_anything_else(text: Any) -> None:
    try:
        parse_report(text)
    except ReportError as exc:
        assert str(exc)


reports = st.builds(
    lambda n, r, c, m, o: CheckReport(name=n, type="http", critical=c, result=r, message=m, observed=o),
    names,
    st.sampled_from(list(CheckResultKind)),
    st.booleans(),
    st.text(max_size=3000),
    st.text(max_size=500),
)


@SETTINGS
@given(st.lists(reports, max_size=80, unique_by=lambda c: c.name))
def test_the_termination_message_always_fits_parses_and_keeps_the_verdict(checks: list[CheckReport]) -> None:
    report = build_report(checks, NOW, NOW)
    text = compact_json(report)
    assert len(text.encode()) <= TERMINATION_LOG_LIMIT
    back = parse_report(text)
    assert back.verdict is report.verdict
    assert set(back.failed_critical) <= set(report.failed_critical)


spec_checks = parse_checks({"checks": [{"name": f"c{i}", "http": {"url": "http://s/"}} for i in range(5)]})


@SETTINGS
@given(st.lists(reports, max_size=30), st.booleans(), st.one_of(st.none(), st.text(max_size=100)))
def test_a_jobs_outcome_covers_exactly_its_checks_with_capped_strings(
    claimed: list[CheckReport], truncated: bool, problem: str | None
) -> None:
    message = build_report(claimed, NOW, NOW).model_copy(update={"truncated": truncated}).to_json()
    job = {"metadata": {"name": "j"}, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    out = job_outcome(job, message, spec_checks, in_runner=True, problem=problem, now=NOW)
    assert [c.name for c in out.report.checks] == [c.name for c in spec_checks]
    for check in out.report.checks:
        assert check.critical is True and check.type == "http"  # from the spec, whatever the report said
        assert len(check.message) <= MESSAGE_LIMIT and len(check.observed) <= OBSERVED_LIMIT
    if problem is not None:
        assert out.broken and all(c.result is CheckResultKind.ERROR for c in out.report.checks)


@SETTINGS
@given(st.text(min_size=1, max_size=40), st.text(max_size=200))
def test_a_secret_is_redacted_in_every_form(secret: str, around: str) -> None:
    redactor = Redactor()
    redactor.add(secret)
    core = secret.strip()
    if not core:
        return
    for form in (secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
        text = redactor.redact(around + form + around)
        assert form not in text or REDACTED in form or form in around


@SETTINGS
@given(st.lists(st.text(min_size=1, max_size=50).filter(lambda a: "\x00" not in a), min_size=1, max_size=8))
def test_the_in_image_script_gets_its_check_exactly_as_argv_never_through_a_shell(argv: list[str]) -> None:
    [check] = parse_checks({"checks": [{"name": "c", "command": {"command": argv, "stdoutMatches": "."}}]})
    command = container_command(check, termination_log="/dev/termination-log")
    assert command[1] == "-c" and command[3] == "run"
    payload = json.loads(command[4])
    assert payload == json.loads(check_payload(check))
    assert payload["command"]["command"] == argv


@SETTINGS
@given(st.text(max_size=5000), st.text(max_size=5000), st.sampled_from(["Passed", "Failed", "Error"]))
@example("m" * 6000, "o" * 6000, "Failed")
@example("\u00e9" * 6000, "\u2603" * 6000, "Error")
def test_the_in_image_scripts_termination_message_fits_and_parses(message: str, observed: str, result: str) -> None:
    check = {"name": "c", "type": "command", "critical": True, "result": result, "message": message}
    check["observed"] = observed
    report = _script.probe_report({**check, "attempts": [dict(check)] * 3}, NOW, NOW)
    text = _script.compact(report)
    assert len(text.encode()) <= TERMINATION_LOG_LIMIT
    assert parse_report(text).checks[0].name == "c"


@pytest.mark.slow
@settings(max_examples=12, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=30),
        max_size=5,
    )
)
def test_the_in_image_script_runs_any_argv_as_given(args: list[str]) -> None:
    import asyncio

    code = "import sys, json; print(json.dumps(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, *args]
    pattern = "^" + re.escape(json.dumps(args)) + "$"
    command = {"command": argv, "python": sys.executable, "stdoutMatches": pattern}
    [check] = parse_checks({"checks": [{"name": "c", "command": command}]})
    report = asyncio.run(run_checks([check]))
    assert report.checks[0].result is CheckResultKind.PASSED, report.checks[0].message
