"""An in-memory KubeAPI (releaseguard.operator.kubeapi): the objects the reconciler reads and writes, a
log of every call in order, and failures scripted per method, so the reconcile order and its
error paths are unit-tested without a server."""

from __future__ import annotations

import copy
import itertools
from collections import defaultdict
from typing import Any

from releaseguard.errors import ConflictError, KubeError, NotFoundError

Obj = dict[str, Any]


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, as the API server applies a merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = apply_merge_patch(out.get(key), value)
    return out


class FakeKube:
    def __init__(self) -> None:
        self.rvs: dict[tuple[str, str], Obj] = {}
        self.deployments: dict[tuple[str, str], Obj] = {}
        self.replicasets: list[Obj] = []
        self.jobs: dict[tuple[str, str], Obj] = {}
        self.configmaps: dict[tuple[str, str], Obj] = {}
        self.pods: list[Obj] = []
        self.logs: dict[tuple[str, str], str] = {}  # (namespace, pod) -> its container's log
        self.vruns: dict[tuple[str, str], Obj] = {}
        self.events: list[tuple[str, str, str]] = []  # (involved kind, reason, message)
        self.calls: list[str] = []
        self.failures: dict[str, list[Exception]] = defaultdict(list)
        self._versions = itertools.count(100)

    # --- scripting ---------------------------------------------------------------------------------
    def fail(self, method: str, *errors: Exception) -> None:
        """The next calls of `method` raise these, in order; then it works again."""
        self.failures[method].extend(errors)

    def _call(self, method: str) -> None:
        self.calls.append(method)
        if self.failures[method]:
            raise self.failures[method].pop(0)

    def _stamp(self, obj: Obj) -> Obj:
        obj.setdefault("metadata", {})["resourceVersion"] = str(next(self._versions))
        return copy.deepcopy(obj)

    # --- ReleaseVerifications and runs ---------------------------------------------------------------
    async def get_rv(self, namespace: str, name: str) -> Obj:
        self._call("get_rv")
        if (namespace, name) not in self.rvs:
            raise NotFoundError(f"rv {name} not found", 404)
        return copy.deepcopy(self.rvs[(namespace, name)])

    async def patch_rv_status(self, namespace: str, name: str, patch: Obj, resource_version: str | None = None) -> Obj:
        self._call("patch_rv_status")
        body = self.rvs[(namespace, name)]
        if resource_version is not None and resource_version != body["metadata"].get("resourceVersion"):
            raise ConflictError("the object has been modified; please apply your changes to the latest version", 409)
        body["status"] = apply_merge_patch(body.get("status") or {}, patch)
        return self._stamp(body)

    async def patch_rv_flakiness(self, namespace: str, name: str, flakiness: list[Obj]) -> Obj:
        self._call("patch_rv_flakiness")
        body = self.rvs[(namespace, name)]
        body.setdefault("status", {})["flakiness"] = flakiness
        return self._stamp(body)

    async def get_vrun(self, namespace: str, name: str) -> Obj:
        self._call("get_vrun")
        if (namespace, name) not in self.vruns:
            raise NotFoundError(f"run {name} not found", 404)
        return copy.deepcopy(self.vruns[(namespace, name)])

    async def create_vrun(self, namespace: str, vrun: Obj) -> Obj | None:
        self._call("create_vrun")
        key = (namespace, vrun["metadata"]["name"])
        if key in self.vruns:
            return None
        self.vruns[key] = copy.deepcopy(vrun)
        return self._stamp(self.vruns[key])

    async def patch_vrun_status(self, namespace: str, name: str, status: Obj) -> Obj:
        self._call("patch_vrun_status")
        run = self.vruns[(namespace, name)]
        run["status"] = apply_merge_patch(run.get("status") or {}, status)
        return self._stamp(run)

    async def list_vruns(self, namespace: str, rv_name: str) -> list[Obj]:
        self._call("list_vruns")
        return [copy.deepcopy(r) for (ns, _), r in self.vruns.items() if ns == namespace]

    async def delete_vrun(self, namespace: str, name: str) -> None:
        self._call("delete_vrun")
        self.vruns.pop((namespace, name), None)

    # --- Jobs and pods ---------------------------------------------------------------------------------
    async def create_job(self, namespace: str, job: Obj) -> Obj | None:
        self._call("create_job")
        key = (namespace, job["metadata"]["name"])
        if key in self.jobs:
            return None
        created = copy.deepcopy(job)
        created["metadata"]["uid"] = f"job-uid-{key[1]}"
        self.jobs[key] = created
        return self._stamp(created)

    async def get_job(self, namespace: str, name: str) -> Obj:
        self._call("get_job")
        if (namespace, name) not in self.jobs:
            raise NotFoundError(f"Job {name} not found", 404)
        return copy.deepcopy(self.jobs[(namespace, name)])

    async def delete_job(self, namespace: str, name: str) -> None:
        self._call("delete_job")
        self.jobs.pop((namespace, name), None)

    async def create_configmap(self, namespace: str, configmap: Obj) -> Obj | None:
        """Create only, as the API server: an existing ConfigMap of that name is left as it is."""
        self._call("create_configmap")
        key = (namespace, configmap["metadata"]["name"])
        if key in self.configmaps:
            return None
        self.configmaps[key] = copy.deepcopy(configmap)
        return self._stamp(self.configmaps[key])

    async def probe_pods(self, namespace: str, rv_name: str, revision: int) -> list[Obj]:
        self._call("probe_pods")
        return copy.deepcopy(self.pods)

    async def pods_matching(self, namespace: str, labels: dict[str, str]) -> list[Obj]:
        self._call("pods_matching")
        return []

    async def log_tail(self, namespace: str, pod: str, container: str, previous: bool, lines: int = 5) -> str:
        self._call("log_tail")
        return ""

    async def pod_log(self, namespace: str, pod: str, container: str, limit_bytes: int) -> str:
        self._call("pod_log")
        if (namespace, pod) not in self.logs:
            raise NotFoundError(f"pod {namespace}/{pod} has no log", 404)
        return self.logs[(namespace, pod)].encode()[:limit_bytes].decode("utf-8", "ignore")

    # --- the target -------------------------------------------------------------------------------------
    async def get_deployment(self, namespace: str, name: str) -> Obj:
        self._call("get_deployment")
        if (namespace, name) not in self.deployments:
            raise NotFoundError(f"deployment {name} not found", 404)
        return copy.deepcopy(self.deployments[(namespace, name)])

    async def replicasets_of(self, deployment: Obj) -> list[Obj]:
        self._call("replicasets_of")
        return copy.deepcopy(self.replicasets)

    async def pods_of(self, replicaset: Obj) -> list[Obj]:
        self._call("pods_of")
        want = ((replicaset.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return [
            copy.deepcopy(p)
            for p in self.pods
            if all(((p.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in want.items())
        ]

    async def json_patch_deployment(self, namespace: str, name: str, patch: list[Obj]) -> Obj:
        self._call("json_patch_deployment")
        dep = self.deployments[(namespace, name)]
        for op in patch:
            if op["op"] == "test":
                key = op["path"].rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
                if (dep["metadata"].get("annotations") or {}).get(key) != op["value"]:
                    raise KubeError(f"the test of {op['path']} failed", 422)
            elif op["path"] == "/spec/template":
                dep["spec"]["template"] = copy.deepcopy(op["value"])
            elif op["path"] == "/metadata/annotations":
                dep["metadata"]["annotations"] = copy.deepcopy(op["value"])
            elif op["path"] == "/spec/paused":
                dep["spec"]["paused"] = op["value"]
        return self._stamp(dep)

    # --- Events -----------------------------------------------------------------------------------------
    async def post_event(self, involved: Obj, reason: str, message: str, type_: str, name: str | None = None) -> None:
        self._call("post_event")
        self.events.append((str(involved.get("kind") or "ReleaseVerification"), reason, message))
