"""Label and field selectors."""

from __future__ import annotations

import pytest

from kubesim.apiserver.selectors import parse_field_selector, parse_label_selector, selector_matches, selector_to_string
from kubesim.errors import ApiError


@pytest.mark.parametrize(
    ("expr", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web,tier!=db", {"app": "web", "tier": "fe"}, True),
        ("app=web,tier!=db", {"app": "web", "tier": "db"}, False),
        ("env in (prod, staging)", {"env": "staging"}, True),
        ("env notin (prod)", {"env": "prod"}, False),
        ("env notin (prod)", {}, True),
        ("release", {"release": "x"}, True),
        ("!release", {"release": "x"}, False),
        ("", {}, True),
    ],
)
def test_label_selector_strings(expr: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(expr)(labels) is expected


def test_bad_label_selector_is_a_400() -> None:
    with pytest.raises(ApiError) as err:
        parse_label_selector("app in prod")
    assert err.value.code == 400


def test_structured_selector_and_its_string_form() -> None:
    sel = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe"]}]}
    assert selector_matches(sel, {"app": "web", "tier": "fe"})
    assert not selector_matches(sel, {"app": "web", "tier": "be"})
    assert selector_to_string(sel) == "app=web,tier in (fe)"


def test_field_selectors() -> None:
    pod = {"metadata": {"name": "p", "namespace": "n"}, "status": {"phase": "Running"}}
    assert parse_field_selector("metadata.name=p,metadata.namespace=n")(pod)
    assert not parse_field_selector("status.phase!=Running")(pod)
