"""The operator's Prometheus metrics, on a registry of their own (never the global one).

Every metric is documented in the README's Metrics section.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from .. import reasons
from ..api import Phase
from ..api.status import CheckStatus

RV_LABELS: Final = ("namespace", "releaseverification")
DURATION_BUCKETS: Final = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
# Counter and histogram series created at 0 when an rv is first seen, so that increase() and
# rate() see its first verdict and rollback (a series born at 1 has no increase) and alert on it.
VERDICTS: Final = ("Passed", "Failed", "Error")
ROLLBACK_REASONS: Final = (reasons.CRITICAL_CHECKS_FAILED, reasons.NON_CRITICAL_CHECKS_FAILED, reasons.ROLLOUT_STALLED)
OVERHEAD_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._owned: dict[tuple[str, str], set[tuple[int, tuple[str, ...]]]] = {}
        r = self.registry
        self.verifications = Counter(
            "releaseguard_verifications",
            "Verifications that reached a verdict, by verdict (Passed, Failed, Error).",
            [*RV_LABELS, "result"],
            registry=r,
        )
        self.duration = Histogram(
            "releaseguard_verification_duration_seconds",
            "Time from launching a verification's probe Jobs to its verdict.",
            RV_LABELS,
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.rollout_to_verdict = Histogram(
            "releaseguard_rollout_to_verdict_seconds",
            "Time from a revision's rollout being complete to its verdict being recorded (includes delaySeconds).",
            RV_LABELS,
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.checks = Counter(
            "releaseguard_check_results",
            "Check results of finished verifications, by check and result.",
            [*RV_LABELS, "check", "result"],
            registry=r,
        )
        self.rollbacks = Counter(
            "releaseguard_rollbacks",
            "Rollbacks applied to a Deployment, by the reason of the failed verification.",
            [*RV_LABELS, "reason"],
            registry=r,
        )
        self.phase = Gauge(
            "releaseguard_releaseverification_phase",
            "1 for the ReleaseVerification's current phase, 0 for the others.",
            [*RV_LABELS, "phase"],
            registry=r,
        )
        self.info = Gauge(
            "releaseguard_releaseverification_info",
            "Always 1: the Deployment a ReleaseVerification verifies, its current revision and image "
            "(one series per ReleaseVerification; join on namespace and releaseverification).",
            [*RV_LABELS, "deployment", "revision", "image"],
            registry=r,
        )
        self._info_labels: dict[tuple[str, str], tuple[str, str, str, str, str]] = {}
        self._zeroed: set[tuple[str, str]] = set()
        self.notifications = Counter(
            "releaseguard_notifications",
            "Notification deliveries that ended, by channel, event and result (Delivered, Failed).",
            ["channel", "event", "result"],
            registry=r,
        )
        self.reconcile_errors = Counter(
            "releaseguard_reconcile_errors",
            "Reconciliations that failed and were retried, by error type.",
            ["error"],
            registry=r,
        )
        self.restarts = Counter(
            "releaseguard_watch_restarts",
            "Times kopf's watching stopped on an error and was started again in the same process.",
            registry=r,
        )

    def record_verdict(
        self,
        namespace: str,
        name: str,
        verdict: str,
        duration: float | None,
        rollout_to_verdict: float | None,
        checks: Iterable[CheckStatus],
    ) -> None:
        """`checks` carry only the spec's check names (core.outcome builds them from the spec), so a
        report cannot add series: at most 64 checks x 6 results per rv."""
        self._series(self.verifications, namespace, name, verdict).inc()
        if duration is not None:
            self._series(self.duration, namespace, name).observe(duration)
        if rollout_to_verdict is not None:
            self._series(self.rollout_to_verdict, namespace, name).observe(rollout_to_verdict)
        for check in checks:
            self._series(self.checks, namespace, name, check.name, check.result.value).inc()

    def record_rollback(self, namespace: str, name: str, reason: str) -> None:
        self._series(self.rollbacks, namespace, name, reason).inc()

    def _series(self, metric: Any, namespace: str, name: str, *rest: str) -> Any:
        self._owned.setdefault((namespace, name), set()).add((id(metric), (namespace, name, *rest)))
        return metric.labels(namespace, name, *rest)

    def set_phase(self, namespace: str, name: str, phase: Phase | str | None) -> None:
        current = str(phase.value if isinstance(phase, Phase) else phase or "")
        for candidate in Phase:
            self.phase.labels(namespace, name, candidate.value).set(1 if candidate.value == current else 0)

    def set_info(self, namespace: str, name: str, deployment: str, revision: int | None, image: str) -> None:
        """Keep exactly one info series per RV: the previous revision's series is removed."""
        self._zero_counters(namespace, name)
        labels = (namespace, name, deployment, "" if revision is None else str(revision), image)
        previous = self._info_labels.get((namespace, name))
        if previous == labels:
            return
        if previous is not None:
            with contextlib.suppress(KeyError):
                self.info.remove(*previous)
        self.info.labels(*labels).set(1)
        self._info_labels[(namespace, name)] = labels

    def _zero_counters(self, namespace: str, name: str) -> None:
        if (namespace, name) in self._zeroed:
            return
        self._zeroed.add((namespace, name))
        for verdict in VERDICTS:
            self.verifications.labels(namespace, name, verdict)
        for reason in ROLLBACK_REASONS:
            self.rollbacks.labels(namespace, name, reason)
        self.duration.labels(namespace, name)
        self.rollout_to_verdict.labels(namespace, name)

    def zero_notifications(self, channels: Iterable[str], events: Iterable[str]) -> None:
        """Create each configured channel's series at 0 (so the first failure shows in increase())."""
        for channel in channels:
            for event in events:
                for result in ("Delivered", "Failed"):
                    self.notifications.labels(channel, event, result)

    def record_notification(self, channel: str, event: str, result: str) -> None:
        self.notifications.labels(channel, event, result).inc()

    def forget(self, namespace: str, name: str) -> None:
        """Drop every series of a deleted RV (so an alert on it stops firing and none lingers)."""
        for candidate in Phase:
            with contextlib.suppress(KeyError):
                self.phase.remove(namespace, name, candidate.value)
        previous = self._info_labels.pop((namespace, name), None)
        if previous is not None:
            with contextlib.suppress(KeyError):
                self.info.remove(*previous)
        if (namespace, name) in self._zeroed:
            self._zeroed.discard((namespace, name))
            for verdict in VERDICTS:
                with contextlib.suppress(KeyError):
                    self.verifications.remove(namespace, name, verdict)
            for reason in ROLLBACK_REASONS:
                with contextlib.suppress(KeyError):
                    self.rollbacks.remove(namespace, name, reason)
            for histogram in (self.duration, self.rollout_to_verdict):
                with contextlib.suppress(KeyError):
                    histogram.remove(namespace, name)
        by_id = {id(m): m for m in self._rv_metrics()}
        for metric_id, labels in self._owned.pop((namespace, name), set()):
            with contextlib.suppress(KeyError):
                by_id[metric_id].remove(*labels)

    def _rv_metrics(self) -> list[Any]:
        return [self.verifications, self.duration, self.rollout_to_verdict, self.checks, self.rollbacks]

    def text(self) -> str:
        return generate_latest(self.registry).decode()


def serve(metrics: Metrics, port: int, address: str = "0.0.0.0") -> Any:
    """Serve /metrics in a background thread; returns the server (call .shutdown() and .server_close())."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=address, registry=metrics.registry)
    return server
