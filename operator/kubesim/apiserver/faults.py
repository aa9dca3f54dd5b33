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
    # watch streams end after this many seconds (None: never).
    watch_cut_seconds: float | None = None
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._rng.seed(self.seed)

    def clear(self) -> None:
        self.error_rate = {}
        self.latency_seconds = 0.0
        self.throttle_rate = 0.0
        self.watch_cut_seconds = None

    def _roll(self, p: float) -> bool:
        if p <= 0:
            return False
        if p >= 1:
            return True
        with self._lock:
            return self._rng.random() < p

    def check(self, verb: str) -> ApiError | None:
        """The error to answer this request with, if any."""
        if self._roll(self.throttle_rate):
            return ApiError(
                429,
                "kubesim: injected throttling, please try again later",
                "TooManyRequests",
                {"retryAfterSeconds": self.retry_after_seconds},
                headers={"Retry-After": str(self.retry_after_seconds)},
            )
        rate = self.error_rate.get(verb, self.error_rate.get("*", 0.0))
        if self._roll(rate):
            return ApiError(self.error_code, f"kubesim: injected fault for verb {verb}")
        return None


def parse_cli(specs: list[str], faults: Faults) -> Faults:
    """`error-rate=get:0.5`, `latency=0.2`, `throttle=0.1`, `retry-after=2`, `watch-cut=5`, `error-code=503`."""
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
        elif name == "error-code":
            faults.error_code = int(value)
        else:
            raise ValueError(
                f"unknown fault {spec!r}: expected error-rate=VERB:P, latency=S, throttle=P, retry-after=S, watch-cut=S, error-code=N"
            )
    return faults
