"""A minimal controller runtime: watches feed a de-duplicating work queue of (namespace, name) keys;
`reconcile` runs one key at a time and may ask to be called again after a delay."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from kubesim.apiserver.store import StoreClusterAPI
from kubesim.cluster import Obj
from kubesim.errors import ApiError

Key = tuple[str, str]
log = logging.getLogger("kubesim.controllers")


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_ref(owner: Obj) -> dict[str, Any]:
    md = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": md["name"],
        "uid": md["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def key_of(obj: Obj) -> Key:
    md = obj["metadata"]
    return (md.get("namespace", ""), md["name"])


class Controller:
    name = "controller"

    def __init__(self, api: StoreClusterAPI) -> None:
        self.api = api
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        self._timers: dict[Key, asyncio.TimerHandle] = {}

    def enqueue(self, key: Key) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def enqueue_after(self, key: Key, delay: float) -> None:
        loop = asyncio.get_running_loop()
        old = self._timers.get(key)
        when = loop.time() + max(delay, 0.0)
        if old is not None and old.when() <= when and not old.cancelled():
            return
        if old is not None:
            old.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.enqueue(key)

    def watches(self) -> list[tuple[str, str, Callable[[str, Obj], None]]]:
        """(api_version, plural, handler(event_type, obj)) pairs."""
        return []

    async def reconcile(self, key: Key) -> None:
        raise NotImplementedError

    async def _watch(self, api_version: str, plural: str, handler: Callable[[str, Obj], None]) -> None:
        async for type_, obj in self.api.watch(api_version, plural):
            handler(type_, obj)

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._watch(av, pl, h)) for av, pl, h in self.watches()]
        try:
            while True:
                key = await self._queue.get()
                self._queued.discard(key)
                try:
                    await self.reconcile(key)
                except ApiError as err:
                    if err.code not in (404, 409):
                        log.warning("%s: %s/%s: %s", self.name, key[0], key[1], err.message)
                    self.enqueue_after(key, 0.05)
                except Exception:
                    log.exception("%s: reconcile of %s/%s failed", self.name, *key)
                    self.enqueue_after(key, 0.5)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for timer in self._timers.values():
                timer.cancel()
