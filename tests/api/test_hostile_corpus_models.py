"""The hostile corpus against the models and the admin's policy, without a cluster: every entry is
refused naming its field (tests/e2e/test_trust_boundary.py runs it on kubesim)."""

from __future__ import annotations

import pytest

from releaseguard.api import parse_release_verification
from releaseguard.core.jobs import DEFAULT_RUNNER_IMAGE
from releaseguard.core.policy import Policy, policy_problems
from releaseguard.errors import FieldError, SpecInvalidError
from support.hostile_corpus import ALLOWED_IMAGES, ENTRIES, corpus

POLICY = Policy(allowed_images=(ALLOWED_IMAGES,))


def _names(errors: list[FieldError], field: str) -> bool:
    return any(e.path == field or e.path.startswith((field + ".", field + "[")) for e in errors)


def test_the_corpus_is_large_enough() -> None:
    assert len(ENTRIES) >= 80


@pytest.mark.parametrize(("name", "document", "field"), corpus("hostile"), ids=[e[0] for e in ENTRIES])
def test_each_hostile_rv_is_refused_naming_its_field(name: str, document: dict, field: str) -> None:  # type: ignore[type-arg]
    try:
        rv = parse_release_verification(document)
    except SpecInvalidError as exc:
        assert _names(exc.errors, field), [str(e) for e in exc.errors]
        for error in exc.errors:
            assert len(str(error)) < 2000, "an error message must not echo a huge value"
        return
    problems = policy_problems(rv, POLICY, DEFAULT_RUNNER_IMAGE)
    assert _names(problems, field), (name, [str(p) for p in problems])
