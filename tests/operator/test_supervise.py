"""releaseguard run starts kopf again when its watching fails: backoff, reset after a healthy run,
give up (exit 1) after quick failures in a row, never restart past a fatal error."""

from __future__ import annotations

import pytest

from releaseguard.operator.supervise import RestartPolicy, restart_delay, supervise


class Script:
    """run_once raising the scripted errors in turn (each run lasting its given seconds), then returning."""

    def __init__(self, *runs: tuple[float, Exception | None]) -> None:
        self.runs = list(runs)
        self.now = 0.0
        self.slept: list[float] = []
        self.calls = 0

    def run_once(self) -> None:
        self.calls += 1
        seconds, error = self.runs.pop(0)
        self.now += seconds
        if error is not None:
            raise error

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def run(script: Script, policy: RestartPolicy | None = None, fatal: tuple[type[BaseException], ...] = ()) -> int:
    return supervise(
        script.run_once, fatal=fatal, policy=policy or RestartPolicy(), clock=script.clock, sleep=script.sleep
    )


def test_a_run_stopped_by_a_signal_is_the_end() -> None:
    script = Script((5.0, None))
    assert run(script) == 0 and script.calls == 1 and script.slept == []


def test_failures_restart_with_a_doubling_backoff_until_a_run_ends_normally() -> None:
    script = Script(
        (1.0, RuntimeError("watch")), (1.0, RuntimeError("watch")), (1.0, RuntimeError("watch")), (9.0, None)
    )
    restarted: list[str] = []
    code = supervise(
        script.run_once, on_restart=lambda e: restarted.append(str(e)), clock=script.clock, sleep=script.sleep
    )
    assert code == 0 and script.slept == [1.0, 2.0, 4.0] and restarted == ["watch"] * 3


def test_a_healthy_run_resets_the_backoff() -> None:
    long_run = RestartPolicy().healthy_seconds + 1
    script = Script((1.0, RuntimeError("a")), (1.0, RuntimeError("b")), (long_run, RuntimeError("c")), (1.0, None))
    assert run(script) == 0 and script.slept == [1.0, 2.0, 1.0]


def test_quick_failures_in_a_row_give_up_so_the_kubelet_restarts_the_pod() -> None:
    policy = RestartPolicy(quick_failures=3)
    script = Script(*[(1.0, RuntimeError("down"))] * 5)
    assert run(script, policy) == 1 and script.calls == 3


def test_a_fatal_error_is_never_restarted() -> None:
    script = Script((1.0, PermissionError("bad credentials")), (1.0, None))
    with pytest.raises(PermissionError):
        run(script, fatal=(PermissionError,))
    assert script.calls == 1


def test_the_backoff_is_capped() -> None:
    policy = RestartPolicy(first_delay=1.0, max_delay=30.0)
    assert [restart_delay(policy, n) for n in (1, 2, 5, 6, 10)] == [1.0, 2.0, 16.0, 30.0, 30.0]
