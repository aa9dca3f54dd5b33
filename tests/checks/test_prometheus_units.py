"""Issue 15, pure: rendering templated queries, and every measurement kept within the report's
4096-byte compact form and then on the record."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from releaseguard.api import parse_checks
from releaseguard.api.spec import PrometheusCheck
from releaseguard.api.status import CheckResultKind as R
from releaseguard.contract import REVISION_ENV, revision_env, revisions_from_env
from releaseguard.core.record import _measurements
from releaseguard.probe.checks.prometheus import MissingVariable, baseline_query, render
from releaseguard.report import (
    TERMINATION_LOG_LIMIT,
    CheckReport,
    Measurements,
    build_report,
    compact_json,
    parse_report,
)

VALUES = {"Revision": "5", "PodTemplateHash": "7d9f8c", "BaselineRevision": "4", "BaselinePodTemplateHash": "5b6c7d"}
QUERY = 'sum(rate(errors{pod_template_hash="{{ .PodTemplateHash }}"}[5m])) or vector({{.Revision}})'


def spec(**fields: object) -> PrometheusCheck:
    [check] = parse_checks({"checks": [{"name": "p", "prometheus": {"address": "http://p:9090", **fields}}]})
    assert check.prometheus is not None
    return check.prometheus


def test_render_replaces_every_variable_and_refuses_a_missing_one() -> None:
    assert render(QUERY, VALUES) == 'sum(rate(errors{pod_template_hash="7d9f8c"}[5m])) or vector(5)'
    assert render("up", {}) == "up"
    with pytest.raises(MissingVariable) as caught:
        render(QUERY, {"Revision": "5"})
    assert str(caught.value) == (
        "the query names {{ .PodTemplateHash }} but the probe was given no value for it (env RG_POD_TEMPLATE_HASH)"
    )


def test_the_baseline_query_is_the_same_query_with_the_last_verified_revisions_values() -> None:
    same = spec(query=QUERY, baseline={"maxIncrease": 1})
    assert baseline_query(same, VALUES) == 'sum(rate(errors{pod_template_hash="5b6c7d"}[5m])) or vector(4)'
    own = spec(query=QUERY, baseline={"maxIncrease": 1, "query": 'x{h="{{ .BaselinePodTemplateHash }}"}'})
    assert baseline_query(own, VALUES) == 'x{h="5b6c7d"}'
    with pytest.raises(MissingVariable) as caught:
        baseline_query(same, {"Revision": "5", "PodTemplateHash": "7d9f8c", "BaselineRevision": "4"})
    assert caught.value.variable == "BaselinePodTemplateHash"


def test_the_revisions_travel_by_env() -> None:
    env = revision_env({**VALUES, "BaselinePodTemplateHash": None})
    assert env == [
        {"name": "RG_REVISION", "value": "5"},
        {"name": "RG_POD_TEMPLATE_HASH", "value": "7d9f8c"},
        {"name": "RG_BASELINE_REVISION", "value": "4"},
    ]
    assert revisions_from_env({e["name"]: e["value"] for e in revision_env(VALUES)}) == VALUES
    assert set(REVISION_ENV) == set(VALUES)


START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def measured(name: str, n: int, result: R = R.PASSED) -> CheckReport:
    return CheckReport(
        name=name,
        type="prometheus",
        result=result,
        message="x" * 300,
        measurements=Measurements(
            start_time=START,
            interval_seconds=30,
            offsets=[round(i * 30.04, 1) for i in range(n)],
            values=",".join(f"{0.0421337 + i / 1000:.4g}" for i in range(n)),
            baseline_values=",".join(f"{0.0011337 + i / 1000:.4g}" for i in range(n)),
            results="F" * n if result is R.FAILED else "P" * n,
        ),
    )


def test_a_hundred_compared_measurements_fit_the_termination_message() -> None:
    report = build_report([measured("errors", 100, R.FAILED)], START, START)
    text = compact_json(report)
    assert len(text) <= TERMINATION_LOG_LIMIT
    back = parse_report(text).check("errors").measurements
    assert back is not None and len(back.offsets) == 100
    assert len(back.values.split(",")) == len(back.baseline_values.split(",")) == 100
    assert back.results == "F" * 100 and back.result_of(0) is R.FAILED


def test_measurements_give_way_before_the_checks_do() -> None:
    report = build_report([measured(f"c{i}", 100, R.FAILED) for i in range(3)], START, START)
    text = compact_json(report)
    assert len(text) <= TERMINATION_LOG_LIMIT
    parsed = parse_report(text)
    assert [c.name for c in parsed.checks] == ["c0", "c1", "c2"] and parsed.truncated
    assert all(c.measurements is None for c in parsed.checks)


def test_a_report_without_measurements_has_no_such_key() -> None:
    report = build_report([CheckReport(name="h", type="http", result=R.PASSED)], START, START)
    assert "measurements" not in report.to_wire()["checks"][0]
    assert "measurements" not in json.loads(compact_json(report))["checks"][0]


def test_the_record_keeps_every_measurement_with_its_time() -> None:
    text = compact_json(build_report([measured("errors", 3, R.FAILED)], START, START))
    [first, *_] = records = _measurements({"job": text, "other": None})["errors"]
    assert len(records) == 3
    assert first.to_wire() == {
        "time": "2026-12-01T12:00:00Z",
        "value": "0.04213",
        "baselineValue": "0.001134",
        "result": "Failed",
    }
    assert records[2].time is not None and (records[2].time - START).total_seconds() == pytest.approx(60.1)
