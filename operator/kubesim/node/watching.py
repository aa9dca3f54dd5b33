"""Long-running watches for in-process components (the kubelet, the Service network).

Each watch restarts after a failure, a failing handler is logged and skipped (one bad object must
not stop a component), and `after_gap` runs after every restart so a component can reconcile what
it missed while the watch was down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from kubesim.cluster import ClusterAPI, Obj

log = logging.getLogger(__name__)

Handler = Callable[[str, Obj], Awaitable[None]]
RESTART_DELAY = 0.5


class Watches:
    def __init__(self, api: ClusterAPI, component: str) -> None:
        self.api = api
        self.component = component
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def run(
        self,
        handlers: Mapping[str, Handler],
        after_gap: Mapping[str, Callable[[], Awaitable[None]]] | None = None,
        field_selectors: Mapping[str, str] | None = None,
    ) -> None:
        """Watch each core/v1 resource in `handlers` until close() (or cancellation)."""
        gaps, selectors = after_gap or {}, field_selectors or {}
        self._tasks = [
            asyncio.create_task(self._forever(p, h, gaps.get(p), selectors.get(p))) for p, h in handlers.items()
        ]
        try:
            await self._closed.wait()
        finally:  # cancelled instead of closed: at least stop watching
            for task in self._tasks:
                task.cancel()

    async def close(self) -> None:
        self._closed.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _forever(
        self,
        plural: str,
        handle: Handler,
        after_gap: Callable[[], Awaitable[None]] | None,
        field_selector: str | None,
    ) -> None:
        while not self._closed.is_set():
            try:
                async for type_, obj in self.api.watch("v1", plural, field_selector=field_selector):
                    try:
                        await handle(type_, obj)
                    except Exception:
                        meta = obj.get("metadata") or {}
                        log.exception(
                            "%s: handling %s %s/%s failed",
                            self.component,
                            plural,
                            meta.get("namespace"),
                            meta.get("name"),
                        )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: watch on %s failed; restarting it", self.component, plural)
            await asyncio.sleep(RESTART_DELAY)
            if after_gap is not None:
                await after_gap()
