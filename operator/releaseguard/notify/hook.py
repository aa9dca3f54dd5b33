"""Where notifications meet the reconciler: three calls from Reconciler.reconcile.

- `records(key, status)`: the status about to be written, with finished deliveries added;
- `written(key, records)`: that status was written, so those records are durable;
- `dispatch(key, body, deployment)`: start the deliveries the current run still owes.

The status records are the dedupe: a restarted operator sees them and sends nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .. import reasons
from ..api import ReleaseVerificationStatus, parse_release_verification
from ..api.notifications import DeliveryResult, NotificationRecord, NotifyEvent
from ..api.status import status_from_wire
from ..core.rollout import images_of, revision_of
from ..errors import SpecInvalidError
from ..operator.kubeapi import KubeAPI
from ..operator.metrics import Metrics
from .config import ChannelKind, NotifyConfig, refusal
from .deliver import Notifier, Sender, send
from .message import Release, compose, due_deliveries, merge_records

Obj = dict[str, Any]
Key = tuple[str, str]
logger = logging.getLogger("releaseguard")


class NotificationHook:
    def __init__(
        self,
        config: NotifyConfig,
        kube: KubeAPI,
        metrics: Metrics,
        rv_of: Callable[[Key], Obj | None],
        requeue: Callable[[Key], None],
        sender: Sender = send,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.kube = kube
        self.metrics = metrics
        self.rv_of = rv_of
        self.requeue = requeue
        self.clock = clock
        self.notifier = Notifier(config, self._done, sender, clock)
        metrics.zero_notifications(config.channels, [event.value for event in NotifyEvent])
        for name, channel in sorted(config.channels.items()):
            if channel.namespaces is None:  # an empty list is the admin's word; a missing one may be an upgrade
                logger.warning(
                    "notification channel %s serves no namespace: set channels.%s.namespaces (names or patterns; "
                    '"*" for every namespace) in the notifications config',
                    name,
                    name,
                )

    def records(self, key: Key, status: ReleaseVerificationStatus) -> list[NotificationRecord] | None:
        return merge_records(status, self.notifier.finished(key))

    def written(self, key: Key, records: list[NotificationRecord] | None) -> None:
        self.notifier.written(key, records or [])

    async def dispatch(self, key: Key, body: Obj | None, deployment: Obj | None) -> None:
        if body is None:
            return
        try:
            rv = parse_release_verification({k: v for k, v in body.items() if k != "status"})
        except SpecInvalidError:
            return
        status = status_from_wire(body.get("status"))
        due = due_deliveries(status, rv.spec.notifications, self.clock(), self.notifier.in_progress(key))
        if not due or status.last_run is None:
            return
        release = Release(
            namespace=key[0],
            name=key[1],
            deployment=rv.spec.target_ref.name,
            revision=status.last_run.revision,
            image=await self._image(deployment, status.last_run.revision),
        )
        for delivery in due:
            message = compose(rv, status, release, delivery.event, self.config.links)
            document = None
            refused = refusal(self.config, delivery.channel, key[0]) is not None  # the Notifier records why
            if self.notifier.kind_of(delivery.channel) is ChannelKind.INCIDENT and not refused:
                from ..incident import incident_document

                # a resolving update names the failed revision's image: read only for those
                failed = status.history[1].revision if len(status.history) > 1 else None
                resolving = delivery.event is NotifyEvent.VERIFIED and failed is not None
                failed_image = await self._image(deployment, failed) if resolving and failed is not None else ""
                document = incident_document(rv, status, release, delivery.event, self.config.links, failed_image)
                if document is None:  # nothing for a tracker in this event
                    continue
            if not refused:
                logger.info("%s/%s: notifying %s of %s", key[0], key[1], delivery.channel, delivery.event.value)
            self.notifier.start(key, delivery, message, document)

    async def _image(self, deployment: Obj | None, revision: int) -> str:
        """The image of `revision`: the Deployment's own when it is that revision (a rollback may
        have moved the template since), else the image of that revision's ReplicaSet."""
        if deployment is None:
            return ""
        if revision_of(deployment) == revision:
            return images_of(deployment)
        try:
            replicasets = await self.kube.replicasets_of(deployment)
        except Exception as exc:
            logger.info("could not read ReplicaSets for a notification's image: %s", exc)
            return ""
        return next((images_of(rs) for rs in replicasets if revision_of(rs) == revision), "")

    async def _done(self, key: Key, record: NotificationRecord) -> None:
        self.metrics.record_notification(record.channel, record.event.value, record.result.value)
        delivered = record.result is DeliveryResult.DELIVERED
        text = f"{record.event.value} notification for revision {record.revision} to channel {record.channel}: {record.message}"
        log = logger.info if delivered else logger.warning
        log("%s/%s: %s", key[0], key[1], text)
        self.requeue(key)
        body = self.rv_of(key)
        if body is not None:
            reason = reasons.NOTIFICATION_SENT if delivered else reasons.NOTIFICATION_FAILED
            await self.kube.post_event(body, reason, text, "Normal" if delivered else "Warning")

    async def stop(self) -> None:
        await self.notifier.stop()
