"""`make demo`: the ReleaseGuard story end to end, against kubesim, with real processes.
`make demo-real` (`--backend real`) plays the same story on the real control plane (kube-apiserver,
kube-controller-manager, kube-scheduler and etcd built by `make kube`) with kubesim's process node.

1. start kubesim (in-memory API server, controllers, local kubelet) and apply the CRD;
2. start the operator (`releaseguard run`) exactly as it runs in a cluster, only pointed at kubesim;
3. deploy the sample shop app v1 with its ReleaseVerification and wait until v1 is verified;
4. roll out a regressed v2 whose /api/orders answers 500: the verification fails, names the check,
   and the operator rolls the Deployment back to v1, which is then verified again.

Prints a timeline and exits 0 only if every step happened. State lives in .demo/ (logs included).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".demo"
BIN = Path(sys.executable).parent
NAMESPACE = "demo"
STARTED = time.monotonic()


class DemoFailed(Exception):
    pass


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def command_line(argv: list[str]) -> str:
    """The command exactly as run, with paths shown relative to the repository."""

    def shown(arg: str) -> str:
        path = Path(arg)
        return str(path.relative_to(ROOT)) if path.is_absolute() and path.is_relative_to(ROOT) else arg

    return shlex.join(shown(a) for a in argv)


def start(name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    say(f"$ {command_line(argv)}  (log: .demo/{name}.log)")
    log = (STATE / f"{name}.log").open("w")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)


def stop(process: subprocess.Popen[str] | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for_line(name: str, pattern: str, process: subprocess.Popen[str], timeout: float = 30) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    log = STATE / f"{name}.log"
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text())
        if found:
            return found
        if process.poll() is not None:
            raise DemoFailed(f"{name} exited with {process.returncode}; see {log}")
        time.sleep(0.05)
    raise DemoFailed(f"{name} did not print {pattern!r} within {timeout:.0f}s; see {log}")


class Cluster:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def kubectl(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=self.env, timeout=60)
        if check and result.returncode != 0:
            raise DemoFailed(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return dict(json.loads(self.kubectl("get", kind, name, "-n", NAMESPACE, "-o", "json")))

    def wait_verdict(self, revision: int, expect: int) -> str:
        """`releaseguard wait` for one revision; returns its output, fails the demo on a surprise."""
        argv = [
            str(BIN / "releaseguard"),
            "wait",
            "shop",
            "-n",
            NAMESPACE,
            "--revision",
            str(revision),
            "--timeout",
            "60",
        ]
        say(f"$ {command_line(argv)}")
        result = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=90)
        output = (result.stdout + result.stderr).strip()
        for line in output.splitlines():
            print(f"           | {line}")
        if result.returncode != expect:
            raise DemoFailed(f"releaseguard wait --revision {revision} exited {result.returncode}, expected {expect}")
        return output


def deployment_revision(deployment: dict[str, Any]) -> int:
    return int(deployment["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0"))


def image_of(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def wait_until(what: str, predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise DemoFailed(f"timed out waiting for {what}")


def story(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(ROOT / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "crd/releaseverifications.releaseguard.io")
    say("CRD releaseverifications.releaseguard.io applied")

    cluster.kubectl("apply", "-f", str(ROOT / "examples" / "demo" / "shop.yaml"))
    say("applied shop v1 (image shop:1.0), its Service and ReleaseVerification 'shop'")
    cluster.wait_verdict(1, expect=0)
    rv = cluster.get("rv", "shop")
    if rv["status"].get("phase") != "Verified" or rv["status"].get("lastGoodRevision") != 1:
        raise DemoFailed(f"after v1: expected phase Verified with lastGoodRevision 1, got {rv['status']}")
    say(f"v1 verified: {rv['status']['checks']} checks passed")

    cluster.kubectl("set", "image", "deployment/shop", "-n", NAMESPACE, "shop=shop:1.1-error500")
    say("rolled out shop v2 (image shop:1.1-error500, /api/orders answers 500)")
    output = cluster.wait_verdict(2, expect=1)
    if "orders" not in output or "-> 500" not in output:
        raise DemoFailed("`releaseguard wait` did not name the failing 'orders' check and its 500")
    events = json.loads(
        cluster.kubectl(
            "get", "events", "-n", NAMESPACE, "-o", "json",
            "--field-selector", "involvedObject.kind=ReleaseVerification,reason=VerificationFailed",
        )
    )["items"]  # fmt: skip
    messages = [e["message"] for e in events]
    for message in messages:
        say(f"Event VerificationFailed: {message}")
    if not any("orders" in m and "500" in m for m in messages):
        raise DemoFailed(f"expected a VerificationFailed event naming the orders check and its 500, got {messages}")

    wait_until("the rollback to v1", lambda: image_of(cluster.get("deployment", "shop")) == "shop:1.0")
    deployment = cluster.get("deployment", "shop")
    rolled_back_to = deployment_revision(deployment)
    rv = cluster.get("rv", "shop")
    rollback = rv["status"].get("lastRollback") or {}
    if (rollback.get("fromRevision"), rollback.get("toRevision")) != (2, 1):
        raise DemoFailed(f"expected status.lastRollback from 2 to 1, got {rollback}")
    say(f"rolled back automatically: revision 2 -> template of revision 1, now revision {rolled_back_to}")

    cluster.wait_verdict(rolled_back_to, expect=0)
    rv = cluster.get("rv", "shop")
    if rv["status"].get("phase") != "Verified":
        raise DemoFailed(f"expected the rolled-back revision to be Verified, got {rv['status'].get('phase')}")
    say(f"revision {rolled_back_to} (v1 again) verified")

    print()
    print(cluster.kubectl("get", "rv", "-n", NAMESPACE), end="")
    print()
    print_timeline(cluster)


def print_timeline(cluster: Cluster) -> None:
    """The rv's Events in the order they were posted: their timestamps have whole seconds, so ties
    are broken by resourceVersion (kubectl --sort-by=.lastTimestamp would leave them unordered)."""
    items = json.loads(
        cluster.kubectl(
            "get", "events", "-n", NAMESPACE, "-o", "json",
            "--field-selector", "involvedObject.kind=ReleaseVerification",
        )
    )["items"]  # fmt: skip
    items.sort(key=lambda e: (e.get("lastTimestamp") or "", int(e["metadata"]["resourceVersion"])))
    rows = [("TIME", "TYPE", "REASON", "MESSAGE")]
    rows += [(str(e.get("lastTimestamp", ""))[11:19], e["type"], e["reason"], e["message"]) for e in items]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("   ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "   " + row[3])


def cluster_command(backend: str, kubeconfig: Path) -> list[str]:
    images = ["--images", str(ROOT / "examples" / "kubesim-images.yaml"), "--state-dir", str(STATE / "pods")]
    if backend == "real":
        return [str(BIN / "python"), "-m", "kubesim", "real", "--kubeconfig", str(kubeconfig), *images]
    return [
        str(BIN / "python"), "-m", "kubesim", "serve", "--port", "0", "--kubeconfig", str(kubeconfig),
        *images, "--rollout-delay", "0.5",
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description="The ReleaseGuard story end to end.")
    parser.add_argument("--backend", choices=["kubesim", "real"], default="kubesim")
    backend = parser.parse_args().backend
    shutil.rmtree(STATE, ignore_errors=True)
    STATE.mkdir()
    kubeconfig = STATE / "kubeconfig"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    kubesim = operator = None
    try:
        kubesim = start("kubesim", cluster_command(backend, kubeconfig), env)
        address = wait_for_line("kubesim", r"listening on (\S+)", kubesim, timeout=90).group(1)
        server = "real kube-apiserver" if backend == "real" else "kubesim API server"
        say(f"{server} at {address} (kubeconfig {kubeconfig.relative_to(ROOT)})")
        operator = start(
            "operator",
            [
                str(BIN / "releaseguard"), "run", "--namespace", NAMESPACE,
                "--runner-image", "releaseguard:dev", "--metrics-port", "0", "--health-port", "0",
            ],
            env,
        )  # fmt: skip
        story(Cluster(env))
    except DemoFailed as exc:
        say(f"DEMO FAILED: {exc}")
        say("logs: .demo/kubesim.log, .demo/operator.log")
        return 1
    finally:
        stop(operator)
        stop(kubesim)
    say(f"demo complete in {time.monotonic() - STARTED:.0f}s: v1 verified, v2 failed and was rolled back, v1 verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
