"""One parser for the revision numbers the operator reads off objects (annotations, labels,
revision-history): decimal text of at least 1, nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from releaseguard.core.rollout import parse_revision, revision_history, revision_of


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1),
        ("12", 12),
        (" 7 ", 7),
        (3, 3),
        ("0", None),
        ("-2", None),
        ("٣", None),
        ("²", None),
        ("1.5", None),
        ("", None),
        (None, None),
        (True, None),
        ("x", None),
        ([], None),
    ],
)
def test_parse_revision(raw: Any, expected: int | None) -> None:
    assert parse_revision(raw) == expected


def test_revision_of_and_history_use_it() -> None:
    rs = {
        "metadata": {
            "annotations": {
                "deployment.kubernetes.io/revision": "5",
                "deployment.kubernetes.io/revision-history": "1, 3,x,²",
            }
        }
    }
    assert revision_of(rs) == 5
    assert revision_history(rs) == [1, 3]
    assert revision_of({"metadata": {"annotations": {"deployment.kubernetes.io/revision": "\u0661"}}}) is None
