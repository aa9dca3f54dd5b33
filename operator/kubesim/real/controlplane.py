"""The real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager and
kube-scheduler, built from the Go module in tools/kube (`make kube`), started as envtest starts them.

    with ControlPlane.start(workdir) as cp:
        subprocess.run(["kubectl", "--kubeconfig", cp.kubeconfig, "get", "ns"])

Everything listens on 127.0.0.1 only. The Service network is `SERVICE_NETWORK` (on loopback, the
same range kubesim uses), so a cluster IP handed out by the real allocator is a loopback address;
the process node makes it reachable. `--endpoint-reconciler-type=none`: the API server would
otherwise write its own loopback address into the `kubernetes` Endpoints, which validation refuses.

A failed start stops what was started and removes the work folder it made; `stop()` leaves no
process, port or folder behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kubesim.node.addresses import SERVICE_NETWORK
from kubesim.real.certs import Pki, make_pki

REPO = Path(__file__).resolve().parents[3]
KUBE_VERSION_FILE = REPO / "tools" / "kube" / "VERSION"
CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "job-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "ttl-after-finished-controller",
    "node-lifecycle-controller",
    "root-ca-certificate-publisher-controller",
    "pod-garbage-collector-controller",
    "clusterrole-aggregation-controller",
    "service-cidr-controller",
    "resourcequota-controller",
    "validatingadmissionpolicy-status-controller",  # type-checks the shipped policy (status.typeChecking)
)
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


class ControlPlaneError(RuntimeError):
    """The control plane could not be found, started or reached; the message names the step."""


def kube_version() -> str:
    return KUBE_VERSION_FILE.read_text().strip()


def default_bin_dir() -> Path:
    """Where `make kube` puts the binaries (`KUBESIM_REAL_BIN` overrides)."""
    override = os.environ.get("KUBESIM_REAL_BIN")
    if override:
        return Path(override)
    return REPO / ".cache" / "kube" / kube_version() / "bin"


def find_binaries(bin_dir: Path | None = None) -> dict[str, Path]:
    folder = bin_dir or default_bin_dir()
    missing = [b for b in BINARIES if not os.access(folder / b, os.X_OK)]
    if missing:
        raise ControlPlaneError(
            f"step 'find binaries' failed: {', '.join(missing)} not in {folder}; run 'make kube' to build them"
        )
    return {b: folder / b for b in BINARIES}


PORT_ATTEMPTS = 3  # starts with new ports when one chosen was taken meanwhile


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_service_ip(network: str = SERVICE_NETWORK) -> str:
    return str(next(ipaddress.IPv4Network(network).hosts()))


def _die_with_parent() -> None:
    """In the child, before exec: be killed when the process that started us dies, however it
    dies (a SIGKILLed test run must not leave an API server behind)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


PR_SET_PDEATHSIG = 1


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class ControlPlane:
    workdir: Path
    bin_dir: Path | None = None
    owns_workdir: bool = False
    audit: bool = False
    apiserver_args: tuple[str, ...] = ()
    kubeconfig: Path = field(init=False)
    url: str = field(init=False, default="")
    pki: Pki = field(init=False)
    _processes: list[_Process] = field(init=False, default_factory=list)
    _ports: list[int] = field(init=False, default_factory=list)

    @classmethod
    @contextlib.contextmanager
    def start(
        cls, workdir: Path | None = None, bin_dir: Path | None = None, timeout: float = 90.0
    ) -> Iterator[ControlPlane]:
        owns = workdir is None
        for attempt in range(PORT_ATTEMPTS):
            folder = Path(tempfile.mkdtemp(prefix="kubesim-real-")) if workdir is None else Path(workdir)
            plane = cls(folder, bin_dir, owns)
            try:
                plane.launch(timeout)
                break
            except ControlPlaneError as exc:
                plane.stop()
                # a free port is free only until someone else binds it: pick new ones
                if "address already in use" not in str(exc) or attempt == PORT_ATTEMPTS - 1:
                    raise
                if not owns:
                    shutil.rmtree(folder / "etcd", ignore_errors=True)
            except BaseException:
                plane.stop()
                raise
        try:
            yield plane
        finally:
            plane.stop()

    # ---- start ----------------------------------------------------------------------------

    def launch(self, timeout: float = 90.0) -> None:
        binaries = find_binaries(self.bin_dir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pki = make_pki(self.workdir / "pki", service_ip=first_service_ip())
        deadline = time.monotonic() + timeout

        etcd_client, etcd_peer, api_port = free_port(), free_port(), free_port()
        self._ports = [etcd_client, etcd_peer, api_port]
        self._spawn(
            "etcd",
            [
                str(binaries["etcd"]),
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self._wait_http(f"http://127.0.0.1:{etcd_client}/health", deadline, "etcd")

        pki = self.pki
        self.url = f"https://127.0.0.1:{api_port}"
        self._spawn(
            "kube-apiserver",
            [
                str(binaries["kube-apiserver"]),
                f"--etcd-servers=http://127.0.0.1:{etcd_client}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki.serving.cert}",
                f"--tls-private-key-file={pki.serving.key}",
                f"--client-ca-file={pki.ca.cert}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki.service_account_public}",
                f"--service-account-signing-key-file={pki.service_account_key}",
                f"--service-cluster-ip-range={SERVICE_NETWORK}",
                "--authorization-mode=Node,RBAC",
                "--allow-privileged=true",
                "--endpoint-reconciler-type=none",
                "--kubelet-preferred-address-types=InternalIP",
                f"--kubelet-certificate-authority={pki.ca.cert}",
                f"--kubelet-client-certificate={pki.admin.cert}",
                f"--kubelet-client-key={pki.admin.key}",
                "--disable-admission-plugins=",
                "--v=1",
                *self._audit_flags(),
                *self.apiserver_args,
            ],
        )
        self.kubeconfig = self.write_kubeconfig(self.workdir / "admin.kubeconfig")
        self._wait_http(f"{self.url}/readyz", deadline, "kube-apiserver", tls=True)

        # Client rate limits well above the defaults (20 and 50 QPS), which make a storm of a few
        # hundred rollouts wait on the controllers' own throttling rather than on the API server.
        common = [
            f"--kubeconfig={self.kubeconfig}",
            "--leader-elect=false",
            "--secure-port=0",
            "--kube-api-qps=500",
            "--kube-api-burst=1000",
            "--v=1",
        ]
        self._spawn(
            "kube-controller-manager",
            [
                str(binaries["kube-controller-manager"]),
                *common,
                f"--controllers={','.join(CONTROLLERS)}",
                "--use-service-account-credentials",
                f"--service-account-private-key-file={pki.service_account_key}",
                f"--root-ca-file={pki.ca.cert}",
                f"--service-cluster-ip-range={SERVICE_NETWORK}",
                "--concurrent-deployment-syncs=10",
                "--concurrent-job-syncs=10",
            ],
        )
        self._spawn("kube-scheduler", [str(binaries["kube-scheduler"]), *common])
        self._check_alive()

    @property
    def etcd_url(self) -> str:
        """etcd's client URL (its v3 JSON gateway answers there too)."""
        return f"http://127.0.0.1:{self._ports[0]}"

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"

    def _audit_flags(self) -> list[str]:
        """With `audit`, every request's metadata goes to audit.log, so a benchmark can count one
        client's requests by the identity it used (see `requests_of`)."""
        if not self.audit:
            return []
        policy = self.workdir / "audit-policy.yaml"
        rule = {"level": "Metadata", "omitStages": ["RequestReceived"]}
        policy.write_text(yaml.safe_dump({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [rule]}))
        return [f"--audit-policy-file={policy}", f"--audit-log-path={self.audit_log}", "--audit-log-maxsize=0"]

    def requests_of(self, username: str, since: int = 0) -> tuple[Counter[tuple[str, str]], int]:
        """Requests `username` made, by (verb, resource[/subresource]), from byte `since` of the audit
        log (a watch counts once, when it ends), and where the log ends now."""
        counts: Counter[tuple[str, str]] = Counter()
        with self.audit_log.open("rb") as log:
            log.seek(since)
            data = log.read()
        for line in data.splitlines():
            event = json.loads(line)
            if (event.get("user") or {}).get("username") != username or event.get("stage") != "ResponseComplete":
                continue
            ref = event.get("objectRef") or {}
            resource = ref.get("resource", "") + (f"/{ref['subresource']}" if ref.get("subresource") else "")
            counts[(str(event.get("verb")), resource)] += 1
        return counts, since + len(data)

    def _spawn(self, name: str, argv: Sequence[str]) -> None:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self._processes.append(_Process(name, popen, log))

    def _check_alive(self) -> None:
        for process in self._processes:
            if process.popen.poll() is not None:
                tail = process.log.read_text(errors="replace")[-2000:]
                raise ControlPlaneError(
                    f"step 'start {process.name}' failed: it exited {process.popen.returncode}:\n{tail}"
                )

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki.ca.cert))
        context.load_cert_chain(str(self.pki.admin.cert), str(self.pki.admin.key))
        return context

    def _wait_http(self, url: str, deadline: float, name: str, tls: bool = False) -> None:
        context = self.ssl_context() if tls else None
        last = "no answer"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as response:
                    if response.status == 200:
                        return
                    last = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}: {exc.read()[:300]!r}"
            except (OSError, urllib.error.URLError) as exc:
                last = str(exc)
            time.sleep(0.2)
        raise ControlPlaneError(f"step 'wait for {name}' failed: {url} not ready in time ({last})")

    # ---- clients --------------------------------------------------------------------------

    def write_kubeconfig(
        self, path: Path, *, token: str | None = None, namespace: str = "default", server: str | None = None
    ) -> Path:
        """A kubeconfig for kubectl, the official client and kopf: the admin certificate, or `token`;
        `server` instead of the API server's own URL (a proxy in front of it)."""
        user: dict[str, str] = (
            {"token": token}
            if token is not None
            else {"client-certificate": str(self.pki.admin.cert), "client-key": str(self.pki.admin.key)}
        )
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "real",
                    "cluster": {"server": server or self.url, "certificate-authority": str(self.pki.ca.cert)},
                }
            ],
            "users": [{"name": "real", "user": user}],
            "contexts": [{"name": "real", "context": {"cluster": "real", "user": "real", "namespace": namespace}}],
            "current-context": "real",
        }
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        path.chmod(0o600)
        return path

    # ---- stop -----------------------------------------------------------------------------

    def stop(self) -> None:
        for process in reversed(self._processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGTERM)
        for process in reversed(self._processes):
            try:
                process.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait(timeout=5)
        self._processes.clear()
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def pids(self) -> list[int]:
        return [p.popen.pid for p in self._processes if p.popen.poll() is None]

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
