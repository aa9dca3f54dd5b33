"""The object store: every write goes through admission, resourceVersion and watch fan-out here,
whether it comes over HTTP or from an in-process controller. It implements `ClusterAPI`.

Single-threaded by design: all calls happen on the server's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from kubesim import clock
from kubesim.apiserver import admission
from kubesim.apiserver.patch import json_patch, merge_patch, strategic_merge_patch
from kubesim.apiserver.resources import Registry, ResourceType
from kubesim.apiserver.selectors import label_requirements, parse_field_selector, parse_label_selector
from kubesim.cluster import EventType, Obj, event_object
from kubesim.errors import ApiError, already_exists, bad_request, conflict, not_found

Key = tuple[str, str]  # (group, plural)
PatchType = Literal["merge", "json", "strategic"]
Propagation = Literal["Background", "Foreground", "Orphan"]

ObjList = list[Obj]
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


ObjKey = tuple[str, str]  # (namespace, name); namespace "" when cluster-scoped


class LabelIndex:
    """The keys of one resource's objects by namespace and by label (key, value), kept on every write,
    so that a list in a namespace or with an equality selector (`app=web`, `app in (a,b)`) costs what it
    selects, not what the resource holds: a controller or an operator listing the pods of one app per
    reconcile otherwise costs O(all pods) each time, O(n^2) over a rollout of n apps."""

    def __init__(self) -> None:
        self._by_ns: dict[str, set[ObjKey]] = {}
        self._by_label: dict[tuple[str, str], set[ObjKey]] = {}

    def add(self, key: ObjKey, labels: dict[str, str]) -> None:
        self._by_ns.setdefault(key[0], set()).add(key)
        for item in labels.items():
            self._by_label.setdefault(item, set()).add(key)

    def remove(self, key: ObjKey, labels: dict[str, str]) -> None:
        _discard(self._by_ns, key[0], key)
        for item in labels.items():
            _discard(self._by_label, item, key)

    def candidates(self, namespace: str | None, requirements: list[tuple[str, frozenset[str]]]) -> set[ObjKey] | None:
        """A superset of the keys in `namespace` (None: every namespace) meeting `requirements`; None
        when neither narrows the search (every object is a candidate)."""
        sets: list[set[ObjKey]] = []
        if namespace is not None:
            sets.append(self._by_ns.get(namespace, set()))
        for label, values in requirements:
            if len(values) == 1:
                sets.append(self._by_label.get((label, next(iter(values))), set()))
            else:
                sets.append(set().union(*(self._by_label.get((label, v), set()) for v in values)))
        if not sets:
            return None
        sets.sort(key=len)
        return sets[0].intersection(*sets[1:])


def _discard(index: dict[Any, set[ObjKey]], at: Any, key: ObjKey) -> None:
    keys = index.get(at)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[at]


def _labels(obj: Obj) -> dict[str, str]:
    return obj["metadata"].get("labels") or {}


@dataclass(eq=False)
class Watcher:
    key: Key
    namespace: str | None
    matches: Callable[[Obj], bool]
    queue: asyncio.Queue[tuple[str, Obj]] = field(default_factory=asyncio.Queue)


class Store:
    def __init__(self, registry: Registry | None = None, history: int = 5000, strict_crds: bool = False) -> None:
        self.registry = registry or Registry()
        # Reject CRDs whose schemas the real apiserver rejects (otherwise they are served with a Warning).
        self.strict_crds = strict_crds
        self._rv = itertools.count(1)
        self.current_rv = 0
        self._objects: dict[Key, dict[tuple[str, str], Obj]] = {}
        self._indexes: dict[Key, LabelIndex] = {}
        self._history: dict[Key, deque[tuple[int, str, Obj, Obj | None]]] = {}
        self._compacted: dict[Key, int] = {}
        self._history_size = history
        self._watchers: dict[Key, set[Watcher]] = {}
        self._by_uid: dict[str, tuple[Key, str, str]] = {}
        self._dependents: dict[str, set[str]] = {}  # owner uid -> dependent uids
        self.gc_queue: asyncio.Queue[str] = asyncio.Queue()  # uids whose dependents need a look
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self._insert(self.rt("v1", "namespaces"), admission.new_namespace(ns))

    # ---- lookup -------------------------------------------------------------------------------

    def rt(self, api_version: str, plural: str) -> ResourceType:
        rt = self.registry.get(api_version, plural)
        if rt is None:
            raise ApiError(404, f"the server could not find the requested resource ({plural} in {api_version})")
        return rt

    def _bucket(self, rt: ResourceType) -> dict[tuple[str, str], Obj]:
        return self._objects.setdefault(rt.storage_key, {})

    def _ns(self, rt: ResourceType, namespace: str | None) -> str:
        return (namespace or "") if rt.namespaced else ""

    def get_obj(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self._bucket(rt).get((self._ns(rt, namespace), name))
        if obj is None:
            raise not_found(rt.group, rt.plural, name)
        return obj

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        return self._bucket(rt).get((self._ns(rt, namespace), name))

    def by_uid(self, uid: str) -> Obj | None:
        loc = self._by_uid.get(uid)
        if loc is None:
            return None
        key, ns, name = loc
        return self._objects.get(key, {}).get((ns, name))

    def dependents(self, uid: str) -> list[Obj]:
        return [o for u in list(self._dependents.get(uid, ())) if (o := self.by_uid(u)) is not None]

    def rt_of(self, obj: Obj) -> ResourceType | None:
        api_version = obj.get("apiVersion", "")
        for rt in self.registry:
            if rt.kind == obj.get("kind") and (rt.api_version == api_version or rt.storage_version in api_version):
                return rt
        return None

    def select(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        lmatch = parse_label_selector(label_selector)
        fmatch = parse_field_selector(field_selector)
        ns = self._ns(rt, namespace) if namespace else None
        bucket = self._bucket(rt)
        keys = self._label_index(rt).candidates(ns, label_requirements(label_selector))
        out = []
        for key in sorted(bucket if keys is None else keys):
            obj = bucket[key]
            if (ns is None or key[0] == ns) and lmatch(_labels(obj)) and fmatch(obj):
                out.append(obj)
        return out

    def _label_index(self, rt: ResourceType) -> LabelIndex:
        return self._indexes.setdefault(rt.storage_key, LabelIndex())

    # ---- low-level writes -----------------------------------------------------------------------

    def _next_rv(self) -> str:
        self.current_rv = next(self._rv)
        return str(self.current_rv)

    def _index(self, obj: Obj, remove: bool = False) -> None:
        uid = obj["metadata"]["uid"]
        for ref in obj["metadata"].get("ownerReferences") or []:
            deps = self._dependents.setdefault(ref.get("uid", ""), set())
            if remove:
                deps.discard(uid)
            else:
                deps.add(uid)

    def _insert(self, rt: ResourceType, obj: Obj) -> Obj:
        md = obj["metadata"]
        md["resourceVersion"] = self._next_rv()
        self._bucket(rt)[(md.get("namespace", ""), md["name"])] = obj
        self._label_index(rt).add((md.get("namespace", ""), md["name"]), _labels(obj))
        self._by_uid[md["uid"]] = (rt.storage_key, md.get("namespace", ""), md["name"])
        self._index(obj)
        self._emit(rt, "ADDED", obj)
        return obj

    def _replace(self, rt: ResourceType, old: Obj, obj: Obj) -> Obj:
        md = obj["metadata"]
        md["resourceVersion"] = self._next_rv()
        self._index(old, remove=True)
        self._bucket(rt)[(md.get("namespace", ""), md["name"])] = obj
        if _labels(old) != _labels(obj):
            index, key = self._label_index(rt), (md.get("namespace", ""), md["name"])
            index.remove(key, _labels(old))
            index.add(key, _labels(obj))
        self._index(obj)
        self._emit(rt, "MODIFIED", obj, old)
        if md.get("deletionTimestamp") and not md.get("finalizers"):
            self._remove(rt, obj)
        elif md.get("deletionTimestamp"):
            self.gc_queue.put_nowait(md["uid"])
        return obj

    def _remove(self, rt: ResourceType, obj: Obj) -> Obj:
        md = obj["metadata"]
        stored = self._bucket(rt).pop((md.get("namespace", ""), md["name"]), None)
        if stored is not None:
            self._label_index(rt).remove((md.get("namespace", ""), md["name"]), _labels(stored))
        self._by_uid.pop(md["uid"], None)
        self._index(obj, remove=True)
        gone = copy.copy(obj)
        gone["metadata"] = dict(md, resourceVersion=self._next_rv())
        self._emit(rt, "DELETED", gone)
        self.gc_queue.put_nowait(md["uid"])
        for ref in md.get("ownerReferences") or []:
            self.gc_queue.put_nowait(ref.get("uid", ""))  # a foreground-deleting owner may be waiting
        admission.after_delete(self, rt, gone)
        return gone

    def _emit(self, rt: ResourceType, type_: str, obj: Obj, old: Obj | None = None) -> None:
        key = rt.storage_key
        hist = self._history.setdefault(key, deque())
        rv = int(obj["metadata"]["resourceVersion"])
        hist.append((rv, type_, obj, old))
        while len(hist) > self._history_size:
            old_rv, _, _, _ = hist.popleft()
            self._compacted[key] = old_rv
        for w in list(self._watchers.get(key, ())):
            if w.namespace and obj["metadata"].get("namespace") != w.namespace:
                continue
            seen = _as_seen(type_, obj, old, w.matches)
            if seen is not None:
                w.queue.put_nowait((seen, obj))

    def compact(self) -> None:
        """Forget all watch history, so any older resourceVersion answers 410 Gone."""
        for key, hist in self._history.items():
            if hist:
                self._compacted[key] = hist[-1][0]
            hist.clear()
        for key in self._objects:
            self._compacted[key] = self.current_rv

    # ---- verbs --------------------------------------------------------------------------------

    def create_obj(
        self,
        rt: ResourceType,
        namespace: str | None,
        obj: Any,
        field_validation: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was not a JSON object")
        new: Obj = copy.deepcopy(obj)
        md = new.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise bad_request("metadata must be an object")
        if rt.namespaced:
            ns = namespace or md.get("namespace") or "default"
            if md.get("namespace") and md["namespace"] != ns:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            md["namespace"] = ns
            ns_obj = self.find(self.rt("v1", "namespaces"), None, ns)
            if ns_obj is None:
                raise not_found("", "namespaces", ns)
            if ns_obj["metadata"].get("deletionTimestamp"):
                raise ApiError(
                    403,
                    f'{rt.plural} "{md.get("name", "")}" is forbidden: unable to create new content in namespace {ns} because it is being terminated',
                    "Forbidden",
                )
        else:
            md.pop("namespace", None)
        if not md.get("name"):
            if md.get("generateName"):
                md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise admission.invalid_obj(
                    rt, new, [("metadata.name", "Required value: name or generateName is required")]
                )
        if problems := admission.name_problems(rt, md["name"]):
            raise admission.invalid_obj(rt, new, problems)
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        if self.find(rt, md.get("namespace"), md["name"]) is not None:
            raise already_exists(rt.group, rt.plural, md["name"])
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
            md.pop(k, None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = clock.now_str()
        if rt.has_generation:
            md["generation"] = 1
        if rt.status_subresource:
            new.pop("status", None)
        new = admission.admit(self, rt, new, None, field_validation)
        if dry_run:
            return new
        self._insert(rt, new)
        admission.after_write(self, rt, new, None)
        return new

    def update_obj(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        obj: Any,
        subresource: str | None = None,
        field_validation: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was not a JSON object")
        old = self.get_obj(rt, namespace, name)
        new = copy.deepcopy(obj)
        md = new.setdefault("metadata", {})
        if md.get("name") not in (None, name):
            raise bad_request(f"the name of the object ({md.get('name')}) does not match the name on the URL ({name})")
        rv = md.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(rt.group, rt.plural, name)
        if subresource == "status":
            merged = copy.deepcopy(old)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new = admission.admit(self, rt, merged, old, field_validation)
        elif subresource == "scale":
            replicas = (new.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise admission.invalid_obj(
                    rt, old, [("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")]
                )
            new = copy.deepcopy(old)
            new["spec"]["replicas"] = replicas
        elif subresource:
            raise ApiError(404, f"the server could not find the requested resource ({rt.plural}/{subresource})")
        else:
            keep = old["metadata"]
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
                if k in keep:
                    md[k] = keep[k]
                else:
                    md.pop(k, None)
            md["name"] = name
            if rt.namespaced:
                md["namespace"] = keep["namespace"]
            else:
                md.pop("namespace", None)
            if rt.status_subresource:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            new = admission.admit(self, rt, new, old, field_validation)
        new["apiVersion"] = old["apiVersion"]
        new["kind"] = rt.kind
        md = new["metadata"]
        md["resourceVersion"] = old["metadata"]["resourceVersion"]
        if rt.has_generation and _spec_of(new) != _spec_of(old):
            md["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if new == old:
            return old  # a no-op write does not bump resourceVersion, like the real server
        if old["metadata"].get("deletionTimestamp"):
            added = set(md.get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
            if added:
                raise ApiError(
                    422,
                    f'{rt.kind} "{name}" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted',
                    "Invalid",
                )
        if dry_run:
            return new
        self._replace(rt, old, new)
        admission.after_write(self, rt, new, old)
        return new

    def patch_obj(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: PatchType,
        subresource: str | None = None,
        field_validation: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        old = self.get_obj(rt, namespace, name)
        if patch_type == "json":
            new = json_patch(old, patch)
        elif patch_type == "strategic":
            if rt.crd_name:
                raise ApiError(
                    415,
                    "the body of the request was in an unknown format - accepted media types include: "
                    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                    "UnsupportedMediaType",
                )
            new = strategic_merge_patch(old, patch)
        else:
            if not isinstance(patch, dict):
                raise bad_request("merge patch must be a JSON object")
            new = merge_patch(old, patch)
        if not isinstance(new, dict):
            raise bad_request("the patched object is not a JSON object")
        return self.update_obj(rt, namespace, name, new, subresource, field_validation, dry_run)

    def delete_obj(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        propagation: Propagation | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> Obj:
        old = self.get_obj(rt, namespace, name)
        if rt.plural == "namespaces" and rt.group == "" and name in ("default", "kube-system", "kube-public"):
            raise ApiError(403, f'namespaces "{name}" is forbidden: this namespace may not be deleted', "Forbidden")
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
            raise ApiError(
                409,
                f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {old['metadata']['uid']}",
                "Conflict",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(rt.group, rt.plural, name)
        if dry_run:
            return old
        if propagation is None:
            propagation = admission.default_propagation(rt)
        finalizers = list(old["metadata"].get("finalizers") or [])
        if propagation == "Foreground" and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
        if propagation == "Orphan" and ORPHAN not in finalizers:
            finalizers.append(ORPHAN)
        if old["metadata"].get("deletionTimestamp"):
            if finalizers != old["metadata"].get("finalizers"):
                new = copy.deepcopy(old)
                new["metadata"]["finalizers"] = finalizers
                return self._replace(rt, old, new)
            return old
        if finalizers:
            new = copy.deepcopy(old)
            new["metadata"]["finalizers"] = finalizers
            new["metadata"]["deletionTimestamp"] = clock.now_str()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            if rt.has_generation:
                new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
            return self._replace(rt, old, new)
        return self._remove(rt, old)

    # ---- watch --------------------------------------------------------------------------------

    async def watch_events(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> AsyncIterator[tuple[str, Obj]]:
        """ADDED for every existing object (no resourceVersion, or "0"), or a replay of the events after
        `resource_version`; then live events. Yields ("ERROR", Status) when the version is too old."""
        lmatch = parse_label_selector(label_selector)
        fmatch = parse_field_selector(field_selector)

        def matches(o: Obj) -> bool:
            return lmatch(o["metadata"].get("labels") or {}) and fmatch(o)

        ns = self._ns(rt, namespace) or None
        w = Watcher(rt.storage_key, ns, matches)
        initial: list[tuple[str, Obj]] = []
        if resource_version in (None, "", "0"):
            initial = [("ADDED", o) for o in self.select(rt, ns, label_selector, field_selector)]
        else:
            try:
                since = int(resource_version)
            except ValueError:
                raise bad_request(f"invalid resourceVersion {resource_version!r}") from None
            if since < self._compacted.get(rt.storage_key, 0):
                yield (
                    "ERROR",
                    ApiError(
                        410, f"too old resource version: {since} ({self._compacted[rt.storage_key]})", "Expired"
                    ).status(),
                )
                return
            for rv, type_, obj, old in self._history.get(rt.storage_key, ()):
                if rv > since and (ns is None or obj["metadata"].get("namespace") == ns):
                    seen = _as_seen(type_, obj, old, matches)
                    if seen is not None:
                        initial.append((seen, obj))
        self._watchers.setdefault(rt.storage_key, set()).add(w)
        try:
            for ev in initial:
                yield ev
            while True:
                yield await w.queue.get()
        finally:
            self._watchers[rt.storage_key].discard(w)

    def watcher_count(self) -> int:
        return sum(len(ws) for ws in self._watchers.values())


def _as_seen(type_: str, obj: Obj, old: Obj | None, matches: Callable[[Obj], bool]) -> str | None:
    """The event a selector-filtered watcher sees: an object entering the selection is ADDED to it,
    one leaving it is DELETED from it, as with the real watch cache."""
    now = matches(obj)
    if type_ != "MODIFIED" or old is None:
        return type_ if now else None
    before = matches(old)
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    return "DELETED" if before else None


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class StoreClusterAPI:
    """`kubesim.cluster.ClusterAPI` over a Store, for in-process controllers."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> Obj | None:
        obj = self.store.find(self.store.rt(api_version, plural), namespace, name)
        return copy.deepcopy(obj) if obj is not None else None

    async def list(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        rt = self.store.rt(api_version, plural)
        return copy.deepcopy(self.store.select(rt, namespace, label_selector, field_selector))

    async def list_owned(self, api_version: str, plural: str, owner_uid: str) -> ObjList:
        """Objects of this resource whose ownerReferences name `owner_uid` (from the owner index,
        so a controller's reconcile costs what the owner has, not what the namespace has)."""
        rt = self.store.rt(api_version, plural)
        storage_api_version = f"{rt.group}/{rt.storage_version}" if rt.group else rt.storage_version
        owned = [
            o
            for o in self.store.dependents(owner_uid)
            if o.get("kind") == rt.kind and o.get("apiVersion") == storage_api_version
        ]
        return [copy.deepcopy(o) for o in sorted(owned, key=lambda o: o["metadata"]["name"])]

    async def create(self, api_version: str, plural: str, namespace: str | None, obj: Obj) -> Obj:
        return copy.deepcopy(self.store.create_obj(self.store.rt(api_version, plural), namespace, obj))

    async def update(self, api_version: str, plural: str, obj: Obj, subresource: str | None = None) -> Obj:
        md = obj.get("metadata", {})
        rt = self.store.rt(api_version, plural)
        return copy.deepcopy(self.store.update_obj(rt, md.get("namespace"), md.get("name", ""), obj, subresource))

    async def patch(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
    ) -> Obj:
        rt = self.store.rt(api_version, plural)
        return copy.deepcopy(self.store.patch_obj(rt, namespace, name, patch, patch_type, subresource))

    async def delete(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        name: str,
        propagation: Propagation = "Background",
        grace_period_seconds: int | None = None,
    ) -> None:
        # kubesim deletes pods at once (no graceful deletion), so the grace period changes nothing.
        self.store.delete_obj(self.store.rt(api_version, plural), namespace, name, propagation)

    async def create_subresource(
        self, api_version: str, plural: str, namespace: str | None, name: str, subresource: str, body: Obj
    ) -> Obj:
        from kubesim.apiserver.http import SUBRESOURCE_CREATES

        self.store.rt(api_version, plural)
        return copy.deepcopy(SUBRESOURCE_CREATES[subresource](self.store, namespace, name, body))

    async def watch(
        self, api_version: str, plural: str, namespace: str | None = None, field_selector: str | None = None
    ) -> AsyncIterator[tuple[EventType, Obj]]:
        rt = self.store.rt(api_version, plural)
        async for type_, obj in self.store.watch_events(rt, namespace, field_selector=field_selector):
            if type_ in ("ADDED", "MODIFIED", "DELETED"):
                yield type_, copy.deepcopy(obj)  # type: ignore[misc]

    async def record_event(self, involved: Obj, reason: str, message: str, type_: str = "Normal") -> None:
        event = event_object(involved, reason, message, type_, _component(involved.get("kind", "")), clock.now_str())
        event["eventTime"] = None
        with contextlib.suppress(ApiError):  # events are best effort, as with a real EventRecorder
            self.store.create_obj(self.store.rt("v1", "events"), event["metadata"]["namespace"], event)


def _component(kind: str) -> str:
    return {
        "Deployment": "deployment-controller",
        "ReplicaSet": "replicaset-controller",
        "Job": "job-controller",
        "Pod": "kubelet",
    }.get(kind, "kubesim")
