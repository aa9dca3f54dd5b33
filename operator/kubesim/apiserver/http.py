"""The HTTP face of the store: discovery, OpenAPI, and the REST verbs on every resource path."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kubesim.apiserver import (
    authn,
    discovery,
    events,
    jsonbody,
    openapi,
    protobuf,
    subresources,
    tables,
    validation,
    warnings,
)
from kubesim.apiserver.faults import Faults
from kubesim.apiserver.resources import ResourceType
from kubesim.apiserver.selectors import selector_to_string
from kubesim.apiserver.store import Store
from kubesim.cluster import Obj
from kubesim.errors import ApiError, bad_request

log = logging.getLogger(__name__)

LogReader = Callable[[str, str, str | None, int | None, bool], str | None]
JSON = "application/json"
# what a real API server writes into a watch stream when etcd fails it (Faults.watch_error_rate)
WATCH_FAILURE = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Internal error occurred: kubesim: injected watch failure",
    "reason": "InternalError",
    "code": 500,
}
PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
}


# What kube-apiserver 1.37 accepts for pods/log (the body is text whatever was asked for).
LOG_MEDIA_TYPES = {
    "*/*",
    "application/*",
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
}
ITEM_VERBS = {"get", "update", "patch", "delete"}
SELF_SUBJECT_REVIEWS = ("authentication.k8s.io", "selfsubjectreviews")
SUBRESOURCE_CREATES = {
    "token": subresources.token_request,
    "binding": subresources.bind_pod,
    "eviction": subresources.evict_pod,
}


@dataclass
class Target:
    rt: ResourceType  # where the objects are stored
    namespace: str | None
    name: str | None
    subresource: str | None
    api_rt: ResourceType | None = None  # what the client addressed, when it is a converted view (events.k8s.io)

    @property
    def converted(self) -> bool:
        return self.api_rt is not None and self.api_rt is not self.rt


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _respond(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=_dumps(obj), status=status, content_type=JSON, headers=headers)


def warning_header(message: str) -> str:
    """An RFC 7234 warning value, as the apiserver sends them (the text is a quoted-string)."""
    escaped = message.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


def _error(err: ApiError) -> web.Response:
    return _respond(err.status(), err.code, err.headers)


class Api:
    def __init__(self, store: Store, faults: Faults, bookmark_interval: float = 1.0) -> None:
        self.store = store
        self.faults = faults
        self.bookmark_interval = bookmark_interval
        self.counts: Counter[tuple[str, str]] = Counter()
        self.log_reader: LogReader | None = None
        self.address = "127.0.0.1:0"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # ---- dispatch ------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        found = warnings.collect()
        try:
            resp = await self._handle(request)
        except ApiError as err:
            return _error(err)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:  # surface bugs as 500 Status, like an apiserver panic handler
            log.exception("kubesim internal error on %s %s", request.method, request.path)
            return _error(ApiError(500, f"kubesim internal error: {type(exc).__name__}: {exc}"))
        if found and not resp.prepared:
            for message in found:
                resp.headers.add("Warning", warning_header(message))
        return resp

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        accept = request.headers.get("Accept", "").lower().replace(" ", "")
        method = request.method
        if method == "GET":
            static = self._static(parts, accept)
            if static is not None:
                return static
        target = self._target(parts)
        verb = self._verb(method, target, request)
        self.counts[(verb, target.rt.plural + (f"/{target.subresource}" if target.subresource else ""))] += 1
        faulted = self.faults.applies_to(request.headers.get("User-Agent", ""))
        fault = self.faults.check(verb) if faulted else None
        if faulted and self.faults.latency_seconds:
            await asyncio.sleep(self.faults.latency_seconds)
        if fault is not None:
            raise fault
        handler = getattr(self, f"_{verb}")
        result: web.StreamResponse = await handler(request, target, accept)
        return result

    def _static(self, parts: list[str], accept: str) -> web.Response | None:
        reg = self.store.registry
        aggregated = discovery.AGGREGATED_ACCEPT in accept
        agg_ct = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        if parts in (["version"], ["version", ""]):
            return _respond(discovery.SERVER_VERSION)
        if parts and parts[0] in ("healthz", "readyz", "livez"):
            return web.Response(text="ok")
        if parts == ["api"]:
            if aggregated:
                return web.Response(body=_dumps(discovery.aggregated(reg, core=True)), headers={"Content-Type": agg_ct})
            return _respond(discovery.core_versions(self.address))
        if parts == ["apis"]:
            if aggregated:
                return web.Response(
                    body=_dumps(discovery.aggregated(reg, core=False)), headers={"Content-Type": agg_ct}
                )
            return _respond(discovery.group_list(reg))
        if parts == ["api", "v1"]:
            return _respond(discovery.resource_list(reg, "", "v1"))
        if len(parts) == 2 and parts[0] == "apis":
            group = discovery.api_group(reg, parts[1])
            if group is None:
                raise ApiError(404, "the server could not find the requested resource")
            return _respond(group)
        if len(parts) == 3 and parts[0] == "apis":
            doc = discovery.resource_list(reg, parts[1], parts[2])
            if doc is None:
                raise ApiError(404, "the server could not find the requested resource")
            return _respond(doc)
        if parts[:2] == ["openapi", "v3"]:
            if len(parts) == 2:
                return _respond(openapi.index(reg))
            rest = parts[2:]
            if rest[:1] == ["api"] and len(rest) == 2:
                return _respond(openapi.document(reg, "", rest[1]))
            if rest[:1] == ["apis"] and len(rest) == 3 and rest[2] in reg.groups().get(rest[1], []):
                return _respond(openapi.document(reg, rest[1], rest[2]))
            raise ApiError(404, "the server could not find the requested resource")
        if parts[:1] == ["openapi"]:
            raise ApiError(404, "the server could not find the requested resource")
        return None

    def _target(self, parts: list[str]) -> Target:
        if parts[:2] == ["api", "v1"]:
            api_version, rest = "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            api_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            raise ApiError(404, "the server could not find the requested resource")
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and api_version == "v1" and rest[2] in ("status", "finalize"):
            pass
        elif len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise ApiError(404, "the server could not find the requested resource")
        rt = self.store.registry.get(api_version, rest[0])
        if rt is None:
            raise ApiError(404, "the server could not find the requested resource")
        if namespace is not None and not rt.namespaced:
            raise ApiError(404, "the server could not find the requested resource")
        sub = rest[2] if len(rest) == 3 else None
        if sub is not None and sub not in rt.subresources():
            raise ApiError(404, "the server could not find the requested resource")
        if len(rest) >= 2 and not set(rt.verbs) & ITEM_VERBS:
            raise ApiError(404, "the server could not find the requested resource")  # no item paths at all
        target = Target(rt, namespace, rest[1] if len(rest) >= 2 else None, sub, rt)
        if rt.group == "events.k8s.io":
            target.rt = self.store.rt("v1", "events")
        return target

    def _verb(self, method: str, t: Target, request: web.Request) -> str:
        q = request.query
        if t.name is None:
            verb = None
            if method == "GET":
                verb = "watch" if q.get("watch") in ("true", "1") else "list"
            elif method == "POST" and not (t.rt.namespaced and t.namespace is None):
                verb = "create"
            elif method == "DELETE":
                verb = "deletecollection"
            if verb is not None and verb in t.rt.verbs:
                return verb
        else:
            if t.rt.namespaced and t.namespace is None:
                raise ApiError(404, "the server could not find the requested resource")
            if method == "POST" and t.subresource in SUBRESOURCE_CREATES:
                return "create"
            verb = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)
            if verb == "delete" and t.subresource:
                verb = None
            if verb and (verb in t.rt.verbs or t.subresource):
                return verb
        raise ApiError(
            405, f"the server does not allow this method on the requested resource ({t.rt.plural})", "MethodNotAllowed"
        )

    # ---- helpers ----------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            raise bad_request("the request body is empty")
        if protobuf.is_protobuf(request.headers.get("Content-Type", "")):
            return protobuf.decode_body(raw)  # what `kubectl create` sends; 415 for what we cannot decode
        try:
            return jsonbody.loads(raw)
        except ValueError:
            ctype = request.headers.get("Content-Type", "")
            if "yaml" in ctype:
                import yaml

                try:
                    return yaml.safe_load(raw)
                except yaml.YAMLError as exc:
                    raise bad_request(f"the body of the request could not be decoded as YAML: {exc}") from None
            raise bad_request("the body of the request was in an unknown format: could not decode JSON") from None

    def _view(self, t: Target, obj: Obj) -> Obj:
        """The object as served under the requested group-version."""
        if t.converted:
            return events.to_events_v1(obj)
        if obj.get("apiVersion") == t.rt.api_version:
            return obj
        return dict(obj, apiVersion=t.rt.api_version)

    def _stored(self, t: Target, body: Any) -> Any:
        """A request body in the storage schema."""
        return events.to_core(body) if t.converted and isinstance(body, dict) else body

    def _query(self, t: Target, request: web.Request, name: str) -> str | None:
        value = request.query.get(name)
        return events.field_selector_to_core(value) if t.converted and name == "fieldSelector" else value

    def _wants_table(self, accept: str) -> bool:
        return "as=table" in accept

    def _output(self, t: Target, obj: Obj, accept: str, request: web.Request, status: int = 200) -> web.Response:
        obj = self._view(t, obj)
        headers = None
        if request.method in ("POST", "PUT", "PATCH") and t.rt.plural == "customresourcedefinitions":
            # A real apiserver rejects these CRDs; kubesim serves them but says so (kubectl prints "Warning: ...").
            problems = validation.crd_schema_problems(obj)
            if problems:
                shown = "; ".join(f"{f}: {m}" for f, m in problems[:3])
                more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
                headers = {"Warning": warning_header(f"a real apiserver rejects this CRD: {shown}{more}")}
        if self._wants_table(accept):
            rv = obj["metadata"].get("resourceVersion", "")
            return _respond(
                tables.table(t.rt, [obj], request.query.get("includeObject", "Metadata"), rv), status, headers
            )
        return _respond(obj, status, headers)

    # ---- verbs -------------------------------------------------------------------------------

    async def _get(self, request: web.Request, t: Target, accept: str) -> web.StreamResponse:
        assert t.name is not None
        if t.subresource == "log":
            return await self._log(request, t)
        obj = self.store.get_obj(t.rt, t.namespace, t.name)
        if t.subresource == "scale":
            return _respond(self._scale(obj))
        return self._output(t, obj, accept, request)

    def _scale(self, obj: Obj) -> Obj:
        md = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in md
            },
            "spec": {"replicas": obj.get("spec", {}).get("replicas", 1)},
            "status": {
                "replicas": obj.get("status", {}).get("replicas", 0),
                "selector": selector_to_string(obj.get("spec", {}).get("selector")),
            },
        }

    async def _log(self, request: web.Request, t: Target) -> web.StreamResponse:
        assert t.name is not None
        accept = request.headers.get("Accept", "*/*")
        if not any(m.split(";")[0].strip() in LOG_MEDIA_TYPES for m in accept.split(",")):
            raise ApiError(
                406,
                "only the following media types are accepted: application/json, application/yaml, "
                "application/vnd.kubernetes.protobuf",
                "NotAcceptable",
            )
        pod = self.store.get_obj(t.rt, t.namespace, t.name)
        container = request.query.get("container")
        names = [c.get("name") for c in pod.get("spec", {}).get("containers") or []]
        if container and container not in names + [
            c.get("name") for c in pod.get("spec", {}).get("initContainers") or []
        ]:
            raise bad_request(f"container {container} is not valid for pod {t.name}")
        if not container and len(names) > 1:
            raise bad_request(
                f"a container name must be specified for pod {t.name}, choose one of: [{' '.join(str(n) for n in names)}]"
            )
        tail = request.query.get("tailLines")
        previous = request.query.get("previous") in ("true", "1")
        text = None
        if self.log_reader is not None:
            text = self.log_reader(
                t.namespace or "",
                t.name,
                container or (names[0] if names else None),
                int(tail) if tail else None,
                previous,
            )
        if text is None and previous:
            raise bad_request(
                f'previous terminated container "{container or (names[0] if names else "")}" in pod "{t.name}" not found'
            )
        if text is None:
            raise bad_request(
                f'container "{container or (names[0] if names else "")}" in pod "{t.name}" is waiting to start: ContainerCreating'
            )
        limit = request.query.get("limitBytes")
        if limit and limit.isdigit():  # as kube-apiserver passes it to the kubelet: the first limitBytes bytes
            text = text.encode()[: int(limit)].decode("utf-8", "ignore")
        if request.query.get("follow") not in ("true", "1"):
            return web.Response(text=text, content_type="text/plain")
        return await self._follow_log(request, t, container or (names[0] if names else None), text)

    async def _follow_log(
        self, request: web.Request, t: Target, container: str | None, text: str
    ) -> web.StreamResponse:
        """`follow=true`: stream what the container writes until its pod finishes or goes away."""
        assert t.name is not None and self.log_reader is not None
        resp = web.StreamResponse(headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"})
        await resp.prepare(request)
        full = self.log_reader(t.namespace or "", t.name, container, None, False) or ""
        await resp.write(text.encode())
        sent = len(full)
        try:
            while True:
                pod = self.store.find(t.rt, t.namespace, t.name)
                done = pod is None or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
                full = self.log_reader(t.namespace or "", t.name, container, None, False) or ""
                if len(full) > sent:
                    await resp.write(full[sent:].encode())
                    sent = len(full)
                if done:
                    break
                await asyncio.sleep(0.1)
            await resp.write_eof()
        except (ConnectionResetError, RuntimeError):
            pass
        return resp

    async def _list(self, request: web.Request, t: Target, accept: str) -> web.StreamResponse:
        q = request.query
        selected = self.store.select(
            t.rt, t.namespace, q.get("labelSelector"), self._query(t, request, "fieldSelector")
        )
        rv = str(self.store.current_rv)
        meta: dict[str, Any] = {"resourceVersion": rv}
        start = 0
        if q.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(q["continue"].encode()))
                start, rv = int(token["start"]), str(token["rv"])
            except (ValueError, KeyError, TypeError):
                raise bad_request("continue key is not valid") from None
            meta["resourceVersion"] = rv
        end = len(selected)
        if q.get("limit") and int(q["limit"]) > 0:
            end = min(start + int(q["limit"]), len(selected))
            if end < len(selected):
                meta["continue"] = base64.urlsafe_b64encode(json.dumps({"rv": rv, "start": end}).encode()).decode()
                meta["remainingItemCount"] = len(selected) - end
        objs = [self._view(t, o) for o in selected[start:end]]
        if self._wants_table(accept):
            table = tables.table(t.rt, objs, q.get("includeObject", "Metadata"), rv)
            table["metadata"] = meta
            return _respond(table)
        api = t.api_rt or t.rt
        return _respond({"kind": api.list_kind, "apiVersion": api.api_version, "metadata": meta, "items": objs})

    async def _watch(self, request: web.Request, t: Target, accept: str) -> web.StreamResponse:
        q = request.query
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
        faulted = self.faults.applies_to(request.headers.get("User-Agent", ""))
        cut = self.faults.watch_cut_seconds if faulted else None
        if cut is not None:
            timeout = min(timeout, cut) if timeout is not None else cut
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        as_table = self._wants_table(accept)
        include = q.get("includeObject", "Metadata")
        stream = self.store.watch_events(
            t.rt,
            t.namespace,
            q.get("resourceVersion"),
            q.get("labelSelector"),
            self._query(t, request, "fieldSelector"),
        )
        resp = web.StreamResponse(headers={"Content-Type": JSON, "Transfer-Encoding": "chunked"})
        await resp.prepare(request)
        deadline = time.monotonic() + timeout if timeout is not None else None
        next_event = asyncio.ensure_future(anext(stream))
        try:
            while True:
                wait = self.bookmark_interval if bookmarks else None
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    wait = min(wait, left) if wait is not None else left
                if faulted:
                    wait = min(wait, 1.0) if wait is not None else 1.0  # a chance to fail every second
                done, _ = await asyncio.wait({next_event}, timeout=wait)
                if faulted and self.faults.watch_error():
                    await resp.write(_dumps({"type": "ERROR", "object": WATCH_FAILURE}) + b"\n")
                    break
                if not done:
                    if bookmarks and (deadline is None or time.monotonic() < deadline):
                        bm = {
                            "kind": t.rt.kind,
                            "apiVersion": t.rt.api_version,
                            "metadata": {
                                "resourceVersion": str(self.store.current_rv),
                                "annotations": {"k8s.io/initial-stream-end": "true"},
                            },
                        }
                        await resp.write(_dumps({"type": "BOOKMARK", "object": bm}) + b"\n")
                    continue
                try:
                    type_, obj = next_event.result()
                except StopAsyncIteration:
                    break
                if type_ != "ERROR":
                    obj = self._view(t, obj)
                    if as_table:
                        obj = tables.table(t.rt, [obj], include, obj["metadata"].get("resourceVersion", ""))
                await resp.write(_dumps({"type": type_, "object": obj}) + b"\n")
                if type_ == "ERROR":
                    break
                next_event = asyncio.ensure_future(anext(stream))
        except (ConnectionResetError, RuntimeError):
            pass
        finally:
            next_event.cancel()
            with contextlib.suppress(BaseException):
                await next_event
            await stream.aclose()  # type: ignore[attr-defined]
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp

    async def _create(self, request: web.Request, t: Target, accept: str) -> web.StreamResponse:
        if (t.rt.group, t.rt.plural) == SELF_SUBJECT_REVIEWS:
            return await self._self_subject_review(request)
        body = await self._body(request)
        if t.subresource is not None and t.name is not None:
            answer = SUBRESOURCE_CREATES[t.subresource](self.store, t.namespace, t.name, body)
            return _respond(answer, 201)
        api_version = (t.api_rt or t.rt).api_version
        if isinstance(body, dict) and body.get("apiVersion") not in (None, api_version):
            raise bad_request(
                f"the API version in the data ({body.get('apiVersion')}) does not match the expected API version ({api_version})"
            )
        body = self._stored(t, body)
        obj = self.store.create_obj(
            t.rt, t.namespace, body, request.query.get("fieldValidation"), "dryRun" in request.query
        )
        return self._output(t, obj, accept, request, 201)

    async def _self_subject_review(self, request: web.Request) -> web.StreamResponse:
        """Answered from the request's headers, never stored (apiserver/authn.py)."""
        raw = await request.read()
        if raw and protobuf.is_protobuf(request.headers.get("Content-Type", "")):
            try:  # only the envelope's type matters: a review's content is ignored
                if not raw.startswith(protobuf.MAGIC):
                    raise protobuf.WireError("no k8s magic prefix")
                api_version, kind, *_ = protobuf.decode_unknown(raw[len(protobuf.MAGIC) :])
            except protobuf.WireError as exc:
                raise bad_request(f"the body of the request could not be decoded as protobuf: {exc}") from None
            authn.check_review_body({"apiVersion": api_version, "kind": kind})
        elif raw:
            authn.check_review_body(await self._body(request))
        return _respond(authn.self_subject_review(authn.request_user(request.headers)), 201)

    async def _update(self, request: web.Request, t: Target, accept: str) -> web.StreamResponse:
        assert t.name is not None
        body = await self._body(request)
        if t.subresource == "scale":
            replicas = (body.get("spec") or {}).get("replicas") if isinstance(body, dict) else None
            obj = self.store.update_obj(
                t.rt,
                t.namespace,
                t.name,
                {"metadata": body.get("metadata", {}), "spec": {"replicas": replicas}},
                "scale",
            )
            return _respond(self._scale(obj))
        obj = self.store.update_obj(
            t.rt,
            t.namespace,
            t.name,
            self._stored(t, body),
            t.subresource,
            request.query.get("fieldValidation"),
            "dryRun" in request.query,
        )
        return self._output(t, obj, accept, request)

    async def _patch(self, request: web.Request, t: Target, accept: str) -> web.StreamResponse:
        assert t.name is not None
        ctype = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        patch_type = PATCH_TYPES.get(ctype)
        if patch_type is None:
            raise ApiError(
                415,
                f"the body of the request was in an unknown format - accepted media types include: {', '.join(PATCH_TYPES)}",
                "UnsupportedMediaType",
            )
        body = await self._body(request)
        if t.subresource == "scale":
            from kubesim.apiserver.patch import json_patch, merge_patch, strategic_merge_patch

            current = self._scale(self.store.get_obj(t.rt, t.namespace, t.name))
            fn = {"merge": merge_patch, "json": json_patch, "strategic": strategic_merge_patch}[patch_type]
            scaled = fn(current, body)
            obj = self.store.update_obj(
                t.rt,
                t.namespace,
                t.name,
                {"metadata": scaled.get("metadata", {}), "spec": scaled.get("spec", {})},
                "scale",
            )
            return _respond(self._scale(obj))
        if t.converted:
            from kubesim.apiserver.patch import json_patch, merge_patch, strategic_merge_patch

            fn = {"merge": merge_patch, "json": json_patch, "strategic": strategic_merge_patch}[patch_type]
            viewed = self._view(t, self.store.get_obj(t.rt, t.namespace, t.name))
            obj = self.store.update_obj(t.rt, t.namespace, t.name, self._stored(t, fn(viewed, body)), t.subresource)
            return self._output(t, obj, accept, request)
        obj = self.store.patch_obj(
            t.rt,
            t.namespace,
            t.name,
            body,
            patch_type,  # type: ignore[arg-type]
            t.subresource,
            request.query.get("fieldValidation"),
            "dryRun" in request.query,
        )
        return self._output(t, obj, accept, request)

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        opts: dict[str, Any] = {}
        if raw:
            try:
                opts = json.loads(raw)
            except ValueError:
                raise bad_request("the DeleteOptions body could not be decoded") from None
        if "propagationPolicy" in request.query:
            opts["propagationPolicy"] = request.query["propagationPolicy"]
        if opts.get("orphanDependents") is True:
            opts.setdefault("propagationPolicy", "Orphan")
        policy = opts.get("propagationPolicy")
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise bad_request(f"propagationPolicy: Unsupported value: {policy!r}")
        return opts

    async def _delete(self, request: web.Request, t: Target, accept: str) -> web.StreamResponse:
        assert t.name is not None
        opts = await self._delete_options(request)
        obj = self.store.delete_obj(
            t.rt,
            t.namespace,
            t.name,
            opts.get("propagationPolicy"),
            opts.get("preconditions"),
            "dryRun" in request.query,
        )
        return self._output(t, obj, accept, request)

    async def _deletecollection(self, request: web.Request, t: Target, accept: str) -> web.StreamResponse:
        opts = await self._delete_options(request)
        q = request.query
        deleted = []
        for obj in list(
            self.store.select(t.rt, t.namespace, q.get("labelSelector"), self._query(t, request, "fieldSelector"))
        ):
            md = obj["metadata"]
            with contextlib.suppress(ApiError):
                deleted.append(
                    self.store.delete_obj(t.rt, md.get("namespace"), md["name"], opts.get("propagationPolicy"))
                )
        api = t.api_rt or t.rt
        return _respond(
            {
                "kind": api.list_kind,
                "apiVersion": api.api_version,
                "metadata": {"resourceVersion": str(self.store.current_rv)},
                "items": [self._view(t, o) for o in deleted],
            }
        )
