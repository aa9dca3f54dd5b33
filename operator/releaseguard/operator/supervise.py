"""Run kopf again when its watching fails.

kopf stops the whole operator when a watch stream ends in an ERROR event other than 410 Gone (a
real API server writes `500 InternalError` when etcd fails a watch, for example "etcd event
received with PrevKv=nil" after a compaction), or when a request keeps failing past its retries.
client-go's reflectors list and watch again instead. So does `releaseguard run`: it runs kopf in a
thread of its own and starts it again after a short backoff when it stops on an error (the
watches list afresh; state lives in the rvs' status, so nothing is lost). Only when runs keep
failing fast is it given up, exit 1, so that the kubelet restarts the pod and its restart count
shows it.

kopf's own stopping can hang (seen on the real control plane under faults: its cleanup ran, then
nothing for minutes). The main thread therefore owns SIGTERM and SIGINT and watches the clock: a
kopf that has not finished stopping `stop_grace` seconds after it was asked to (a signal) ends the
process; one that has not finished `stop_grace` seconds after its cleanup ran on an error is
replaced by a fresh process (the same command, exec'd)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("releaseguard")
RESTARTS_ENV = "RELEASEGUARD_WATCH_RESTARTS"  # carried across a fresh process, for the metric

KopfRun = Callable[[asyncio.AbstractEventLoop, "asyncio.Future[None]"], None]


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 1.0  # seconds before the first restart, doubling for each quick failure
    max_delay: float = 30.0
    healthy_seconds: float = 120.0  # a run lasting this long resets the count of quick failures
    quick_failures: int = 6  # in a row: give up (exit 1)
    stop_grace: float = 20.0  # seconds kopf may take to finish stopping


def restart_delay(policy: RestartPolicy, quick_failures: int) -> float:
    """Seconds before restarting after the `quick_failures`-th quick failure in a row (1-based)."""
    return min(policy.first_delay * 2.0 ** (quick_failures - 1), policy.max_delay)


def supervise(
    run_once: Callable[[], None],
    fatal: tuple[type[BaseException], ...] = (),
    policy: RestartPolicy = RestartPolicy(),
    on_restart: Callable[[BaseException], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> int:
    """Call `run_once` until it returns (a signal stopped it: 0); start it again when it raises,
    except for a `fatal` error or after too many quick failures in a row (1)."""
    quick = 0
    while True:
        started = clock()
        try:
            run_once()
            return 0
        except fatal:
            raise
        except Exception as exc:
            quick = 1 if clock() - started >= policy.healthy_seconds else quick + 1
            if quick >= policy.quick_failures:
                logger.error(
                    "the operator stopped %d times in a row within %.0fs; exiting", quick, policy.healthy_seconds
                )
                return 1
            delay = restart_delay(policy, quick)
            logger.error(
                "the operator's watching stopped (%s: %s); starting it again in %.0fs",
                type(exc).__name__,
                str(exc)[:500],
                delay,
            )
            on_restart(exc)
            sleep(delay)


@dataclass
class KopfThread:
    """kopf in a thread of its own, stopped through its stop flag; the main thread keeps the signals."""

    run: KopfRun
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    stopping: threading.Event = field(default_factory=threading.Event)  # a signal asked the process to stop
    cleaned_up_at: float | None = None  # when the current run's cleanup ran (kopf is stopping)
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Future[None] | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    def install_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        logger.info("received %s; stopping", signal.Signals(signum).name)
        self.stopping.set()
        self._request_stop()

    def _request_stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():

            def raise_flag() -> None:
                if not stop.done():
                    stop.set_result(None)

            loop.call_soon_threadsafe(raise_flag)

    def cleaned_up(self) -> None:
        """Called by the cleanup handler, in kopf's thread."""
        self.cleaned_up_at = time.monotonic()

    def run_once(self) -> None:
        """One kopf run to its end; raises what kopf raised. Never returns while kopf hangs."""
        if self.stopping.is_set():
            return
        outcome: list[BaseException] = []
        self.cleaned_up_at = None
        self._ready.clear()
        thread = threading.Thread(target=self._thread, args=(outcome,), name="kopf", daemon=True)
        thread.start()
        self._ready.wait()
        asked_at: float | None = None
        while thread.is_alive():
            thread.join(0.5)
            now = time.monotonic()
            if self.stopping.is_set():
                self._request_stop()
                asked_at = asked_at or now
                if now - asked_at > self.policy.stop_grace:
                    logger.error(
                        "kopf did not finish stopping within %.0fs of the signal; exiting", self.policy.stop_grace
                    )
                    logging.shutdown()
                    os._exit(0)
            elif self.cleaned_up_at is not None and now - self.cleaned_up_at > self.policy.stop_grace:
                logger.error(
                    "kopf did not finish stopping within %.0fs of its cleanup; starting a fresh process",
                    self.policy.stop_grace,
                )
                logging.shutdown()
                os.environ[RESTARTS_ENV] = str(int(os.environ.get(RESTARTS_ENV, "0")) + 1)
                os.execv(sys.executable, [sys.executable, *sys.argv])
        if outcome:
            raise outcome[0]

    def _thread(self, outcome: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop, self._stop = loop, loop.create_future()
        self._ready.set()
        try:
            self.run(loop, self._stop)
        except BaseException as exc:  # handed to the main thread, which decides
            outcome.append(exc)
        finally:
            self._loop = self._stop = None
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
