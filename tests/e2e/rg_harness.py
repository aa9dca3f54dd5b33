"""Fixtures for the operator's integration tests: one cluster per module (kubesim, or the real
control plane with kubesim's node: see kubesim.backends), API server, controllers, kubelet
running real pods, Service network) per module, the operator as a real `releaseguard run`
subprocess, and helpers that read what a user would: kubectl output, Events, /metrics."""

from __future__ import annotations

import contextlib
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


def with_crds(real: RealCluster) -> RealCluster:
    """The real control plane with the CRDs installed and established."""
    real.kubectl("apply", "-f", str(CRD), "-f", str(RUN_CRD))
    real.kubectl(
        "wait",
        "--for=condition=Established",
        "crd/releaseverifications.releaseguard.io",
        "crd/verificationruns.releaseguard.io",
    )
    return real


@pytest.fixture(scope="module", params=backends.selected())
def sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """The cluster under test: a KubeSim per module, or the session's real control plane."""
    if request.param == "real":
        yield with_crds(request.getfixturevalue("real_cluster"))
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


@contextlib.contextmanager
def fresh_namespace(sim: Backend, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A namespace of the test's own (restricted Pod Security), deleted after it."""
    readable = re.sub(r"[^a-z0-9]+", "-", request.node.name[5:30].lower()).strip("-")
    name = f"it-{next(_counter)}-{readable}"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}}
    sim.kubectl("apply", "-f", "-", input=json.dumps(namespace))
    yield Cluster(sim, name)
    sim.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def cluster(sim: Backend, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    with fresh_namespace(sim, request) as made:
        yield made


# --- real-only tests: the authorizer and admission policies (kubesim has neither) ----------------

POLICIES = ROOT / "deploy" / "admission-policy.yaml"
OPERATOR_USER = "system:serviceaccount:releaseguard:releaseguard"  # deploy/'s ServiceAccount
CLUSTER_ADMIN = "kubesim-admin"  # the real control plane's admin kubeconfig (group system:masters)


def real_only(request: pytest.FixtureRequest, why: str) -> RealCluster:
    """The session's real control plane with the CRDs, for a module only it can run; skipped, saying
    so, when RG_BACKENDS leaves it out (no kubesim variant: kubesim would only skip)."""
    if "real" not in backends.selected():
        pytest.skip(f"real control plane only: {why}; RG_BACKENDS={os.environ.get('RG_BACKENDS')} leaves it out")
    return with_crds(request.getfixturevalue("real_cluster"))


def as_user(
    sim: Backend, user: str, *args: str, input: str | None = None, groups: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """kubectl as `user` through impersonation (the admin may impersonate anyone); never raises."""
    impersonation = [f"--as={user}", *(f"--as-group={g}" for g in groups)]
    return sim.kubectl(*impersonation, *args, input=input, check=False)


def role(namespace: str, name: str, *rules: Obj) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": list(rules),
    }


def rule(group: str, resources: list[str], verbs: list[str], names: list[str] | None = None) -> Obj:
    out: Obj = {"apiGroups": [group], "resources": resources, "verbs": verbs}
    if names:
        out["resourceNames"] = names
    return out


def role_binding(namespace: str, subject: str, role_name: str, kind: str = "Role") -> Obj:
    """Binds `subject` (a user name, or `system:serviceaccount:NS:NAME`) to a Role or ClusterRole."""
    if subject.startswith("system:serviceaccount:"):
        _, _, sa_namespace, sa_name = subject.split(":")
        subjects: list[Obj] = [{"kind": "ServiceAccount", "name": sa_name, "namespace": sa_namespace}]
    else:
        subjects = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": subject}]
    readable = re.sub(r"[^a-z0-9]+", "-", f"{subject.split(':')[-1]}-{role_name}".lower())
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": readable[:63].strip("-"), "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role_name},
        "subjects": subjects,
    }


def _policy_probes(sim: Backend) -> tuple[bool, bool]:
    """Whether each shipped policy refuses now: an approval signed with a name that is not the
    requester's (releaseverifications.releaseguard.io), a VerificationRun not created by the
    operator (outputs.releaseguard.io); both as the cluster admin, in dry-run."""
    approval = {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {
            "name": "policy-probe",
            "namespace": "default",
            "annotations": {"releaseguard.io/approve-rollback": "x", "releaseguard.io/approved-by": "not-the-admin"},
        },
        "spec": {
            "targetRef": {"name": "x"},
            "rollback": {"policy": "Manual"},
            "checks": [{"name": "x", "tcp": {"host": "x", "port": 1}}],
        },
    }
    record = {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "VerificationRun",
        "metadata": {"name": "policy-probe", "namespace": "default"},
        "spec": {"releaseVerification": "x", "target": "x", "revision": 1, "trigger": "Rerun", "checksDigest": "0"},
    }
    refused = []
    for obj in (approval, record):
        result = sim.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(obj), check=False)
        refused.append("ValidatingAdmissionPolicy" in result.stderr)
    return refused[0], refused[1]


@contextlib.contextmanager
def shipped_policies(sim: RealCluster) -> Iterator[None]:
    """deploy/admission-policy.yaml applied and enforced (the API server compiles a policy in the
    background), then removed and no longer enforced, so no later module meets it."""
    sim.kubectl("apply", "-f", str(POLICIES))
    try:
        eventually(lambda: _policy_probes(sim) == (True, True), 30, "both shipped policies enforced")
        yield
    finally:
        sim.kubectl("delete", "-f", str(POLICIES), "--ignore-not-found", check=False)
        eventually(lambda: _policy_probes(sim) == (False, False), 30, "the shipped policies gone")


def api_call(
    kubeconfig: Path, method: str, path: str, body: Obj | None = None, dry_run: bool = False
) -> tuple[int, str]:
    """One request as the kubeconfig's token user (a merge patch for PATCH), without the GET that
    `kubectl patch` makes first: (HTTP status, body)."""
    import ssl
    import urllib.error

    config = yaml.safe_load(kubeconfig.read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    context = ssl.create_default_context(cafile=cluster["certificate-authority"])
    url = cluster["server"] + path + ("?dryRun=All" if dry_run else "")
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {user['token']}", "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()
