"""The in-process interface kubesim's controllers (deployment, replicaset, job, kubelet) use to
read and write objects. In kubesim the API server's store implements it directly
(`kubesim.apiserver.store.StoreClusterAPI`); the process node uses `kubesim.node.client.HttpClusterAPI`,
which speaks HTTP to any API server.

Resources are named by (api_version, plural), e.g. ("apps/v1", "deployments"), ("v1", "pods").
Objects are plain dicts shaped exactly as on the wire. Writes go through the same admission,
validation, resourceVersion and watch machinery as HTTP requests, so a controller's write is seen
by kubectl, kopf and the operator exactly like a real controller's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol

Obj = dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED"]


class ClusterAPI(Protocol):
    async def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> Obj | None:
        """The object, or None when it does not exist."""

    async def list(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]: ...

    async def create(self, api_version: str, plural: str, namespace: str | None, obj: Obj) -> Obj:
        """Create (generateName honoured). Raises kubesim.errors.ApiError (409 AlreadyExists, 422 ...)."""

    async def update(self, api_version: str, plural: str, obj: Obj, subresource: str | None = None) -> Obj:
        """PUT semantics; a stale metadata.resourceVersion raises ApiError 409 Conflict."""

    async def patch(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: Literal["merge", "json", "strategic"] = "merge",
        subresource: str | None = None,
    ) -> Obj: ...

    async def delete(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        name: str,
        propagation: Literal["Background", "Foreground", "Orphan"] = "Background",
        grace_period_seconds: int | None = None,
    ) -> None: ...

    async def create_subresource(
        self, api_version: str, plural: str, namespace: str | None, name: str, subresource: str, body: Obj
    ) -> Obj:
        """POST to a subresource: `serviceaccounts/NAME/token` (a TokenRequest), `pods/NAME/binding`."""
        ...

    def watch(
        self, api_version: str, plural: str, namespace: str | None = None, field_selector: str | None = None
    ) -> AsyncIterator[tuple[EventType, Obj]]:
        """Every existing object as ADDED, then changes as they happen, until the iterator ends or is
        closed (a watch over HTTP ends when the server closes it; callers list again)."""
        ...

    async def record_event(self, involved: Obj, reason: str, message: str, type_: str = "Normal") -> None:
        """Create a core/v1 Event about `involved`, the way a controller's EventRecorder does."""


def event_object(involved: Obj, reason: str, message: str, type_: str, component: str, timestamp: str) -> Obj:
    """A core/v1 Event about `involved`, as a controller's EventRecorder writes it."""
    md = involved.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{md.get('name', 'object')}.", "namespace": md.get("namespace") or "default"},
        "involvedObject": {
            "apiVersion": involved.get("apiVersion"),
            "kind": involved.get("kind"),
            "name": md.get("name"),
            "namespace": md.get("namespace"),
            "uid": md.get("uid"),
            "resourceVersion": md.get("resourceVersion"),
        },
        "reason": reason,
        "message": message,
        "type": type_,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": "kubesim",
        "firstTimestamp": timestamp,
        "lastTimestamp": timestamp,
        "count": 1,
    }
