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
REJECTED_TEMPLATE: Final = "RejectedTemplate"  # the current pod template is one this rv rolled back
ORDER: Final = (SPEC_VALID, TARGET_FOUND, VERIFIED, ROLLED_BACK, REJECTED_TEMPLATE)

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


def summary_message(conditions: Sequence[Condition], rollback_concerns_current: bool) -> str | None:
    """The message a person should read first: an invalid spec's, a missing target's, else the
    verification's, followed by the rollback's when it is about the revision being shown."""
    for type_ in (SPEC_VALID, TARGET_FOUND):
        found = get_condition(conditions, type_)
        if found is not None and found.status == "False":
            return found.message
    verified = get_condition(conditions, VERIFIED)
    rolled = get_condition(conditions, ROLLED_BACK)
    parts = [
        c.message for c in (verified, rolled if rollback_concerns_current else None) if c is not None and c.message
    ]
    return "; ".join(parts) or None
