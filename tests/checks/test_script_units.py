"""Pure parts of the standalone script: attempts into a result, JUnit XML into sentences, compaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from releaseguard import contract
from releaseguard.api import Placement, types_in
from releaseguard.api.status import CheckResultKind
from releaseguard.probe.checks import _script
from releaseguard.report import CheckReport, parse_report


def a(result: str, message: str = "m", observed: str = "") -> dict[str, object]:
    return _script.attempt(result, message, observed)


def test_resolve() -> None:
    assert _script.resolve([a("Passed", "ok", "exit 0")]) == ("Passed", "ok", "exit 0")
    assert _script.resolve([a("Failed", "boom"), a("Failed", "bang", "exit 1")]) == (
        "Failed",
        "bang after 2 attempts",
        "exit 1",
    )
    assert _script.resolve([a("Error", "e1"), a("Failed", "f"), a("Passed", "ok", "exit 0")]) == (
        "Flaky",
        "passed on attempt 3 of 3; earlier: e1",
        "exit 0",
    )
    assert _script.resolve([a("Skipped", "no yaml")]) == ("Skipped", "no yaml", "")


def test_backoff_is_short_and_capped() -> None:
    assert [_script.backoff_seconds(n) for n in (1, 2, 3, 4, 5, 6)] == [0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" tests="4">
<testcase classname="tests.test_api" name="test_ok" file="tests/test_api.py" line="3" time="0.01"/>
<testcase classname="tests.test_api.TestOrders" name="test_price" file="tests/test_api.py" line="10" time="0.01">
<failure message="AssertionError: assert None == 9.5">def test_price():
&gt;       assert body["price"] == 9.5
E       AssertionError: assert None == 9.5

tests/test_api.py:12: AssertionError</failure></testcase>
<testcase classname="tests.test_db" name="test_conn" file="tests/test_db.py" line="0" time="0.0">
<error message="failed on setup with &quot;RuntimeError: no db&quot;">shop/db.py:7: in connect
    raise RuntimeError("no db")
E   RuntimeError: no db</error></testcase>
<testcase classname="tests.test_db" name="test_skip" file="tests/test_db.py" line="4" time="0.0"><skipped message="later"/></testcase>
</testsuite></testsuites>"""


def test_junit_failures_name_test_ids_and_lines() -> None:
    total, failures = _script.junit_failures(JUNIT)
    assert total == 4
    assert failures == [
        "tests/test_api.py::TestOrders::test_price failed at tests/test_api.py:12: AssertionError: assert None == 9.5",
        'tests/test_db.py::test_conn errored at shop/db.py:7: failed on setup with "RuntimeError: no db"',
    ]


def test_script_compact_fits() -> None:
    check = {
        "name": "big",
        "type": "command",
        "critical": True,
        "result": "Failed",
        "message": "x" * 1500,
        "observed": "exit 1",
        "durationSeconds": 1.0,
        "failOnFlaky": False,
        "failOnInconclusive": False,
        "attempts": [a("Failed", "y" * 1500) for _ in range(11)],
    }
    now = datetime.now(UTC)
    report = _script.probe_report(check, now, now)
    text = _script.compact(report)
    assert len(text.encode()) <= 4096
    back = parse_report(text)
    assert back.truncated and back.verdict.value == "Failed" and back.failed_critical == ["big"]
    assert back.check("big").message.startswith("xxx")
    assert json.loads(_script.compact({**report, "checks": [{**check, "attempts": []}]}))["truncated"] is False


@pytest.mark.parametrize("result", list(CheckResultKind))
@pytest.mark.parametrize("flaky", [False, True])
@pytest.mark.parametrize("inconclusive", [False, True])
def test_script_and_report_agree_on_what_fails(result: CheckResultKind, flaky: bool, inconclusive: bool) -> None:
    """The script cannot import the contract, so it repeats the rule; they must not drift."""
    wire = {"name": "c", "result": result.value, "failOnFlaky": flaky, "failOnInconclusive": inconclusive}
    rule = contract.counts_as_failure(result, fail_on_flaky=flaky, fail_on_inconclusive=inconclusive)
    assert _script.counts_as_failure(wire) == rule == CheckReport.model_validate(wire).counts_as_failure


def test_the_script_shares_the_contracts_constants_and_the_registrys_types() -> None:
    assert _script.API_VERSION == contract.REPORT_API_VERSION
    assert _script.TERMINATION_LIMIT == contract.TERMINATION_LOG_LIMIT
    assert set(_script.TYPES) == set(types_in(Placement.TARGET_IMAGE))
    assert set(_script.RETRYABLE) | {_script.PASSED, _script.FLAKY, _script.SKIPPED} == {
        k.value for k in CheckResultKind
    }


def test_the_script_and_the_report_models_write_the_contracts_keys() -> None:
    now = datetime.now(UTC)
    check = _script.run_check({"name": "c", "command": {"command": ["true"]}})
    report = _script.probe_report(check, now, now)
    assert tuple(report) == contract.REPORT_KEYS
    assert tuple(report["summary"]) == contract.SUMMARY_KEYS
    assert tuple(check) == contract.CHECK_REPORT_KEYS
    assert tuple(check["attempts"][0]) == contract.ATTEMPT_KEYS
    wire = parse_report(json.dumps(report)).to_wire()
    assert tuple(wire) == contract.REPORT_KEYS
    assert tuple(wire["summary"]) == contract.SUMMARY_KEYS
    assert tuple(wire["checks"][0]) == contract.CHECK_REPORT_KEYS
    assert set(wire["checks"][0]["attempts"][0]) == set(contract.ATTEMPT_KEYS)


@pytest.mark.parametrize("result", list(CheckResultKind))
@pytest.mark.parametrize("critical", [True, False])
@pytest.mark.parametrize("fail_on_flaky", [True, False])
@pytest.mark.parametrize("fail_on_inconclusive", [True, False])
def test_the_in_image_scripts_verdict_is_the_one_rule(
    result: CheckResultKind, critical: bool, fail_on_flaky: bool, fail_on_inconclusive: bool
) -> None:
    """The generated script cannot import releaseguard, so it carries its own copy of the verdict
    rule: for every input it must agree with contract.verdict_of, the rule the operator applies."""

    check = CheckReport(
        name="c",
        critical=critical,
        result=result,
        fail_on_flaky=fail_on_flaky,
        fail_on_inconclusive=fail_on_inconclusive,
    )
    scripted = {
        "name": "c",
        "critical": critical,
        "result": result.value,
        "message": "",
        "failOnFlaky": fail_on_flaky,
        "failOnInconclusive": fail_on_inconclusive,
    }
    now = datetime.now(UTC)
    report = _script.probe_report(scripted, now, now)
    verdict, failed = contract.verdict_of([check])
    assert (report["verdict"], report["failedCritical"]) == (verdict.value, failed)
