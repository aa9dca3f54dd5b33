"""Issue 15's prometheus fields: repeated measurement and the comparison with the last verified
revision are opt-in, and a wrong one is a field error that names the field."""

from __future__ import annotations

from typing import Any

import pytest

from releaseguard.api import parse_release_verification
from releaseguard.api.spec import template_variables
from releaseguard.errors import SpecInvalidError

PROM = "spec.checks[0].prometheus"
TEMPLATED = 'sum(errors{pod_template_hash="{{ .PodTemplateHash }}"})'


def rv(prometheus: dict[str, Any], timeout: int = 600, **check: Any) -> dict[str, Any]:
    spec = {"address": "http://prom:9090", "query": "up", **prometheus}
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": "shop", "namespace": "demo"},
        "spec": {
            "targetRef": {"name": "shop"},
            "timeoutSeconds": timeout,
            "checks": [{"name": "errors", "prometheus": spec, **check}],
        },
    }


def test_existing_checks_are_unchanged_and_the_new_fields_default_to_one_measurement() -> None:
    check = parse_release_verification(rv({"lessThan": 1})).spec.checks[0]
    assert check.prometheus is not None
    p = check.prometheus
    assert (p.count, p.interval_seconds, p.failure_limit, p.inconclusive_limit, p.consecutive_error_limit) == (
        1,
        None,
        0,
        0,
        4,
    )
    assert not p.repeated and not p.templated and p.baseline is None
    assert check.to_wire() == {
        "name": "errors",
        "prometheus": {"address": "http://prom:9090", "query": "up", "lessThan": 1},
    }


def test_the_new_fields_parse() -> None:
    spec = {
        "query": TEMPLATED,
        "count": 5,
        "intervalSeconds": 30,
        "failureLimit": 1,
        "baseline": {"maxIncrease": 0.01, "maxIncreasePercent": 20},
    }
    p = parse_release_verification(rv(spec)).spec.checks[0].prometheus
    assert p is not None and p.repeated and p.templated and p.baseline is not None
    assert (p.baseline.max_increase, p.baseline.max_increase_percent, p.baseline.alpha) == (0.01, 20, 0.01)
    assert template_variables("{{.Revision}} {{ .PodTemplateHash }} {{ .Revision }}") == ["Revision", "PodTemplateHash"]


CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    (
        "count-max",
        {"lessThan": 1, "count": 101, "intervalSeconds": 1},
        {},
        f"{PROM}.count",
        "less than or equal to 100",
    ),
    ("count-no-interval", {"lessThan": 1, "count": 3}, {}, PROM, "intervalSeconds: required when count is more than 1"),
    ("failure-limit", {"lessThan": 1, "failureLimit": -1}, {}, f"{PROM}.failureLimit", "greater than or equal"),
    ("unknown-variable", {"lessThan": 1, "query": "up{h='{{ .Hash }}'}"}, {}, f"{PROM}.query", "{{ .Hash }}"),
    ("stray-braces", {"lessThan": 1, "query": "up{h='{{ Hash }}'}"}, {}, f"{PROM}.query", "not a template variable"),
    ("untemplated", {"baseline": {"maxIncrease": 1}}, {}, PROM, "baseline: the query names no revision"),
    ("no-limit", {"query": TEMPLATED, "baseline": {}}, {}, f"{PROM}.baseline", "maxIncrease or maxIncreasePercent"),
    (
        "negative-limit",
        {"query": TEMPLATED, "baseline": {"maxIncrease": -1}},
        {},
        f"{PROM}.baseline.maxIncrease",
        "greater",
    ),
    (
        "baseline-query-untemplated",
        {"query": TEMPLATED, "baseline": {"query": "up", "maxIncrease": 1}},
        {},
        PROM,
        "baseline.query: names neither",
    ),
    (
        "baseline-variable-without-baseline",
        {"lessThan": 1, "query": "up{h='{{ .BaselinePodTemplateHash }}'}"},
        {},
        PROM,
        "only known with a baseline",
    ),
    (
        "baseline-variable-without-baseline-query",
        {"query": "up{h='{{ .BaselineRevision }}'}", "baseline": {"maxIncrease": 1}},
        {},
        PROM,
        "needs baseline.query",
    ),
    (
        "two-thresholds",
        {"lessThan": 1, "greaterThan": 0, "query": TEMPLATED, "baseline": {"maxIncrease": 1}},
        {},
        PROM,
        "at most one",
    ),
    ("no-threshold", {}, {}, PROM, "exactly one of lessThan"),
    (
        "retries",
        {"lessThan": 1, "count": 2, "intervalSeconds": 1},
        {"retries": 1},
        "spec.checks[0]",
        "retries: not with",
    ),
]


@pytest.mark.parametrize(("prometheus", "check", "path", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_wrong_field_is_named(prometheus: dict[str, Any], check: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(SpecInvalidError) as caught:
        parse_release_verification(rv(prometheus, **check))
    errors = {e.path: e.message for e in caught.value.errors}
    assert path in errors, errors
    assert words in errors[path], errors[path]


def test_the_measurements_must_fit_the_timeout() -> None:
    spec = {"lessThan": 1, "count": 3, "intervalSeconds": 10}
    parse_release_verification(rv(spec, timeout=30))  # 2 x 10 s + 10 s for the last measurement
    with pytest.raises(SpecInvalidError) as caught:
        parse_release_verification(rv(spec, timeout=29))
    [error] = caught.value.errors
    assert (error.path, error.message) == (
        "spec",
        "checks[0].prometheus.intervalSeconds: 3 measurements 10s apart (and 10s for the last) take 30s, "
        "more than timeoutSeconds (29s)",
    )
