from __future__ import annotations

from datetime import timedelta

from releaseguard.core.conditions import get_condition, is_true, set_condition
from support.factories import NOW


def test_set_condition_adds_a_new_condition() -> None:
    out = set_condition([], "Verified", "True", "ChecksPassed", "ok", NOW, 3)
    assert len(out) == 1
    assert out[0].last_transition_time == NOW
    assert out[0].observed_generation == 3
    assert is_true(out, "Verified")


def test_unchanged_status_keeps_the_transition_time() -> None:
    first = set_condition([], "Verified", "False", "ChecksFailed", "a", NOW)
    later = NOW + timedelta(minutes=5)
    second = set_condition(first, "Verified", "False", "RolloutStalled", "b", later)
    found = get_condition(second, "Verified")
    assert found is not None
    assert found.last_transition_time == NOW
    assert (found.reason, found.message) == ("RolloutStalled", "b")


def test_changed_status_moves_the_transition_time() -> None:
    first = set_condition([], "Verified", "Unknown", "ChecksRunning", "", NOW)
    later = NOW + timedelta(seconds=9)
    second = set_condition(first, "Verified", "True", "ChecksPassed", "", later)
    assert second[0].last_transition_time == later


def test_conditions_keep_a_stable_order_and_one_entry_per_type() -> None:
    out = set_condition([], "RolledBack", "False", "NoGoodRevision", "", NOW)
    out = set_condition(out, "Verified", "False", "CriticalChecksFailed", "", NOW)
    out = set_condition(out, "SpecValid", "True", "Valid", "", NOW)
    out = set_condition(out, "TargetFound", "True", "DeploymentFound", "", NOW)
    out = set_condition(out, "Verified", "True", "ChecksPassed", "", NOW)
    assert [c.type for c in out] == ["SpecValid", "TargetFound", "Verified", "RolledBack"]
    assert not is_true(out, "RolledBack")
    assert not is_true(out, "Missing")
