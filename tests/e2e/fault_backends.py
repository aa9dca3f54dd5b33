"""API faults for the operator's requests only, behind one interface per backend, for
test_api_faults: `on()` and `off()` switch them, `seen()` counts what the operator met by class.

kubesim: its own fault switch (500, 429 with Retry-After, 409 on a share of requests, latency,
watch streams cut every 3 s) and its watch history compacted every 4 s.

real: a dedicated control plane (never the session's), started with `--watch-cache=false` (watches
are served by etcd, so a compacted revision answers 410 as etcd does; the watch cache would serve
them from its own window) and `--min-request-timeout=5` (the server ends every watch after 5-10 s),
with its audit log on. The operator's kubeconfig, and only its, dials a Toxiproxy in front of the
API server (TCP passthrough: TLS stays end to end). With `on()`:
- Toxiproxy adds 20 ms to every answer and cuts every connection every 3 s (watches included);
- etcd is compacted to its current revision every 4 s (etcd's own compaction API, the one the API
  server's `--etcd-compaction-interval` calls; here on demand, so the compactions are known), so
  a resumed watch gets 410 Gone;
- API Priority and Fairness puts the operator's ServiceAccount in a priority level with 3 seats,
  no borrowing and a queue of 2: what overflows gets a real 429, with the server's own Retry-After
  (1 s lightly loaded, up to about 30 s under load);
- a validating webhook (failurePolicy Fail, matched to the operator's user only) fails 4% of its
  writes, which the API server answers 500;
- a background writer annotates the fleet's rvs and Deployments, so the operator's writes meet
  real 409 Conflicts.
`seen()` reads the audit log: the operator's 500, 429 and 409 Conflict answers, and the watches it
started from a revision compacted by then (each one answered 410)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

import httpx
from rg_harness import CRD, RUN_CRD, Cluster, operator_kubeconfig

from kubesim.real.cluster import RealCluster
from kubesim.real.faultproxy import FaultProxy
from kubesim.real.faultwebhook import FaultWebhook
from kubesim.testing import KubeSim

OPERATOR_AGENTS = ("OpenAPI-Generator", "kopf")  # the official client's and kopf's User-Agents
OPERATOR_USER = "system:serviceaccount:releaseguard:releaseguard"
REAL_IMAGES = Path(__file__).resolve().parents[1] / "kubesim-images.yaml"
REAL_APISERVER_ARGS = ("--watch-cache=false", "--min-request-timeout=5")


class Periodic(threading.Thread):
    """Calls `fn` every `every` seconds until `stop()`; counts the calls."""

    def __init__(self, fn: Any, every: float) -> None:
        super().__init__(daemon=True)
        self.fn, self.every, self.done, self.count = fn, every, threading.Event(), 0

    def run(self) -> None:
        while not self.done.wait(self.every):
            try:
                self.fn()
            except Exception:  # a missed beat is no finding; the counts tell
                continue
            self.count += 1

    def stop(self) -> None:
        self.done.set()
        if self.is_alive():
            self.join(10)


class FaultyBackend(Protocol):
    """A cluster whose API server can be made to fail the operator's requests (and only its)."""

    name: str
    must_see: tuple[str, ...]  # the counts of `seen()` that must be 1 or more

    @property
    def backend(self) -> KubeSim | RealCluster: ...

    def operator_kubeconfig(self, workdir: Path) -> Path: ...

    def on(self, cluster: Cluster, names: list[str]) -> None: ...

    def off(self) -> None: ...

    def seen(self) -> dict[str, int]: ...

    def close(self) -> None: ...


class KubeSimFaults:
    name = "kubesim"
    # 409s go to 1.5% of updates and patches only: one or two a run, so any injected answer will do
    must_see = ("injected", "compactions")

    def __init__(self, backend: KubeSim) -> None:
        """The fault switch of a running kubesim (`close()` also stops it)."""
        self.backend = backend
        self.compactor = Periodic(self.backend.compact, 4.0)

    @classmethod
    def start(cls, workdir: Path, images: Path) -> KubeSimFaults:
        backend = KubeSim(workdir, images=images, rollout_delay_seconds=0.2).__enter__()
        backend.kubectl("apply", "-f", str(CRD), "-f", str(RUN_CRD))
        return cls(backend)

    def operator_kubeconfig(self, workdir: Path) -> Path:
        return self.backend.kubeconfig

    def on(self, cluster: Cluster, names: list[str]) -> None:
        faults = self.backend.faults
        faults.user_agents = OPERATOR_AGENTS
        faults.seed = 11
        faults.error_rate = {"*": 0.02}
        faults.throttle_rate, faults.retry_after_seconds = 0.015, 1
        faults.conflict_rate = 0.015
        faults.latency_seconds = 0.02
        faults.watch_cut_seconds = 3.0
        self.compactor.start()

    def off(self) -> None:
        self.backend.faults.clear()
        self.compactor.stop()

    def seen(self) -> dict[str, int]:
        injected = self.backend.faults.injected
        return {
            "500": sum(n for code, n in injected.items() if code >= 500),
            "429": injected.get(429, 0),
            "409": injected.get(409, 0),
            "injected": sum(injected.values()),
            "compactions": self.compactor.count,
            "faultable requests": self.backend.faults.faultable,
        }

    def close(self) -> None:
        self.off()
        self.backend.__exit__(None, None, None)


class RealFaults:
    name = "real"
    must_see = ("500", "429", "409", "410", "connection cuts", "compactions")

    def __init__(self, workdir: Path, *, fake_node: bool = False) -> None:
        """`fake_node`: pods marked Running at once and never started (bench_reliability plays the
        probe pods), instead of kubesim's process node running them."""
        self.backend = RealCluster(
            workdir, images=REAL_IMAGES, audit=True, apiserver_args=REAL_APISERVER_ARGS, fake_node=fake_node
        )
        self.proxy: FaultProxy | None = None
        self.webhook: FaultWebhook | None = None
        self.touched = 0
        self.compactions: list[tuple[float, int]] = []  # (time, revision compacted to)
        self._threads: list[Periodic] = []
        self._on_since = 0
        self.backend.start()
        try:
            self.backend.kubectl("apply", "-f", str(CRD), "-f", str(RUN_CRD))
            self.backend.kubectl(
                "wait",
                "--for=condition=Established",
                "crd/releaseverifications.releaseguard.io",
                "crd/verificationruns.releaseguard.io",
            )
            plane = self.backend.control_plane
            self.proxy = FaultProxy(int(plane.url.rsplit(":", 1)[1]))
            self.proxy.launch()
            self.webhook = FaultWebhook(plane.pki, workdir / "webhook", user=OPERATOR_USER)
            self.backend.kubectl("apply", "-f", "-", input=json.dumps(self.webhook.configuration()))
            self._admin = httpx.Client(base_url=plane.url, verify=plane.ssl_context(), timeout=10)
            self._etcd = httpx.Client(base_url=plane.etcd_url, timeout=10)
        except BaseException:
            self.close()
            raise

    def operator_kubeconfig(self, workdir: Path) -> Path:
        assert self.proxy is not None
        return operator_kubeconfig(self.backend, workdir, server=f"https://127.0.0.1:{self.proxy.port}")

    # ---- the faults -----------------------------------------------------------------------

    def on(self, cluster: Cluster, names: list[str]) -> None:
        assert self.proxy is not None and self.webhook is not None
        self._on_since = self.backend.control_plane.audit_log.stat().st_size
        self.backend.kubectl("apply", "-f", "-", input=json.dumps(apf_objects()))
        self.proxy.add_latency(20)
        self.proxy.cut_every(3.0)
        self.webhook.rate = 0.04
        rng = random.Random(11)
        paths = [f"/apis/releaseguard.io/v1alpha1/namespaces/{cluster.ns}/releaseverifications/{n}" for n in names]
        paths += [f"/apis/apps/v1/namespaces/{cluster.ns}/deployments/{n}" for n in names]

        def touch() -> None:
            body = {"metadata": {"annotations": {"faults.kubesim.test/touched": str(self.touched)}}}
            headers = {"Content-Type": "application/merge-patch+json"}
            self._admin.patch(rng.choice(paths), json=body, headers=headers).raise_for_status()
            self.touched += 1

        self._threads = [Periodic(self._compact, 4.0), Periodic(touch, 0.1)]
        for thread in self._threads:
            thread.start()

    def _compact(self) -> None:
        header = self._etcd.post("/v3/kv/range", json={"key": base64.b64encode(b"/").decode()}).json()["header"]
        revision = int(header["revision"])
        self._etcd.post("/v3/kv/compaction", json={"revision": revision}).raise_for_status()
        self.compactions.append((time.time(), revision))

    def off(self) -> None:
        for thread in self._threads:
            thread.stop()
        if self.webhook is not None:
            self.webhook.rate = 0.0
        if self.proxy is not None:
            self.proxy.clear()
        self.backend.kubectl("delete", "flowschema,prioritylevelconfiguration", "-l", APF_LABEL, check=False)

    def seen(self) -> dict[str, int]:
        """What the operator's requests met since `on()`, by class, from the audit log."""
        assert self.proxy is not None and self.webhook is not None
        counts: Counter[str] = Counter()
        with self.backend.control_plane.audit_log.open("rb") as log:
            log.seek(self._on_since)
            lines = log.read().splitlines()
        for line in lines:
            event = json.loads(line)
            if (event.get("user") or {}).get("username") != OPERATOR_USER or event.get("stage") != "ResponseComplete":
                continue
            counts["requests"] += 1
            status = event.get("responseStatus") or {}
            code = status.get("code")
            if code == 500 and status.get("message") == "context canceled":
                counts["canceled by a cut"] += 1  # the server's record of a request whose client went away
            elif code == 500:
                counts["500"] += 1
            elif code == 429:
                counts["429"] += 1
            elif code == 409 and status.get("reason") == "Conflict":
                counts["409"] += 1
            if event.get("verb") == "watch" and self._compacted(event):
                counts["410"] += 1
        return {
            **{k: counts[k] for k in ("500", "429", "409", "410", "requests", "canceled by a cut")},
            "webhook failed": self.webhook.failed,
            "connection cuts": self.proxy.cuts,
            "compactions": len(self.compactions),
            "touches": self.touched,
        }

    def _compacted(self, event: dict[str, Any]) -> bool:
        """A watch from a resourceVersion etcd had compacted away when it started: answered 410."""
        query = parse_qs(urlparse(event.get("requestURI", "")).query)
        since = int((query.get("resourceVersion") or ["0"])[0] or 0)
        if since == 0:
            return False
        started = dt.datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00")).timestamp()
        compacted = max((rev for at, rev in self.compactions if at < started), default=0)
        return since + 1 < compacted

    def close(self) -> None:
        for thread in self._threads:
            thread.stop()
        if self.webhook is not None:
            self.webhook.close()
        if self.proxy is not None:
            self.proxy.stop()
        for client in ("_admin", "_etcd"):
            if hasattr(self, client):
                getattr(self, client).close()
        self.backend.stop()


APF_LABEL = "faults.kubesim.test/apf=operator"


def apf_objects() -> dict[str, Any]:
    """A priority level of about 5 seats (2 shares of about 250, of 600), lending and borrowing nothing,
    that rejects what it cannot seat at once (no queue: with one, a loaded machine's slower
    operator sometimes never overflowed it and met no 429 in a run), and the flow schema that
    puts the operator's ServiceAccount there."""
    labels = {"faults.kubesim.test/apf": "operator"}
    level = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "releaseguard-faults", "labels": labels},
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": 2,
                "lendablePercent": 0,
                "borrowingLimitPercent": 0,
                "limitResponse": {"type": "Reject"},
            },
        },
    }
    schema = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": "releaseguard-faults", "labels": labels},
        "spec": {
            "priorityLevelConfiguration": {"name": "releaseguard-faults"},
            "matchingPrecedence": 500,
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [
                {
                    "subjects": [
                        {
                            "kind": "ServiceAccount",
                            "serviceAccount": {"name": "releaseguard", "namespace": "releaseguard"},
                        }
                    ],
                    "resourceRules": [
                        {
                            "verbs": ["*"],
                            "apiGroups": ["*"],
                            "resources": ["*"],
                            "clusterScope": True,
                            "namespaces": ["*"],
                        }
                    ],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                }
            ],
        },
    }
    return {"apiVersion": "v1", "kind": "List", "items": [level, schema]}


def faulty_backend(name: str, workdir: Path, kubesim_images: Path) -> Iterator[FaultyBackend]:
    backend: FaultyBackend = KubeSimFaults.start(workdir, kubesim_images) if name == "kubesim" else RealFaults(workdir)
    try:
        yield backend
    finally:
        backend.close()
