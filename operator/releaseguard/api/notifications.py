"""Notification subscriptions (spec) and delivery records (status).

Channels themselves (where a message goes, with what credentials) are configured by the cluster
admin in the operator's own namespace, each for the namespaces the admin lists; an rv only names
a channel and the events it wants.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from .base import SpecModel, StatusModel

CHANNEL_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class NotifyEvent(StrEnum):
    VERIFIED = "Verified"  # the run passed
    FAILED = "Failed"  # the run failed (whatever was done about it)
    ROLLED_BACK = "RolledBack"  # the operator rolled the Deployment back
    ROLLBACK_RECOMMENDED = "RollbackRecommended"  # rollback.policy Manual (or --dry-run): what it would do
    FLAKY = "Flaky"  # a check failed and then passed on a retry
    ERROR = "Error"  # the verification could not reach a verdict


DEFAULT_EVENTS = (NotifyEvent.FAILED, NotifyEvent.ROLLED_BACK, NotifyEvent.ROLLBACK_RECOMMENDED, NotifyEvent.ERROR)


class NotificationSubscription(SpecModel):
    channel: Annotated[str, Field(min_length=1, max_length=63, pattern=CHANNEL_NAME)]
    """A channel configured by the cluster admin (chart value notifications.channels) for this rv's namespace (its `namespaces` list); any other channel gets nothing, and the delivery is recorded Failed with a Warning Event."""
    events: Annotated[list[NotifyEvent], Field(min_length=1, max_length=6)] = list(DEFAULT_EVENTS)
    """Events that send a message: Verified, Failed, RolledBack, RollbackRecommended, Flaky, Error."""


class DeliveryResult(StrEnum):
    DELIVERED = "Delivered"
    FAILED = "Failed"


class NotificationRecord(StatusModel):
    """One delivery of one event of the current run to one channel: the dedupe record."""

    channel: str
    event: NotifyEvent
    revision: int
    run_start: datetime | None = Field(default=None, description="startTime of the run it belongs to")
    result: DeliveryResult
    attempts: int = 0
    time: datetime
    message: str = ""
