"""Issue 15's spec: `samples` and `baseline` on an http check, refused with the field path when
they cannot work (a baseline without samples, more minSamples than samples, samples with retries,
an interval longer than the rv's timeout)."""

from __future__ import annotations

from typing import Any

import pytest

from releaseguard.api import parse_release_verification
from releaseguard.errors import SpecInvalidError


def rv(http: dict[str, Any], timeout: int = 60, **check: Any) -> dict[str, Any]:
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": "shop", "namespace": "demo"},
        "spec": {
            "targetRef": {"name": "shop"},
            "timeoutSeconds": timeout,
            "checks": [{"name": "orders", "http": {"url": "http://shop.demo.svc:8080/api/orders", **http}, **check}],
        },
    }


def problems(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecInvalidError) as info:
        parse_release_verification(doc)
    return [str(e) for e in info.value.errors]


def test_defaults_and_an_rv_without_them_is_unchanged() -> None:
    parsed = parse_release_verification(rv({"samples": {"count": 50, "intervalSeconds": 10}, "baseline": {}}))
    http = parsed.spec.checks[0].http
    assert http is not None and http.samples is not None and http.baseline is not None
    assert (http.samples.count, http.samples.interval_seconds) == (50, 10)
    b = http.baseline
    assert (b.percentile, b.max_slowdown_percent, b.max_error_rate_increase_points, b.alpha, b.min_samples) == (
        95,
        25,
        2,
        0.01,
        20,
    )
    plain = parse_release_verification(rv({})).spec.checks[0]
    assert plain.http is not None and plain.http.samples is None and plain.http.baseline is None
    assert "samples" not in plain.to_wire()["http"]


@pytest.mark.parametrize(
    ("http", "check", "timeout", "expected"),
    [
        ({"baseline": {}}, {}, 60, "spec.checks[0].http: baseline needs samples"),
        (
            {"samples": {"count": 10}, "baseline": {}},
            {},
            60,
            "spec.checks[0].http.baseline.minSamples: 20 is more than samples.count 10",
        ),
        (
            {"samples": {"count": 10}},
            {"retries": 2},
            60,
            "spec.checks[0].retries: 2 with http.samples",
        ),
        (
            {"samples": {"count": 10, "intervalSeconds": 60}},
            {},
            60,
            "spec.checks[0].http.samples.intervalSeconds: 60 does not fit in timeoutSeconds 60",
        ),
        ({"samples": {"count": 201}}, {}, 60, "spec.checks[0].http.samples.count"),
        ({"samples": {"count": 10}, "baseline": {"alpha": 1}}, {}, 60, "spec.checks[0].http.baseline.alpha"),
    ],
)
def test_unusable_samples_are_refused_at_their_field(
    http: dict[str, Any], check: dict[str, Any], timeout: int, expected: str
) -> None:
    found = problems(rv(http, timeout, **check))
    assert any(p.startswith(expected) for p in found), found


def test_a_checks_file_for_the_probe_is_held_to_the_same_rules() -> None:
    from releaseguard.api import parse_checks

    with pytest.raises(SpecInvalidError) as info:
        parse_checks({"checks": [{"name": "c", "retries": 1, "http": {"url": "http://a/", "samples": {"count": 5}}}]})
    assert [str(e) for e in info.value.errors] == [
        "checks[0].retries: 1 with http.samples: a retried sample would hide its error"
    ]
