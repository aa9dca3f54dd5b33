"""`ClusterAPI` over HTTP: what the process node uses to talk to any API server (kubesim's or the
real kube-apiserver), from a kubeconfig read by the official client's loader (certificates, CA,
tokens). Errors come back as `kubesim.errors.ApiError` carrying the server's own Status."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from kubesim.cluster import EventType, Obj, event_object
from kubesim.errors import ApiError

PatchType = Literal["merge", "json", "strategic"]
Propagation = Literal["Background", "Foreground", "Orphan"]
_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
WATCH_TIMEOUT_SECONDS = 240


def resource_path(api_version: str, plural: str, namespace: str | None, name: str | None = None) -> str:
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    path = base + (f"/namespaces/{quote(namespace)}" if namespace else "") + f"/{plural}"
    return path + (f"/{quote(name)}" if name else "")


class HttpClusterAPI:
    """One aiohttp session to one API server. `component` names this client in Events."""

    def __init__(self, host: str, ssl_context: ssl.SSLContext | None, headers: dict[str, str], component: str) -> None:
        self.host = host.rstrip("/")
        self._ssl = ssl_context
        self._headers = {"Accept": "application/json", "User-Agent": f"kubesim-{component}", **headers}
        self.component = component
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_kubeconfig(cls, path: Path, component: str = "kubelet", context: str | None = None) -> HttpClusterAPI:
        configuration = k8s_client.Configuration()
        k8s_config.load_kube_config(config_file=str(path), context=context, client_configuration=configuration)
        ssl_context: ssl.SSLContext | None = None
        if configuration.host.startswith("https://"):
            ssl_context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
            if not configuration.verify_ssl:
                ssl_context.check_hostname = False
                ssl_context.verify_mode = ssl.CERT_NONE
            if configuration.cert_file:
                ssl_context.load_cert_chain(configuration.cert_file, configuration.key_file)
        headers = {}
        if token := (configuration.api_key or {}).get("authorization"):
            headers["Authorization"] = token if token.startswith("Bearer ") else f"Bearer {token}"
        return cls(configuration.host, ssl_context, headers, component)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, connector=aiohttp.TCPConnector(ssl=self._ssl))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _request(
        self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None, content_type: str = ""
    ) -> Any:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type or "application/json"} if data is not None else {}
        async with self._client().request(method, self.host + path, params=params, data=data, headers=headers) as r:
            text = await r.text()
            if r.status >= 400:
                raise _error(r.status, text, dict(r.headers))
            return json.loads(text) if text else None

    # ---- ClusterAPI -----------------------------------------------------------------------

    async def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> Obj | None:
        try:
            obj: Obj = await self._request("GET", resource_path(api_version, plural, namespace, name))
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        return obj

    async def list(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        items, _ = await self._list(api_version, plural, namespace, label_selector, field_selector)
        return items

    async def _list(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
    ) -> tuple[list[Obj], str]:
        params = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        answer = await self._request("GET", resource_path(api_version, plural, namespace), params=params)
        kind = str(answer.get("kind", "")).removesuffix("List")
        items = [{"apiVersion": api_version, "kind": kind, **item} for item in answer.get("items") or []]
        return items, str((answer.get("metadata") or {}).get("resourceVersion", ""))

    async def create(self, api_version: str, plural: str, namespace: str | None, obj: Obj) -> Obj:
        created: Obj = await self._request("POST", resource_path(api_version, plural, namespace), body=obj)
        return created

    async def create_subresource(
        self, api_version: str, plural: str, namespace: str | None, name: str, subresource: str, body: Obj
    ) -> Obj:
        """POST to a subresource (`serviceaccounts/NAME/token`, `pods/NAME/binding`)."""
        path = resource_path(api_version, plural, namespace, name) + f"/{subresource}"
        answer: Obj = await self._request("POST", path, body=body)
        return answer

    async def update(self, api_version: str, plural: str, obj: Obj, subresource: str | None = None) -> Obj:
        md = obj.get("metadata") or {}
        path = resource_path(api_version, plural, md.get("namespace"), md.get("name", ""))
        updated: Obj = await self._request("PUT", path + (f"/{subresource}" if subresource else ""), body=obj)
        return updated

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
        path = resource_path(api_version, plural, namespace, name) + (f"/{subresource}" if subresource else "")
        patched: Obj = await self._request("PATCH", path, body=patch, content_type=_CONTENT_TYPES[patch_type])
        return patched

    async def delete(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        name: str,
        propagation: Propagation = "Background",
        grace_period_seconds: int | None = None,
    ) -> None:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        await self._request("DELETE", resource_path(api_version, plural, namespace, name), body=body)

    async def watch(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        field_selector: str | None = None,
    ) -> AsyncIterator[tuple[EventType, Obj]]:
        """A list (each object ADDED), then the watch from its resourceVersion. The iterator ends when
        the server closes the stream and raises ApiError 410 when the version expired; the caller
        (kubesim.node.watching) lists again either way."""
        items, version = await self._list(api_version, plural, namespace, None, field_selector)
        for item in items:
            yield "ADDED", item
        params = {
            "watch": "true",
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_TIMEOUT_SECONDS),
        }
        if field_selector:
            params["fieldSelector"] = field_selector
        timeout = aiohttp.ClientTimeout(total=None, sock_read=WATCH_TIMEOUT_SECONDS + 30)
        url = self.host + resource_path(api_version, plural, namespace)
        async with self._client().get(url, params=params, timeout=timeout) as response:
            if response.status >= 400:
                raise _error(response.status, await response.text(), dict(response.headers))
            async for line in response.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                type_, obj = event.get("type"), event.get("object") or {}
                if type_ == "ERROR":
                    raise ApiError(int(obj.get("code", 500)), str(obj.get("message", "watch error")), obj.get("reason"))
                if type_ in ("ADDED", "MODIFIED", "DELETED"):
                    yield type_, obj

    async def record_event(self, involved: Obj, reason: str, message: str, type_: str = "Normal") -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = event_object(involved, reason, message, type_, self.component, stamp)
        with contextlib.suppress(ApiError, aiohttp.ClientError):  # best effort, as with a real EventRecorder
            await self.create("v1", "events", event["metadata"]["namespace"], event)


def _error(code: int, text: str, headers: dict[str, str]) -> ApiError:
    try:
        status = json.loads(text)
    except ValueError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    return ApiError(
        code, str(status.get("message") or text[:500]), status.get("reason"), status.get("details"), headers
    )
