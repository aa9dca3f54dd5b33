"""What a stalled rollout's crashing containers said reaches the rv (its status, Events and
notifications) only when the rv opts in (spec.diagnostics.crashLog); otherwise the operator reads no
log at all and says what the pod status shows: container, reason, exit code, restarts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fake_kube import FakeKube

from releaseguard.api import parse_release_verification
from releaseguard.core.pods import container_trouble
from releaseguard.errors import SpecInvalidError
from releaseguard.operator.observe import crash_log_wanted, rollout_trouble
from support.factories import deployment, rv_body

Obj = dict[str, Any]
SECRET_WORDS = "KeyError: 'DATABASE_PASSWORD=hunter2'"


def crashing_pod(name: str, restarts: int = 4, message: str = "", reason: str = "Error", code: int = 1) -> Obj:
    last: Obj = {"exitCode": code, "reason": reason}
    if message:
        last["message"] = message
    return {
        "metadata": {"name": name, "labels": {"app": "shop"}},
        "status": {
            "containerStatuses": [
                {
                    "name": "shop",
                    "restartCount": restarts,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting"}},
                    "lastState": {"terminated": last},
                }
            ]
        },
    }


class PodsKube(FakeKube):
    """FakeKube with the target's pods and their logs."""

    def __init__(self, pods: list[Obj]) -> None:
        super().__init__()
        self.target_pods = pods

    async def pods_matching(self, namespace: str, labels: dict[str, str]) -> list[Obj]:
        self._call("pods_matching")
        return copy.deepcopy(self.target_pods)

    async def log_tail(self, namespace: str, pod: str, container: str, previous: bool, lines: int = 5) -> str:
        self._call("log_tail")
        return f"Traceback (most recent call last):\n{SECRET_WORDS}\n"


def stalled_rv(crash_log: bool | None) -> Obj:
    extra = {} if crash_log is None else {"diagnostics": {"crashLog": crash_log}}
    return rv_body(extra_spec=extra, status={"lastRun": {"revision": 1, "verdict": "Passed"}})


def test_the_spec_field_is_a_strict_bool_off_by_default() -> None:
    assert parse_release_verification(rv_body()).spec.diagnostics.crash_log is False
    assert parse_release_verification(
        rv_body(extra_spec={"diagnostics": {"crashLog": True}})
    ).spec.diagnostics.crash_log
    with pytest.raises(SpecInvalidError) as bad:
        parse_release_verification(rv_body(extra_spec={"diagnostics": {"crashLog": "yes"}}))
    assert "spec.diagnostics.crashLog" in str(bad.value)
    with pytest.raises(SpecInvalidError) as unknown:
        parse_release_verification(rv_body(extra_spec={"diagnostics": {"logs": True}}))
    assert "spec.diagnostics.logs" in str(unknown.value)
    assert crash_log_wanted(stalled_rv(True)) and not crash_log_wanted(stalled_rv(None))
    assert not crash_log_wanted({**stalled_rv(True), "spec": {"diagnostics": {"crashLog": True}}})  # invalid rv


def test_without_the_opt_in_only_the_pod_status_speaks() -> None:
    pods = [
        crashing_pod("shop-2-a", restarts=4),
        crashing_pod("shop-2-b", restarts=5),  # the same trouble: said once
        crashing_pod("shop-2-c", restarts=1, message=SECRET_WORDS),  # a termination message is its own words
        crashing_pod("shop-2-d", restarts=2, reason="OOMKilled", code=137),
    ]
    assert container_trouble(pods, {("shop-2-a", "shop"): SECRET_WORDS}) == [
        "container shop: CrashLoopBackOff: back-off 40s restarting; last exit 1 (Error); restarted 4 times",
        "container shop: CrashLoopBackOff: back-off 40s restarting; last exit 137 (OOMKilled); restarted 2 times",
    ]
    assert container_trouble(pods, {("shop-2-a", "shop"): SECRET_WORDS}, crash_log=True) == [
        f"container shop: CrashLoopBackOff: back-off 40s restarting; last exit 1 (Error): {SECRET_WORDS}; "
        "restarted 4 times",  # shop-2-c's termination message says the same: not repeated
        "container shop: CrashLoopBackOff: back-off 40s restarting; last exit 1 (Error); restarted 5 times",
        "container shop: CrashLoopBackOff: back-off 40s restarting; last exit 137 (OOMKilled); restarted 2 times",
    ]


@pytest.mark.parametrize("crash_log", [None, False])
async def test_a_stalled_rollout_without_the_opt_in_reads_no_log(crash_log: bool | None) -> None:
    kube = PodsKube([crashing_pod("shop-2-a")])
    trouble = await rollout_trouble(kube, ("default", "shop"), stalled_rv(crash_log), deployment(2, stalled=True))
    assert trouble == (
        "container shop: CrashLoopBackOff: back-off 40s restarting; last exit 1 (Error); restarted 4 times",
    )
    assert kube.calls == ["pods_matching"]  # and never log_tail


async def test_a_stalled_rollout_with_the_opt_in_shows_the_last_log_line() -> None:
    kube = PodsKube([crashing_pod("shop-2-a")])
    trouble = await rollout_trouble(kube, ("default", "shop"), stalled_rv(True), deployment(2, stalled=True))
    assert trouble == (
        f"container shop: CrashLoopBackOff: back-off 40s restarting; last exit 1 (Error): {SECRET_WORDS}; "
        "restarted 4 times",
    )
    assert kube.calls == ["pods_matching", "log_tail"]
