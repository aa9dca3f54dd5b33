"""The one module that talks to the Kubernetes API.

Calls go through the official client's ApiClient (kubeconfig from KUBECONFIG or in-cluster) in a
worker thread, and every ApiException or connection error is mapped to releaseguard.errors here:
404 NotFoundError, 409 ConflictError, 429/5xx and connection trouble TransientKubeError, the rest
KubeError with the server's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

from ..api import GROUP as RV_GROUP
from ..api import PLURAL, VERSION
from ..api.vrun import RUN_PLURAL, RV_NAME_LABEL
from ..core.jobs import REVISION_LABEL, RV_LABEL, label_value
from ..errors import ConflictError, KubeError, NotFoundError, TransientKubeError

Obj = dict[str, Any]
COMPONENT: Final = "releaseguard"


def load_config() -> None:
    """Configure the client from KUBECONFIG (or ~/.kube/config), else from the in-cluster account."""
    from kubernetes import config

    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=os.environ.get("KUBECONFIG") or None
        )
    except Exception:
        config.load_incluster_config()  # type: ignore[no-untyped-call]


RETRY_AFTER_LIMIT = 60.0  # seconds: a longer Retry-After is taken as this


def _retry_after(value: str | None) -> float:
    """A Retry-After header in seconds (the API server sends whole seconds); 0 when absent or a date."""
    try:
        return min(max(float(value or 0), 0.0), RETRY_AFTER_LIMIT)
    except ValueError:
        return 0.0


def _error(what: str, status: int, data: bytes, retry_after: str | None = None) -> KubeError:
    try:
        message = str(json.loads(data).get("message") or status)
    except (ValueError, AttributeError):
        message = data.decode("utf-8", "replace")[:200] or str(status)
    text = f"{what}: {message}"
    if status == 404:
        return NotFoundError(text, status)
    if status == 409:
        return ConflictError(text, status)
    if status == 429 or status >= 500:
        return TransientKubeError(text, status, _retry_after(retry_after))
    return KubeError(text, status)


class Kube:
    """Async wrappers over the few API calls the operator makes."""

    def __init__(self, connections: int = 16) -> None:
        import urllib3
        from kubernetes import client

        configuration = client.Configuration.get_default_copy()
        configuration.connection_pool_maxsize = connections  # one per concurrent API call
        # urllib3 would sleep out a 429's Retry-After itself, three times, inside the call (API
        # Priority and Fairness asks for up to 30 s): a worker thread blocked for minutes, unseen.
        # The answer comes back instead, as a TransientKubeError carrying Retry-After, and the one
        # retry rule (reconciler.retry_delay, the Event retries, `releaseguard wait`) waits it out.
        configuration.retries = urllib3.Retry(total=3, respect_retry_after_header=False)
        self._client = client.ApiClient(configuration)
        self._instance = socket.gethostname()

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]

    def call(
        self,
        what: str,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str | None = None,
        text: bool = False,
    ) -> Any:
        from urllib3.exceptions import HTTPError

        # a log is text, but the API server accepts only these media types for it, as for anything
        headers = {"Accept": "application/json, */*" if text else "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            method, url, headers, body, post = self._client.param_serialize(
                method=method,
                resource_path=path,
                query_params=query or [],
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self._client.call_api(
                method, url, header_params=headers, body=body, post_params=post, _request_timeout=60
            )
            data = response.read()  # type: ignore[no-untyped-call]
        except (HTTPError, OSError) as exc:
            raise TransientKubeError(f"{what}: {exc}") from None
        if not 200 <= response.status < 300:
            raise _error(what, response.status, data, response.getheader("Retry-After"))  # type: ignore[no-untyped-call]
        if text:
            return data.decode("utf-8", "replace")
        return json.loads(data) if data else None

    def watch(self, what: str, path: str, query: list[tuple[str, str]], timeout: float) -> Iterator[Obj]:
        """The events (`{"type": ..., "object": ...}`) of one watch request, until the server ends
        it or `timeout` seconds pass. Connection trouble is a TransientKubeError."""
        from urllib3.exceptions import HTTPError

        seconds = max(int(timeout), 1)
        params = [*query, ("watch", "true"), ("timeoutSeconds", str(seconds))]
        try:
            method, url, headers, _, _ = self._client.param_serialize(
                method="GET",
                resource_path=path,
                query_params=params,
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            response = self._client.call_api(method, url, header_params=headers, _request_timeout=seconds + 10)
            if not 200 <= response.status < 300:
                data = response.read()  # type: ignore[no-untyped-call]
                raise _error(what, response.status, data, response.getheader("Retry-After"))  # type: ignore[no-untyped-call]
            raw = response.response
            pending = b""
            try:
                for chunk in raw.stream(decode_content=True):
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        if line.strip():
                            event: Obj = json.loads(line)
                            yield event
            finally:
                raw.release_conn()
        except (HTTPError, OSError) as exc:
            raise TransientKubeError(f"{what}: {exc}") from None

    async def request(
        self,
        what: str,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str | None = None,
    ) -> Any:
        return await asyncio.to_thread(self.call, what, method, path, body, query, content_type)

    # --- ReleaseVerifications -----------------------------------------------------------

    async def patch_rv_status(self, namespace: str, name: str, patch: Obj, resource_version: str | None = None) -> Obj:
        """Merge-patch the status. With `resource_version`, the server refuses (ConflictError) when
        the RV changed since that version, so a decision made on a stale copy is never written."""
        path = f"/apis/{RV_GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status"
        body: Obj = {"status": patch}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        result: Obj = await self.request(
            f"patching the status of ReleaseVerification {namespace}/{name}",
            "PATCH",
            path,
            body,
            content_type="application/merge-patch+json",
        )
        return result

    async def get_rv(self, namespace: str, name: str) -> Obj:
        path = f"/apis/{RV_GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}"
        result: Obj = await self.request(f"reading ReleaseVerification {namespace}/{name}", "GET", path)
        return result

    # --- VerificationRuns (the record) ----------------------------------------------------

    def _vrun_path(self, namespace: str, name: str = "") -> str:
        path = f"/apis/{RV_GROUP}/{VERSION}/namespaces/{namespace}/{RUN_PLURAL}"
        return f"{path}/{name}" if name else path

    async def get_vrun(self, namespace: str, name: str) -> Obj:
        result: Obj = await self.request(
            f"reading VerificationRun {namespace}/{name}", "GET", self._vrun_path(namespace, name)
        )
        return result

    async def create_vrun(self, namespace: str, vrun: Obj) -> Obj | None:
        """Create the record; None when it exists already (written before a restart)."""
        name = vrun["metadata"]["name"]
        try:
            result: Obj = await self.request(
                f"creating VerificationRun {namespace}/{name}", "POST", self._vrun_path(namespace), vrun
            )
        except ConflictError:
            return None
        return result

    async def patch_vrun_status(self, namespace: str, name: str, status: Obj) -> Obj:
        result: Obj = await self.request(
            f"writing the verdict of VerificationRun {namespace}/{name}",
            "PATCH",
            f"{self._vrun_path(namespace, name)}/status",
            {"status": status},
            content_type="application/merge-patch+json",
        )
        return result

    async def list_vruns(self, namespace: str, rv_name: str) -> list[Obj]:
        result = await self.request(
            f"listing VerificationRuns of {namespace}/{rv_name}",
            "GET",
            self._vrun_path(namespace),
            query=[("labelSelector", f"{RV_NAME_LABEL}={label_value(rv_name)}")],
        )
        items: list[Obj] = result.get("items") or []
        return items

    async def delete_vrun(self, namespace: str, name: str) -> None:
        with contextlib.suppress(NotFoundError):
            await self.request(
                f"deleting VerificationRun {namespace}/{name}", "DELETE", self._vrun_path(namespace, name)
            )

    async def patch_rv_flakiness(self, namespace: str, name: str, flakiness: list[Obj]) -> Obj:
        """Merge-patch status.flakiness alone (the record's summary; no decision depends on it)."""
        result: Obj = await self.request(
            f"patching the flakiness of ReleaseVerification {namespace}/{name}",
            "PATCH",
            f"/apis/{RV_GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status",
            {"status": {"flakiness": flakiness}},
            content_type="application/merge-patch+json",
        )
        return result

    # --- Jobs and their pods ------------------------------------------------------------

    async def create_job(self, namespace: str, job: Obj) -> Obj | None:
        """Create the Job; None when it already exists (a restart or a second replica made it)."""
        name = job["metadata"]["name"]
        try:
            result: Obj = await self.request(
                f"creating Job {namespace}/{name}", "POST", f"/apis/batch/v1/namespaces/{namespace}/jobs", job
            )
        except ConflictError:
            return None
        return result

    async def get_job(self, namespace: str, name: str) -> Obj:
        result: Obj = await self.request(
            f"reading Job {namespace}/{name}", "GET", f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}"
        )
        return result

    async def create_configmap(self, namespace: str, configmap: Obj) -> Obj | None:
        """Create the ConfigMap; None when one of that name exists already. Create only: an existing
        object is never read, patched or adopted (whoever made it, the probe pod runs only the
        content whose digest its command carries: core.jobs.script_command)."""
        name = configmap["metadata"]["name"]
        try:
            result: Obj = await self.request(
                f"creating ConfigMap {namespace}/{name}",
                "POST",
                f"/api/v1/namespaces/{namespace}/configmaps",
                configmap,
            )
        except ConflictError:
            return None
        return result

    async def delete_job(self, namespace: str, name: str) -> None:
        with contextlib.suppress(NotFoundError):
            await self.request(
                f"deleting Job {namespace}/{name}",
                "DELETE",
                f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}",
                {"propagationPolicy": "Background"},
            )

    async def log_tail(self, namespace: str, pod: str, container: str, previous: bool, lines: int = 5) -> str:
        """The last lines a container (or its previous instance) wrote, as `kubectl logs --tail`."""
        query = [("container", container), ("tailLines", str(lines))]
        if previous:
            query.append(("previous", "true"))
        result: str = await asyncio.to_thread(
            self.call,
            f"reading the log of {namespace}/{pod} container {container}",
            "GET",
            f"/api/v1/namespaces/{namespace}/pods/{pod}/log",
            None,
            query,
            None,
            True,
        )
        return result

    async def pod_log(self, namespace: str, pod: str, container: str, limit_bytes: int) -> str:
        """The first `limit_bytes` of a container's log (`kubectl logs --limit-bytes`): the server
        cuts it, and so does this, whatever the server sends."""
        result: str = await asyncio.to_thread(
            self.call,
            f"reading the log of {namespace}/{pod} container {container}",
            "GET",
            f"/api/v1/namespaces/{namespace}/pods/{pod}/log",
            None,
            [("container", container), ("limitBytes", str(limit_bytes))],
            None,
            True,
        )
        return result.encode("utf-8")[:limit_bytes].decode("utf-8", "ignore")

    async def _list(self, what: str, path: str, labels: dict[str, str]) -> list[Obj]:
        """A list call with an equality label selector (none: everything at `path`)."""
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        result = await self.request(what, "GET", path, query=[("labelSelector", selector)] if selector else [])
        items: list[Obj] = result.get("items") or []
        return items

    async def pods_matching(self, namespace: str, labels: dict[str, str]) -> list[Obj]:
        return await self._list(f"listing pods {labels} in {namespace}", f"/api/v1/namespaces/{namespace}/pods", labels)

    async def pods_of(self, replicaset: Obj) -> list[Obj]:
        """The pods a ReplicaSet's selector matches (which are its own is core.early's to decide)."""
        meta = replicaset.get("metadata") or {}
        labels = ((replicaset.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return await self.pods_matching(str(meta.get("namespace") or ""), dict(labels))

    async def probe_pods(self, namespace: str, rv_name: str, revision: int) -> list[Obj]:
        """The pods carrying one run's probe labels (which pod is whose is core.trust's to decide)."""
        labels = {RV_LABEL: label_value(rv_name), REVISION_LABEL: str(revision)}
        return await self._list(
            f"listing probe pods of {namespace}/{rv_name}", f"/api/v1/namespaces/{namespace}/pods", labels
        )

    # --- Deployments and ReplicaSets ----------------------------------------------------

    async def replicasets_of(self, deployment: Obj) -> list[Obj]:
        meta = deployment.get("metadata") or {}
        labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return await self._list(
            f"listing ReplicaSets of Deployment {meta.get('namespace')}/{meta.get('name')}",
            f"/apis/apps/v1/namespaces/{meta.get('namespace')}/replicasets",
            dict(labels),
        )

    async def get_deployment(self, namespace: str, name: str) -> Obj:
        result: Obj = await self.request(
            f"reading Deployment {namespace}/{name}", "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
        )
        return result

    async def json_patch_deployment(self, namespace: str, name: str, patch: list[Obj]) -> Obj:
        result: Obj = await self.request(
            f"patching Deployment {namespace}/{name}",
            "PATCH",
            f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            patch,
            content_type="application/json-patch+json",
        )
        return result

    # --- Events -------------------------------------------------------------------------

    async def post_event(self, involved: Obj, reason: str, message: str, type_: str, name: str | None = None) -> None:
        """Post an Event; with `name`, one that exists already (posted before a restart) is left as is."""
        meta = involved.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name')}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta.get("name"),
                "namespace": namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": type_,
            "source": {"component": COMPONENT},
            "reportingComponent": "releaseguard.io/operator",
            "reportingInstance": self._instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        if name is not None:
            event["metadata"] = {"name": name, "namespace": namespace}
        try:
            await self.request(
                f"posting Event {reason} on {involved.get('kind')} {namespace}/{meta.get('name')}",
                "POST",
                f"/api/v1/namespaces/{namespace}/events",
                event,
            )
        except ConflictError:
            if name is None:
                raise
