"""Delivering notifications without ever blocking the operator's event loop.

Each delivery is an asyncio task; the blocking apprise call runs in a worker thread. A failed
attempt is retried with exponential backoff (only to the URLs of the channel that failed). When a
delivery ends, its record waits in memory until the reconciler writes it into the rv's status
(the dedupe record that survives a restart) and `on_done` reports it (Event, metric). A channel
that does not exist, or does not serve the rv's namespace (config.refusal), is such a record at
once, Failed with the reason, and nothing is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from ..api.notifications import DeliveryResult, NotificationRecord
from .config import ChannelKind, NotifyConfig, refusal
from .message import Delivery, Message

Key = tuple[str, str]
logger = logging.getLogger("releaseguard.notify")
# apprise logs at INFO per delivery; the operator reports outcomes itself.
logging.getLogger("apprise").setLevel(logging.WARNING)

Sender = Callable[[str, ChannelKind, Message, dict[str, Any] | None], bool]


def send(url: str, kind: ChannelKind, message: Message, document: dict[str, Any] | None) -> bool:
    """One attempt to one URL (blocking). True when the receiver accepted it."""
    if kind is ChannelKind.INCIDENT:
        try:
            response = httpx.post(url, json=document, timeout=10.0)
        except httpx.HTTPError:
            return False
        return response.is_success
    import apprise

    sender = apprise.Apprise()
    if not sender.add(url):
        return False
    return bool(sender.notify(title=message.title, body=message.body, notify_type=message.type))


class Notifier:
    def __init__(
        self,
        config: NotifyConfig,
        on_done: Callable[[Key, NotificationRecord], Awaitable[None]],
        sender: Sender = send,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.on_done = on_done
        self.sender = sender
        self.clock = clock
        self._pending: dict[Key, set[Delivery]] = {}
        self._finished: dict[Key, dict[Delivery, NotificationRecord]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def kind_of(self, channel: str) -> ChannelKind | None:
        found = self.config.channels.get(channel)
        return found.kind if found is not None else None

    def in_progress(self, key: Key) -> set[Delivery]:
        """Deliveries started and not yet in the status (running, or finished and unwritten)."""
        return set(self._pending.get(key, set())) | set(self._finished.get(key, {}))

    def finished(self, key: Key) -> list[NotificationRecord]:
        return list(self._finished.get(key, {}).values())

    def written(self, key: Key, records: list[NotificationRecord]) -> None:
        """The records are in the rv's status now: forget them here."""
        finished = self._finished.get(key, {})
        for delivery, record in list(finished.items()):
            if record in records:
                del finished[delivery]
        if not finished:
            self._finished.pop(key, None)

    def start(self, key: Key, delivery: Delivery, message: Message, document: dict[str, Any] | None = None) -> None:
        self._pending.setdefault(key, set()).add(delivery)
        task = asyncio.create_task(self._deliver(key, delivery, message, document), name=f"notify-{delivery.channel}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, key: Key, delivery: Delivery, message: Message, document: dict[str, Any] | None) -> None:
        channel = self.config.channels.get(delivery.channel)
        retry = self.config.retry
        attempts = 0
        refused = refusal(self.config, delivery.channel, key[0])
        if refused is not None or channel is None:
            result, text = DeliveryResult.FAILED, refused or ""
        else:
            remaining = list(channel.urls)
            while remaining and attempts < retry.attempts:
                if attempts:
                    await asyncio.sleep(retry.delay(attempts))
                attempts += 1
                outcomes = await asyncio.gather(
                    *(asyncio.to_thread(self._try, url, channel.kind, message, document) for url in remaining)
                )
                remaining = [url for url, ok in zip(remaining, outcomes, strict=True) if not ok]
            if remaining:
                result = DeliveryResult.FAILED
                text = (
                    f"{len(remaining)} of {len(channel.urls)} targets refused or unreachable after {attempts} attempts"
                )
            else:
                result = DeliveryResult.DELIVERED
                text = f"delivered after {attempts} attempt{'s' if attempts > 1 else ''}"
        record = NotificationRecord(
            channel=delivery.channel,
            event=delivery.event,
            revision=delivery.revision,
            run_start=delivery.run_start,
            result=result,
            attempts=attempts,
            time=self.clock(),
            message=text,
        )
        self._pending.get(key, set()).discard(delivery)
        self._finished.setdefault(key, {})[delivery] = record
        try:
            await self.on_done(key, record)
        except Exception as exc:  # reporting must never lose the record
            logger.warning("%s/%s: could not report a notification outcome: %s", key[0], key[1], exc)

    def _try(self, url: str, kind: ChannelKind, message: Message, document: dict[str, Any] | None) -> bool:
        try:
            return self.sender(url, kind, message, document)
        except Exception as exc:  # a broken plugin is a failed attempt, not a dead task
            logger.warning("notification attempt raised %s", type(exc).__name__)
            return False

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
