"""Condition helpers shaped after metav1.Condition and Argo's conditions package."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final, Literal

from ..api.status import Condition

SPEC_VALID: Final = "SpecValid"
TARGET_FOUND: Final = "TargetFound"
VERIFIED: Final = "Verified"
ROLLED_BACK: Final = "RolledBack"
ORDER: Final = (SPEC_VALID, TARGET_FOUND, VERIFIED, ROLLED_BACK)

Status = Literal["True", "False", "Unknown"]


def get_condition(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: Status,
    reason: str,
    message: str,
    now: datetime,
    observed_generation: int | None = None,
) -> list[Condition]:
    """A new list with `type_` set. lastTransitionTime moves only when the status changes."""
    old = get_condition(conditions, type_)
    changed = old is None or old.status != status
    new = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=now if changed or old is None else old.last_transition_time,
        observed_generation=observed_generation,
    )
    out = [c for c in conditions if c.type != type_] + [new]
    rank = {t: i for i, t in enumerate(ORDER)}
    return sorted(out, key=lambda c: rank.get(c.type, len(ORDER)))


def is_true(conditions: Sequence[Condition], type_: str) -> bool:
    found = get_condition(conditions, type_)
    return found is not None and found.status == "True"
