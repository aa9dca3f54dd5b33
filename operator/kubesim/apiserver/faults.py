"""Fault injection for hardening tests: errors by verb, extra latency, 429 with Retry-After, and watch
streams cut every N seconds. Applies to resource requests over HTTP only (never to discovery or to
in-process controllers), so clients see a flaky API server while the cluster itself keeps working."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from kubesim.errors import ApiError


@dataclass
class Faults:
    # verb ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection" or "*")
    # -> probability of answering `error_code` instead.
    error_rate: dict[str, float] = field(default_factory=dict)
    error_code: int = 500
    latency_seconds: float = 0.0
    # probability of answering 429 TooManyRequests with Retry-After: retry_after_seconds.
    throttle_rate: float = 0.0
    retry_after_seconds: int = 1
    # probability of answering 409 Conflict to an update or patch (as a stale resourceVersion would).
    conflict_rate: float = 0.0
    # watch streams end after this many seconds (None: never).
    watch_cut_seconds: float | None = None
    # probability, each second and each event, that a watch stream ends with an ERROR event 500
    # InternalError, as a real API server's does when etcd fails it (for example "etcd event
    # received with PrevKv=nil" after a compaction, without the watch cache).
    watch_error_rate: float = 0.0
    # only requests whose User-Agent starts with one of these are faulted (empty: every request), so
    # a test can make the operator's API server flaky while its own kubectl calls are not.
    user_agents: tuple[str, ...] = ()
    seed: int | None = None
    injected: dict[int, int] = field(default_factory=dict)  # answers injected so far, by status code
    faultable: int = 0  # requests the faults applied to so far (an estimate: not locked)
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._rng.seed(self.seed)

    def clear(self) -> None:
        self.error_rate = {}
        self.latency_seconds = 0.0
        self.throttle_rate = 0.0
        self.conflict_rate = 0.0
        self.watch_cut_seconds = None
        self.watch_error_rate = 0.0
        self.user_agents = ()

    def applies_to(self, user_agent: str) -> bool:
        if self.user_agents and not user_agent.startswith(self.user_agents):
            return False
        self.faultable += 1
        return True

    def _roll(self, p: float) -> bool:
        if p <= 0:
            return False
        if p >= 1:
            return True
        with self._lock:
            return self._rng.random() < p

    def watch_error(self) -> bool:
        """Whether this watch stream is to end with an ERROR event 500."""
        failed = self._roll(self.watch_error_rate)
        if failed:
            with self._lock:
                self.injected[500] = self.injected.get(500, 0) + 1
        return failed

    def check(self, verb: str) -> ApiError | None:
        """The error to answer this request with, if any."""
        error = self._draw(verb)
        if error is not None:
            with self._lock:
                self.injected[error.code] = self.injected.get(error.code, 0) + 1
        return error

    def _draw(self, verb: str) -> ApiError | None:
        if self._roll(self.throttle_rate):
            return ApiError(
                429,
                "kubesim: injected throttling, please try again later",
                "TooManyRequests",
                {"retryAfterSeconds": self.retry_after_seconds},
                headers={"Retry-After": str(self.retry_after_seconds)},
            )
        if verb in ("update", "patch") and self._roll(self.conflict_rate):
            return ApiError(
                409,
                "kubesim: injected conflict: the object has been modified; please apply your changes "
                "to the latest version and try again",
                "Conflict",
            )
        rate = self.error_rate.get(verb, self.error_rate.get("*", 0.0))
        if self._roll(rate):
            return ApiError(self.error_code, f"kubesim: injected fault for verb {verb}")
        return None


def parse_cli(specs: list[str], faults: Faults) -> Faults:
    """`error-rate=get:0.5`, `latency=0.2`, `throttle=0.1`, `retry-after=2`, `watch-cut=5`, `watch-error=0.1`, `error-code=503`."""
    for spec in specs:
        name, _, value = spec.partition("=")
        if name == "error-rate":
            verb, _, rate = value.rpartition(":")
            faults.error_rate[verb or "*"] = float(rate)
        elif name == "latency":
            faults.latency_seconds = float(value)
        elif name == "throttle":
            faults.throttle_rate = float(value)
        elif name == "retry-after":
            faults.retry_after_seconds = int(value)
        elif name == "watch-cut":
            faults.watch_cut_seconds = float(value)
        elif name == "watch-error":
            faults.watch_error_rate = float(value)
        elif name == "conflict":
            faults.conflict_rate = float(value)
        elif name == "user-agent":
            faults.user_agents = (*faults.user_agents, value)
        elif name == "error-code":
            faults.error_code = int(value)
        else:
            raise ValueError(
                f"unknown fault {spec!r}: expected error-rate=VERB:P, latency=S, throttle=P, retry-after=S, conflict=P, watch-cut=S, user-agent=PREFIX, error-code=N"
            )
    return faults
