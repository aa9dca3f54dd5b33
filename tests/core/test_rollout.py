from __future__ import annotations

from datetime import UTC, datetime

import pytest

from releaseguard.core.rollout import RolloutState, revision_of, rollout_state
from support.factories import deployment


def test_revision_of_reads_the_annotation() -> None:
    assert revision_of(deployment(revision=7)) == 7


@pytest.mark.parametrize("raw", [None, "", "x", "0", "-2"])
def test_revision_of_rejects_missing_or_invalid(raw: str | None) -> None:
    dep = deployment(revision=None)
    if raw is not None:
        dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = raw
    assert revision_of(dep) is None


def test_revision_of_nothing() -> None:
    assert revision_of(None) is None
    assert revision_of({}) is None


def test_complete_when_all_replicas_updated_and_available() -> None:
    state, why = rollout_state(deployment(replicas=3))
    assert state is RolloutState.COMPLETE
    assert "3 of 3" in why


def test_progressing_until_the_controller_observes_the_generation() -> None:
    dep = deployment(generation=2)
    dep["status"]["observedGeneration"] = 1
    state, why = rollout_state(dep)
    assert state is RolloutState.PROGRESSING
    assert "generation 2" in why


def test_progressing_while_replicas_are_not_updated() -> None:
    assert rollout_state(deployment(complete=False))[0] is RolloutState.PROGRESSING


def test_progressing_while_old_replicas_remain() -> None:
    dep = deployment(replicas=2)
    dep["status"]["replicas"] = 3
    state, why = rollout_state(dep)
    assert state is RolloutState.PROGRESSING
    assert "1 old replicas" in why


def test_progressing_while_updated_replicas_are_not_available() -> None:
    dep = deployment(replicas=2)
    dep["status"]["availableReplicas"] = 1
    assert rollout_state(dep)[0] is RolloutState.PROGRESSING


def test_paused_mid_rollout() -> None:
    assert rollout_state(deployment(complete=False, paused=True))[0] is RolloutState.PAUSED


def test_paused_after_a_complete_rollout_is_complete() -> None:
    assert rollout_state(deployment(paused=True))[0] is RolloutState.COMPLETE


def test_stalled_on_progress_deadline() -> None:
    state, why = rollout_state(deployment(complete=False, stalled=True))
    assert state is RolloutState.STALLED
    assert "timed out progressing" in why


def test_zero_replicas_is_complete() -> None:
    dep = deployment(replicas=0)
    assert rollout_state(dep)[0] is RolloutState.COMPLETE


def test_default_replicas_is_one() -> None:
    dep = deployment(replicas=1)
    del dep["spec"]["replicas"]
    assert rollout_state(dep)[0] is RolloutState.COMPLETE
    dep["status"]["availableReplicas"] = 0
    assert rollout_state(dep)[0] is RolloutState.PROGRESSING


def test_a_stall_from_before_this_rollout_is_ignored() -> None:
    dep = deployment(complete=False, stalled=True)
    dep["status"]["conditions"][0]["lastUpdateTime"] = "2026-11-24T21:09:09Z"
    rolled_back_at = datetime(2026, 11, 24, 21, 9, 9, 790000, tzinfo=UTC)
    assert rollout_state(dep, rolled_back_at)[0] is RolloutState.PROGRESSING
    dep["status"]["conditions"][0]["lastUpdateTime"] = "2026-11-24T21:09:11Z"
    assert rollout_state(dep, rolled_back_at)[0] is RolloutState.STALLED
    assert rollout_state(dep)[0] is RolloutState.STALLED
