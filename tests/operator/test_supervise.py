"""releaseguard run starts kopf again when its watching fails: backoff, reset after a healthy run,
give up (exit 1) after quick failures in a row, never restart past a fatal error; a kopf that hangs
while stopping is replaced by a fresh process, or, after SIGTERM, does not keep the process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

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


HANGING_KOPF = """
import asyncio, os, sys, time
from releaseguard.operator.supervise import RESTARTS_ENV, KopfThread, RestartPolicy, supervise
if os.environ.get(RESTARTS_ENV):
    print("fresh process after", os.environ[RESTARTS_ENV], "restart(s)", flush=True)
    sys.exit(0)
mode = sys.argv[1]
thread: KopfThread
def run(loop, stop):
    async def main():
        if mode == "cleanup-then-hang":
            thread.cleaned_up()
        while True:  # never looks at its stop flag: a kopf that hangs
            await asyncio.sleep(0.1)
    loop.run_until_complete(main())
thread = KopfThread(run, RestartPolicy(stop_grace=1.0))
thread.install_signals()
print("running", flush=True)
sys.exit(supervise(thread.run_once, sleep=thread.stopping.wait))
"""


@pytest.mark.slow
def test_a_kopf_hanging_after_its_cleanup_is_replaced_by_a_fresh_process(tmp_path: Path) -> None:
    script = tmp_path / "hang.py"
    script.write_text(HANGING_KOPF)
    done = subprocess.run(
        [sys.executable, str(script), "cleanup-then-hang"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "fresh process after 1 restart(s)" in done.stdout
    assert "did not finish stopping within 1s of its cleanup; starting a fresh process" in done.stderr


@pytest.mark.slow
def test_a_kopf_hanging_after_sigterm_does_not_keep_the_process(tmp_path: Path) -> None:
    script = tmp_path / "hang.py"
    script.write_text(HANGING_KOPF)
    proc = subprocess.Popen(
        [sys.executable, str(script), "hang"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "running"
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert proc.wait(15) == 0
    assert time.monotonic() - started < 10
    assert "did not finish stopping within 1s of the signal; exiting" in (proc.stderr.read() if proc.stderr else "")
