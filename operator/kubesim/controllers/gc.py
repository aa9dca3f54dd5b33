"""The garbage collector: dependents go when all their owners are gone (background), owners being
deleted in the foreground wait for their blocking dependents, orphaning owners release theirs."""

from __future__ import annotations

import contextlib
import copy
import logging

from kubesim.apiserver.store import FOREGROUND, ORPHAN, Store
from kubesim.cluster import Obj
from kubesim.errors import ApiError

log = logging.getLogger("kubesim.controllers.gc")


class GarbageCollector:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def run(self) -> None:
        while True:
            uid = await self.store.gc_queue.get()
            try:
                self.process(uid)
            except Exception:  # keep collecting; one odd object must not stop the collector
                log.exception("garbage collection of dependents of %s failed", uid)

    def process(self, uid: str) -> None:
        owner = self.store.by_uid(uid)
        if owner is None:
            for dep in self.store.dependents(uid):
                refs = dep["metadata"].get("ownerReferences") or []
                if all(self.store.by_uid(r.get("uid", "")) is None for r in refs):
                    self._delete(dep, "Background")
            return
        md = owner["metadata"]
        if not md.get("deletionTimestamp"):
            return
        finalizers = md.get("finalizers") or []
        if ORPHAN in finalizers:
            for dep in self.store.dependents(uid):
                self._drop_ref(dep, uid)
            self._remove_finalizer(owner, ORPHAN)
        elif FOREGROUND in finalizers:
            blocking = []
            for dep in self.store.dependents(uid):
                if not dep["metadata"].get("deletionTimestamp"):
                    self._delete(dep, "Foreground")
                dep = self.store.by_uid(dep["metadata"]["uid"]) or {}
                if dep and any(
                    r.get("uid") == uid and r.get("blockOwnerDeletion")
                    for r in dep["metadata"].get("ownerReferences") or []
                ):
                    blocking.append(dep)
            if not blocking:
                self._remove_finalizer(owner, FOREGROUND)

    def _rt(self, obj: Obj):  # type: ignore[no-untyped-def]
        return self.store.rt_of(obj)

    def _delete(self, obj: Obj, propagation: str) -> None:
        rt = self._rt(obj)
        if rt is None:
            return
        md = obj["metadata"]
        with contextlib.suppress(ApiError):
            self.store.delete_obj(rt, md.get("namespace"), md["name"], propagation)  # type: ignore[arg-type]

    def _drop_ref(self, obj: Obj, owner_uid: str) -> None:
        rt = self._rt(obj)
        if rt is None:
            return
        new = copy.deepcopy(obj)
        new["metadata"]["ownerReferences"] = [
            r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
        ]
        if not new["metadata"]["ownerReferences"]:
            del new["metadata"]["ownerReferences"]
        md = obj["metadata"]
        self.store.update_obj(rt, md.get("namespace"), md["name"], new)

    def _remove_finalizer(self, obj: Obj, finalizer: str) -> None:
        rt = self._rt(obj)
        if rt is None:
            return
        new = copy.deepcopy(obj)
        new["metadata"]["finalizers"] = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
        md = obj["metadata"]
        self.store.update_obj(rt, md.get("namespace"), md["name"], new)
