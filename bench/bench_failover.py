"""Failover on the real control plane: two `releaseguard run` replicas peered through kopf (as the
chart installs them with replicaCount=2), the active one SIGKILLed right after a release, BENCH_KILLS
times (default 10). Takeover: from the kill to the standby recording that release's verdict. The
probe pods are played by bench_operator's Observer, so a verification itself takes well under a second.
BENCH_PEERING_LIFETIME (default 5 s) is how long a replica's peering record counts as alive."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import helm_python as helm
import yaml

from bench.bench_operator import RELEASEGUARD, ROOT, Cluster, Observer, _deployment, _rv

NS = "failover"


def _peering(cluster: Cluster, workdir: Path) -> None:
    rendered = helm.Chart.load(ROOT / "charts" / "releaseguard").render({"replicaCount": 2}, name="releaseguard")
    docs = [d for d in yaml.safe_load_all(rendered["releaseguard/templates/peering.yaml"]) if d]
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    cluster.sim.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(crds))
    for crd in crds:
        cluster.sim.kubectl("wait", "--for=condition=Established", f"crd/{crd['metadata']['name']}")
    cluster.sim.kubectl(
        "apply", "-f", "-", input=yaml.safe_dump_all([d for d in docs if d["kind"] != "CustomResourceDefinition"])
    )


def _start(kubeconfig: Path, workdir: Path, priority: int, lifetime: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), RELEASEGUARD_PEERING_LIFETIME=str(lifetime))
    log = open(workdir / f"operator-{priority}.log", "ab")  # noqa: SIM115 - handed to the child
    argv = [RELEASEGUARD, "run", "-A", "--metrics-port", "0", "--health-port", "0", "--runner-image", "releaseguard:dev",
            "--peering", "releaseguard", "--priority", str(priority)]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return proc


def run(workdir: Path, kills: int, lifetime: int) -> None:
    cluster = Cluster("real", workdir)
    cluster.start()
    procs: list[subprocess.Popen[bytes]] = []
    observer: Observer | None = None
    try:
        cluster.sim.kubectl("apply", "-f", str(ROOT / "crds" / "releaseverifications.releaseguard.io.yaml"))
        cluster.sim.kubectl("wait", "--for=condition=Established", "crd/releaseverifications.releaseguard.io")
        _peering(cluster, workdir)
        observer = Observer(cluster.api)

        async def start_observer() -> None:
            observer.start()

        cluster.call(start_observer)
        kubeconfig = cluster.operator_kubeconfig()
        standby = _start(kubeconfig, workdir, 10, lifetime)
        active = _start(kubeconfig, workdir, 20, lifetime)
        procs += [standby, active]
        api = cluster.api
        cluster.call(
            lambda: api.create(
                "v1", "namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
            )
        )
        cluster.call(lambda: api.create("apps/v1", "deployments", NS, _deployment("app", "shop:r1")))
        cluster.call(lambda: api.create("releaseguard.io/v1alpha1", "releaseverifications", NS, _rv("app", NS)))

        def wait_verdict(revision: int, timeout: float) -> float:
            start = time.monotonic()
            while (NS, "app", revision) not in observer.verdict:
                if time.monotonic() - start > timeout:
                    raise TimeoutError(f"no verdict on revision {revision} within {timeout}s (logs in {workdir})")
                time.sleep(0.02)
            return observer.verdict[(NS, "app", revision)][0]

        wait_verdict(1, 120)
        takeovers: list[float] = []
        for revision in range(2, kills + 2):
            time.sleep(lifetime + 2)  # the restarted replica is active again (higher priority)
            patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": f"shop:r{revision}"}]}}}}
            cluster.call(lambda p=patch: api.patch("apps/v1", "deployments", NS, "app", p, "strategic"))
            active.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            active.wait(10)
            takeovers.append(wait_verdict(revision, 10 * lifetime + 60) - killed)
            active = _start(kubeconfig, workdir, 20, lifetime)
            procs.append(active)
        print(
            f"[real] failover: takeover after a SIGKILL of the active replica (peering lifetime {lifetime} s), "
            f"{kills} kills: median {statistics.median(takeovers):.1f} s, max {max(takeovers):.1f} s, "
            f"min {min(takeovers):.1f} s; each: {', '.join(f'{t:.1f}' for t in takeovers)}",
            flush=True,
        )
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if observer is not None:
            stopping = observer

            async def stop_observer() -> None:
                stopping.stop()

            cluster.call(stop_observer)
        cluster.stop()


def main() -> None:
    if "real" not in os.environ.get("BENCH_BACKENDS", "kubesim,real").split(","):
        print("failover: the real control plane is not among BENCH_BACKENDS; skipped")
        return
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as tmp:
        run(Path(tmp), int(os.environ.get("BENCH_KILLS", "10")), int(os.environ.get("BENCH_PEERING_LIFETIME", "5")))


if __name__ == "__main__":
    main()
