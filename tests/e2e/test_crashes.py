"""The operator SIGKILLed at random moments during verifications, restarted each time: every rv
still reaches the outcome its release must get, each regressed release is rolled back exactly once,
no Job is left running, and a restarted operator never acts on a half-filled cache (no
`Deployment ... not found` and no rv Pending, or with a phase its recorded verdict contradicts)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from crash_fleet import Fleet, Watcher
from rg_harness import Backend, Cluster, Operator

from support import eventually

pytestmark = pytest.mark.slow

APPS = 4
KILLS = 6


@pytest.fixture
def own_operator(sim: Backend, tmp_path: Path) -> Iterator[Operator]:
    op = Operator(sim, tmp_path)
    yield op
    op.stop()


def test_sigkill_at_random_moments_changes_no_outcome(cluster: Cluster, own_operator: Operator) -> None:
    rng = random.Random(11)
    fleet = Fleet(cluster, APPS)
    op = own_operator.start()
    fleet.create()
    eventually(lambda: not fleet.unsettled(), 90, "every app verified at revision 1", interval=0.5)
    watcher = Watcher(fleet)
    watcher.start()
    kills = 0
    try:
        for round_ in (2, 3):
            regressed = {n for i, n in enumerate(fleet.names) if (i + round_) % 2 == 0}
            fleet.roll(regressed, round_)
            # kill during the rollouts, the Jobs and the rollbacks, at random moments
            for _ in range(KILLS // 2):
                time.sleep(rng.uniform(0.2, 2.5))
                op.kill()
                kills += 1
                time.sleep(rng.uniform(0.0, 1.0))
                op.start()
            eventually(lambda: not fleet.unsettled(), 120, f"round {round_}: every outcome", interval=0.5)
            if round_ == 2:
                # the rollbacks of round 2 became revision 3: round 3 starts from there
                fleet.catch_up()
                eventually(lambda: not fleet.behind(), 60, "every app at the same revision", interval=0.5)
    finally:
        seen = watcher.stop()
    assert kills == KILLS
    assert not seen, f"states that must never be seen ({watcher.polls} polls): {seen[:10]}"
    log = op.log()
    after_first_start = log.split("--- start 2", 1)[1]
    assert "not found; waiting for it" not in after_first_start
    # one rollback per regressed release, none for a healthy one: apps 0 and 2 in round 2, 1 and 3 in round 3
    assert fleet.rolled_back_events() == dict.fromkeys(fleet.names, 1)
    assert fleet.rollbacks_in_history() == dict.fromkeys(fleet.names, 1)
    assert not fleet.job_problems()
