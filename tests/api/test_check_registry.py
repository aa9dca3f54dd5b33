"""The check-type registry: one entry per type (model, placement, runner), and nothing beside it."""

from __future__ import annotations

import subprocess
import sys
import types
import typing

import pytest

from releaseguard.api import CHECK_TYPE, CHECK_TYPE_TABLE, CHECK_TYPES, Check, Placement, parse_checks, types_in
from releaseguard.api.base import SpecModel
from releaseguard.api.crd import crd
from releaseguard.probe.checks import RUNNERS, runner_for
from releaseguard.probe.checks.local import SCRIPT_TYPES

BASE_FIELDS = {"name", "critical", "timeout_seconds", "retries", "fail_on_flaky"}


def test_every_declared_type_has_a_model_a_placement_and_a_runner() -> None:
    assert len(set(CHECK_TYPES)) == len(CHECK_TYPES) == len(CHECK_TYPE_TABLE)
    for entry in CHECK_TYPE_TABLE:
        assert issubclass(entry.model, SpecModel)
        assert isinstance(entry.runs_in, Placement)
        assert CHECK_TYPE[entry.name] is entry
        assert callable(getattr(runner_for(entry.name), "run", None))
    assert set(RUNNERS) == set(CHECK_TYPES)
    assert set(types_in(Placement.RUNNER)) | set(types_in(Placement.TARGET_IMAGE)) == set(CHECK_TYPES)
    assert types_in(Placement.TARGET_IMAGE) == SCRIPT_TYPES


def test_the_check_model_has_one_field_per_registered_type_of_its_model() -> None:
    fields = {name: info for name, info in Check.model_fields.items() if name not in BASE_FIELDS}
    assert list(fields) == list(CHECK_TYPES)
    for entry in CHECK_TYPE_TABLE:
        annotation = fields[entry.name].annotation
        assert isinstance(annotation, types.UnionType)
        assert set(typing.get_args(annotation)) == {entry.model, type(None)}


def test_target_image_types_are_those_with_an_image() -> None:
    for entry in CHECK_TYPE_TABLE:
        assert ("image" in entry.model.model_fields) is (entry.runs_in is Placement.TARGET_IMAGE)


def test_the_crd_lists_exactly_the_registered_types() -> None:
    items = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["checks"]
    check = items["items"]
    assert [
        p for p in check["properties"] if p not in {"name", "critical", "timeoutSeconds", "retries", "failOnFlaky"}
    ] == list(CHECK_TYPES)
    (rule,) = check["x-kubernetes-validations"]
    assert rule["rule"] == "[" + ", ".join(f"has(self.{t})" for t in CHECK_TYPES) + "].filter(x, x).size() == 1"


@pytest.mark.parametrize(
    ("wire", "placement"),
    [
        ({"name": "a", "http": {"url": "http://shop/"}}, Placement.RUNNER),
        ({"name": "a", "tcp": {"host": "db", "port": 5432}}, Placement.RUNNER),
        ({"name": "a", "command": {"command": ["true"]}}, Placement.TARGET_IMAGE),
        ({"name": "a", "pytest": {}}, Placement.TARGET_IMAGE),
    ],
)
def test_a_checks_placement_is_its_types(wire: dict[str, object], placement: Placement) -> None:
    (check,) = parse_checks({"checks": [wire]})
    assert check.placement is placement
    assert check.runs_in_target_image is (placement is Placement.TARGET_IMAGE)


def test_core_and_jobs_do_not_import_check_implementations() -> None:
    code = (
        "import sys; import releaseguard.core.jobs, releaseguard.contract, releaseguard.report; "
        "import releaseguard.core.decide, releaseguard.core.outcome, releaseguard.core.record, "
        "releaseguard.core.trust, releaseguard.core.policy; "
        "print(sorted(m for m in sys.modules if m.startswith('releaseguard.probe.checks') or m == 'httpx'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
