"""Run kopf again when its watching fails.

kopf stops the whole operator when a watch stream ends in an ERROR event other than 410 Gone (a
real API server writes `500 InternalError` when etcd fails a watch, for example "etcd event
received with PrevKv=nil" after a compaction), or when a request keeps failing past its retries.
client-go's reflectors list and watch again instead. So does `releaseguard run`: it starts kopf
again in the same process after a short backoff (the watches list afresh; state lives in the rvs'
status, so nothing is lost). Only when runs keep failing fast is it given up, exit 1, so that the
kubelet restarts the pod and its restart count shows it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger("releaseguard")


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 1.0  # seconds before the first restart, doubling for each quick failure
    max_delay: float = 30.0
    healthy_seconds: float = 120.0  # a run lasting this long resets the count of quick failures
    quick_failures: int = 6  # in a row: give up (exit 1)


def restart_delay(policy: RestartPolicy, quick_failures: int) -> float:
    """Seconds before restarting after the `quick_failures`-th quick failure in a row (1-based)."""
    return min(policy.first_delay * 2.0 ** (quick_failures - 1), policy.max_delay)


def supervise(
    run_once: Callable[[], None],
    fatal: tuple[type[BaseException], ...] = (),
    policy: RestartPolicy = RestartPolicy(),
    on_restart: Callable[[BaseException], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
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
