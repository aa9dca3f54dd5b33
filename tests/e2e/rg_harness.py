"""Fixtures for the operator's integration tests: one cluster per module (kubesim, or the real
control plane with kubesim's node: see kubesim.backends), API server, controllers, kubelet
running real pods, Service network) per module, the operator as a real `releaseguard run`
subprocess, and helpers that read what a user would: kubectl output, Events, /metrics."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim import backends
from kubesim.real.cluster import RealCluster
from kubesim.testing import KubeSim
from support import eventually, free_port

Backend = KubeSim | RealCluster

Obj = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "examples" / "kubesim-images.yaml"
CRD = ROOT / "crds" / "releaseverifications.releaseguard.io.yaml"
RUN_CRD = ROOT / "crds" / "verificationruns.releaseguard.io.yaml"
DEPLOY = ROOT / "deploy" / "releaseguard.yaml"
RELEASEGUARD = str(Path(sys.executable).parent / "releaseguard")


class Operator:
    """`releaseguard run` as a subprocess against the cluster, as the chart's ServiceAccount where
    the server authorizes (the real control plane), with the admin kubeconfig on kubesim."""

    def __init__(
        self,
        sim: Backend,
        workdir: Path,
        *extra: str,
        kubeconfig: Path | None = None,
        scope: tuple[str, ...] = ("--all-namespaces",),
    ) -> None:
        self.sim = sim
        self.kubeconfig = kubeconfig
        self.workdir = workdir
        self.extra = extra
        self.scope = scope
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.log_path = workdir / "operator.log"
        self.starts = 0

    def start(self) -> Operator:
        kubeconfig = self.kubeconfig or operator_kubeconfig(self.sim, self.workdir)
        env = dict(os.environ, KUBECONFIG=str(kubeconfig))
        argv = [
            RELEASEGUARD,
            "run",
            *self.scope,
            "--metrics-port",
            str(self.metrics_port),
            "--metrics-address",
            "127.0.0.1",
            "--health-port",
            str(self.health_port),
            "--runner-image",
            "releaseguard:dev",
            *self.extra,
        ]
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed in stop()
        log.write(f"--- start {self.starts}\n".encode())
        self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        eventually(self._healthy, 30, "the operator's /healthz")
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, f"operator exited:\n{self.log()}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


RBAC_KINDS = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}


def operator_kubeconfig(sim: Backend, workdir: Path, server: str | None = None) -> Path:
    """Where the API server authorizes, the chart's own ServiceAccount and RBAC (deploy/), with a
    token from the TokenRequest API (`server`: a proxy in front of the API server); kubesim
    authorizes nothing, so there the admin kubeconfig."""
    if not isinstance(sim, RealCluster):
        return sim.kubeconfig
    docs = [d for d in yaml.safe_load_all(DEPLOY.read_text()) if d and d.get("kind") in RBAC_KINDS]
    sim.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    return sim.service_account_kubeconfig(
        "releaseguard", "releaseguard", workdir / "operator.kubeconfig", server=server
    )


class Cluster:
    """kubectl-level helpers on one namespace."""

    def __init__(self, sim: Backend, namespace: str) -> None:
        self.sim = sim
        self.ns = namespace

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.sim.kubectl("-n", self.ns, *args, input=input, check=check)

    def apply(self, *objs: Obj) -> None:
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(list(objs)))

    def get(self, kind: str, name: str) -> Obj | None:
        proc = self.kubectl("get", kind, name, "-o", "json", check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def status(self, rv: str = "shop") -> Obj:
        obj = self.get("releaseverification", rv)
        return (obj or {}).get("status") or {}

    def condition(self, type_: str, rv: str = "shop") -> Obj:
        found = [c for c in self.status(rv).get("conditions") or [] if c["type"] == type_]
        return found[0] if found else {}

    def wait_phase(self, phase: str, rv: str = "shop", timeout: float = 60, revision: int | None = None) -> Obj:
        seen: list[Obj] = [{}]

        def check() -> Obj | None:
            status = seen[0] = self.status(rv)
            if status.get("phase") != phase:
                return None
            if revision is not None and status.get("currentRevision") != revision:
                return None
            return status

        try:
            return eventually(check, timeout, f"{rv} phase {phase} (revision {revision})")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nlast status: {json.dumps(seen[0], indent=1)}") from None

    def events(self, kind: str, name: str) -> list[Obj]:
        items = json.loads(self.kubectl("get", "events", "-o", "json").stdout)["items"]
        return [e for e in items if e["involvedObject"].get("kind") == kind and e["involvedObject"].get("name") == name]

    def event_reasons(self, kind: str, name: str) -> list[str]:
        return [e["reason"] for e in self.events(kind, name)]

    def jobs(self) -> list[Obj]:
        items: list[Obj] = json.loads(self.kubectl("get", "jobs", "-o", "json").stdout)["items"]
        return items

    def deployment_revision(self, name: str = "shop") -> int:
        dep = self.get("deployment", name) or {}
        return int(dep.get("metadata", {}).get("annotations", {}).get("deployment.kubernetes.io/revision", 0))

    def image(self, name: str = "shop") -> str:
        dep = self.get("deployment", name) or {}
        return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])


# --- manifests --------------------------------------------------------------------------------


def shop_deployment(image: str = "shop:1.0", replicas: int = 1, name: str = "shop", **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "shop",
                            "image": image,
                            "ports": [{"containerPort": 8080}],
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
            **spec,
        },
    }


def shop_service(name: str = "shop") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 8080, "targetPort": 8080}]},
    }


def orders_check(ns: str, name: str = "orders", critical: bool = True, **extra: Any) -> Obj:
    return health_check(ns, name, "/api/orders", critical, **extra)


def health_check(ns: str, name: str = "health", path: str = "/healthz", critical: bool = True, **extra: Any) -> Obj:
    return {
        "name": name,
        "critical": critical,
        "retries": 3,
        "timeoutSeconds": 3,
        "http": {"url": f"http://shop.{ns}.svc:8080{path}", "expectStatus": [200]},
        **extra,
    }


def release_verification(
    ns: str, checks: list[Obj] | None = None, policy: str = "Automatic", name: str = "shop", **spec: Any
) -> Obj:
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": name},
        "spec": {
            "targetRef": {"name": name},
            "delaySeconds": 0,
            "timeoutSeconds": 60,
            "rollback": {"policy": policy},
            "checks": checks or [health_check(ns), orders_check(ns)],
            **spec,
        },
    }


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=backends.selected())
def sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """The cluster under test: a KubeSim per module, or the session's real control plane."""
    if request.param == "real":
        real: RealCluster = request.getfixturevalue("real_cluster")
        real.kubectl("apply", "-f", str(CRD), "-f", str(RUN_CRD))
        real.kubectl(
            "wait",
            "--for=condition=Established",
            "crd/releaseverifications.releaseguard.io",
            "crd/verificationruns.releaseguard.io",
        )
        yield real
        return
    with KubeSim(tmp_path_factory.mktemp("kubesim"), images=IMAGES, rollout_delay_seconds=0.2) as server:
        server.kubectl("apply", "-f", str(CRD), "-f", str(RUN_CRD))
        yield server


@pytest.fixture(scope="module")
def operator(sim: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    op = Operator(sim, tmp_path_factory.mktemp("operator")).start()
    yield op
    op.stop()


_counter = itertools.count()


@pytest.fixture
def cluster(sim: Backend, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    readable = re.sub(r"[^a-z0-9]+", "-", request.node.name[5:30].lower()).strip("-")
    name = f"it-{next(_counter)}-{readable}"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}}
    sim.kubectl("apply", "-f", "-", input=json.dumps(namespace))
    yield Cluster(sim, name)
    sim.kubectl("delete", "namespace", name, "--wait=false", check=False)
