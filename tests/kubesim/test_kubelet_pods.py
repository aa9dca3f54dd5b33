"""The kubelet end to end: real pods (small Python programs) run by a KubeSim server, driven with kubectl."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim.testing import KubeSim
from support import eventually

PY = "releaseguard:dev"  # the built-in image: kubesim's own Python environment

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    with KubeSim(tmp_path_factory.mktemp("kubesim")) as server:
        yield server


_namespaces = iter(range(1000))


@pytest.fixture
def ns(sim: KubeSim) -> str:
    name = f"k2-{next(_namespaces)}"
    sim.kubectl(
        "apply", "-f", "-", input=yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    )
    return name


def apply(sim: KubeSim, ns: str, *objects: dict[str, Any]) -> None:
    sim.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump_all(objects))


def get(sim: KubeSim, ns: str, plural: str, name: str) -> dict[str, Any] | None:
    assert sim.server is not None
    api = sim.server.api
    return sim.call(lambda: api.get("v1", plural, ns, name))


def pod_manifest(name: str, script: str, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": PY, "command": ["python", "-c", script]}
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": spec.pop("labels", {"test": name})},
        "spec": {"restartPolicy": "Never", "containers": [container], **spec},
    }


def wait_phase(sim: KubeSim, ns: str, name: str, *phases: str, timeout: float = 20) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        pod = get(sim, ns, "pods", name)
        return pod if pod and (pod.get("status") or {}).get("phase") in phases else None

    return eventually(check, what=f"pod {ns}/{name} in phase {phases}", timeout=timeout, interval=0.02)


def is_ready(pod: dict[str, Any] | None) -> bool:
    conditions = ((pod or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def terminated(pod: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = pod["status"]["containerStatuses"][0]["state"]
    return state["terminated"]  # type: ignore[no-any-return]


def test_env_working_dir_args_and_exit_code(sim: KubeSim, ns: str, tmp_path: Path) -> None:
    apply(
        sim,
        ns,
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": "s3cr3t"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"level": "debug", "X": "1"}},
    )
    script = (
        "import os, sys; "
        "print(' '.join(f'{k}={os.environ.get(k)}' for k in ('PW', 'LEVEL', 'POD', 'NS', 'IP', 'APP', 'CFG_X', 'HOSTNAME'))); "
        "print('cwd', os.getcwd()); print('args', sys.argv[1:]); sys.exit(3)"
    )
    work = tmp_path / "work"
    pod = pod_manifest(
        "envy",
        script,
        labels={"app": "envy"},
        container={
            "args": ["$(LEVEL)", "plain"],
            "workingDir": str(work),
            "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
            "env": [
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "level"}}},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            ],
        },
    )
    apply(sim, ns, pod)
    done = wait_phase(sim, ns, "envy", "Failed")
    state = terminated(done)
    assert (state["exitCode"], state["reason"]) == (3, "Error")
    ip = done["status"]["podIP"]
    assert ip.startswith("127.244.")
    logs = sim.kubectl("logs", "-n", ns, "envy").stdout.splitlines()
    assert logs[0] == f"PW=s3cr3t LEVEL=debug POD=envy NS={ns} IP={ip} APP=envy CFG_X=1 HOSTNAME=envy"
    assert logs[1] == f"cwd {work}"
    assert logs[2] == "args ['debug', 'plain']"
    assert {c["type"]: c["status"] for c in done["status"]["conditions"]}["Ready"] == "False"


def test_termination_messages_from_file_logs_and_capped(sim: KubeSim, ns: str) -> None:
    apply(
        sim,
        ns,
        pod_manifest("file", "open('/dev/termination-log', 'w').write('{\"verdict\": \"ok\"}')"),
        pod_manifest(
            "custom-path",
            "open('/tmp/k2-report', 'w').write('custom'); raise SystemExit(4)",
            container={"terminationMessagePath": "/tmp/k2-report"},
        ),
        pod_manifest(
            "fallback",
            "[print(f'line {i}') for i in range(100)]; raise SystemExit(2)",
            container={"terminationMessagePolicy": "FallbackToLogsOnError"},
        ),
        pod_manifest("fallback-ok", "print('fine')", container={"terminationMessagePolicy": "FallbackToLogsOnError"}),
        pod_manifest("big", "open('/dev/termination-log', 'w').write('x' * 6000)"),
    )
    assert terminated(wait_phase(sim, ns, "file", "Succeeded"))["message"] == '{"verdict": "ok"}'
    custom = terminated(wait_phase(sim, ns, "custom-path", "Failed"))
    assert (custom["exitCode"], custom["message"]) == (4, "custom")
    # The container wrote into its own mount namespace: the host's path is untouched.
    assert not Path("/tmp/k2-report").exists() or Path("/tmp/k2-report").read_text() == ""
    fallback = terminated(wait_phase(sim, ns, "fallback", "Failed"))["message"].splitlines()
    assert fallback[0] == "line 20" and fallback[-1] == "line 99" and len(fallback) == 80
    assert "message" not in terminated(wait_phase(sim, ns, "fallback-ok", "Succeeded"))
    assert terminated(wait_phase(sim, ns, "big", "Succeeded"))["message"] == "x" * 4096


def test_unknown_image_stays_pending_with_an_event(sim: KubeSim, ns: str) -> None:
    pod = pod_manifest("nginx", "")
    pod["spec"]["containers"][0] = {"name": "web", "image": "nginx:1.27"}
    apply(sim, ns, pod)

    def backoff() -> dict[str, Any] | None:
        found = get(sim, ns, "pods", "nginx")
        statuses = ((found or {}).get("status") or {}).get("containerStatuses") or [{}]
        waiting = statuses[0].get("state", {}).get("waiting", {})
        return found if waiting.get("reason") == "ImagePullBackOff" else None

    found = eventually(backoff, what="ImagePullBackOff", interval=0.02)
    assert found["status"]["phase"] == "Pending"
    events = json.loads(sim.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    failed = [e for e in events if e["reason"] == "Failed" and e["involvedObject"]["name"] == "nginx"]
    assert failed and failed[0]["type"] == "Warning"
    assert "'nginx:1.27' is not available in kubesim" in failed[0]["message"]
    assert "--images" in failed[0]["message"]


SERVER = "python -m http.server 8080"


def test_two_replicas_share_a_port_on_their_own_ips_and_readiness_gates(sim: KubeSim, ns: str, tmp_path: Path) -> None:
    gate = tmp_path / "open"
    probe = {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1}
    gated = {"exec": {"command": ["test", "-f", str(gate)]}, "periodSeconds": 1}
    for name, readiness in (("web-a", probe), ("web-b", probe), ("gated", gated)):
        manifest = pod_manifest(name, "", labels={"app": "web"})
        manifest["spec"]["restartPolicy"] = "Always"
        manifest["spec"]["containers"][0].update(
            command=SERVER.split(), ports=[{"name": "http", "containerPort": 8080}], readinessProbe=readiness
        )
        apply(sim, ns, manifest)
    a = eventually(
        lambda: (p := get(sim, ns, "pods", "web-a")) and is_ready(p) and p, what="web-a Ready", interval=0.02
    )
    b = eventually(
        lambda: (p := get(sim, ns, "pods", "web-b")) and is_ready(p) and p, what="web-b Ready", interval=0.02
    )
    assert a["status"]["podIP"] != b["status"]["podIP"]
    for pod in (a, b):
        with urllib.request.urlopen(f"http://{pod['status']['podIP']}:8080/", timeout=5) as response:
            assert response.status == 200
    gated_pod = eventually(
        lambda: (p := get(sim, ns, "pods", "gated")) and p["status"].get("phase") == "Running" and p,
        what="gated Running",
        interval=0.02,
    )
    assert not is_ready(gated_pod)
    assert gated_pod["status"]["containerStatuses"][0]["ready"] is False
    gate.touch()
    eventually(
        lambda: is_ready(get(sim, ns, "pods", "gated")), what="gated Ready after the exec probe passes", interval=0.02
    )


def test_deletion_kills_a_process_that_ignores_sigterm(sim: KubeSim, ns: str) -> None:
    script = (
        "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print(os.getpid(), flush=True); time.sleep(600)"
    )
    apply(sim, ns, pod_manifest("stubborn", script, terminationGracePeriodSeconds=30))
    wait_phase(sim, ns, "stubborn", "Running")
    pid = int(
        eventually(
            lambda: sim.kubectl("logs", "-n", ns, "stubborn").stdout.strip(), what="the pid in the log", interval=0.02
        )
    )
    assert alive(pid)
    started = time.monotonic()
    sim.kubectl("delete", "pod", "-n", ns, "stubborn", "--wait=false")
    eventually(lambda: not alive(pid), what="the process to be killed", interval=0.02)
    assert time.monotonic() - started < 10  # the grace period is capped in kubesim
    eventually(lambda: get(sim, ns, "pods", "stubborn") is None, what="the pod to be gone", interval=0.02)
    events = json.loads(sim.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    reasons = [e["reason"] for e in events if e["involvedObject"]["name"] == "stubborn"]
    assert sorted(reasons) == ["Created", "Killing", "Pulled", "Started"]


def test_volumes_init_containers_and_restarts(sim: KubeSim, ns: str) -> None:
    apply(
        sim,
        ns,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "files"}, "data": {"greeting": "hello"}},
    )
    # The main container fails once, then succeeds: the emptyDir keeps the marker across the restart.
    # Mount targets are under /run: a bind mount needs a placeholder, which stays on the host.
    base = "/run/kubesim-k2"
    script = (
        f"import os, sys; print(open('{base}/config/greeting').read(), open('{base}/data/init').read()); "
        f"first = not os.path.exists('{base}/data/ran'); open('{base}/data/ran', 'w').close(); "
        "sys.exit(1 if first else 0)"
    )
    pod = pod_manifest(
        "vols",
        script,
        restartPolicy="OnFailure",
        volumes=[{"name": "config", "configMap": {"name": "files"}}, {"name": "data", "emptyDir": {}}],
        initContainers=[
            {
                "name": "prepare",
                "image": PY,
                "command": ["python", "-c", f"open('{base}/data/init', 'w').write('from-init')"],
                "volumeMounts": [{"name": "data", "mountPath": f"{base}/data"}],
            }
        ],
        container={
            "volumeMounts": [
                {"name": "config", "mountPath": f"{base}/config", "readOnly": True},
                {"name": "data", "mountPath": f"{base}/data"},
            ]
        },
    )
    apply(sim, ns, pod)
    done = wait_phase(sim, ns, "vols", "Succeeded")
    status = done["status"]["containerStatuses"][0]
    assert status["restartCount"] == 1
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert done["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert sim.kubectl("logs", "-n", ns, "vols").stdout.strip() == "hello from-init"
    assert not Path(f"{base}/config/greeting").exists()  # mounted only inside the pod's namespace


def test_crash_loop_back_off_between_restarts(sim: KubeSim, ns: str) -> None:
    apply(sim, ns, pod_manifest("crash", "raise SystemExit(1)", restartPolicy="Always"))

    def restarted() -> dict[str, Any] | None:
        found = get(sim, ns, "pods", "crash")
        statuses = ((found or {}).get("status") or {}).get("containerStatuses") or [{}]
        return statuses[0] if statuses[0].get("restartCount", 0) >= 1 else None

    status = eventually(restarted, what="a restart", interval=0.02)
    assert status["lastState"]["terminated"]["exitCode"] == 1

    def backing_off() -> dict[str, Any] | None:
        found = get(sim, ns, "pods", "crash")
        statuses = ((found or {}).get("status") or {}).get("containerStatuses") or [{}]
        waiting = statuses[0].get("state", {}).get("waiting", {})
        return found if waiting.get("reason") == "CrashLoopBackOff" else None

    pod = eventually(backing_off, what="CrashLoopBackOff between restarts", interval=0.02)
    assert pod["status"]["phase"] == "Running"  # restartPolicy Always: a crash-looping pod is Running
    assert "back-off" in pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]


def test_nothing_survives_the_server(tmp_path: Path) -> None:
    with KubeSim(tmp_path / "sim") as server:
        server.kubectl(
            "apply",
            "-f",
            "-",
            input=yaml.safe_dump(
                pod_manifest("sleeper", "import os, time; print(os.getpid(), flush=True); time.sleep(600)")
            ),
        )
        pid = int(
            eventually(
                lambda: server.kubectl("logs", "sleeper", check=False).stdout.strip(),
                what="the pid in the log",
                interval=0.02,
            )
        )
        assert alive(pid)
    assert not alive(pid)


def test_a_volume_over_tmp_does_not_hide_the_pods_own_files(sim: KubeSim, ns: str) -> None:
    """The probe runner's shape: an emptyDir at /tmp while kubesim's work directory is under /tmp."""
    script = (
        "import socket; open('/tmp/scratch', 'w').write('x'); "
        "open('/dev/termination-log', 'w').write(socket.gethostbyname(socket.gethostname()))"
    )
    apply(
        sim,
        ns,
        pod_manifest(
            "runner",
            script,
            volumes=[{"name": "tmp", "emptyDir": {}}],
            container={"volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]},
        ),
    )
    done = wait_phase(sim, ns, "runner", "Succeeded", "Failed")
    assert done["status"]["phase"] == "Succeeded", sim.kubectl("logs", "-n", ns, "runner").stdout
    assert terminated(done)["message"] == done["status"]["podIP"]  # its own name resolves via its /etc/hosts


def test_missing_secret_waits_with_config_error_then_starts(sim: KubeSim, ns: str) -> None:
    manifest = pod_manifest(
        "needs-secret",
        "import os; print(os.environ['TOKEN'])",
        container={"env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "late", "key": "token"}}}]},
    )
    apply(sim, ns, manifest)

    def config_error() -> dict[str, Any] | None:
        found = get(sim, ns, "pods", "needs-secret")
        statuses = ((found or {}).get("status") or {}).get("containerStatuses") or [{}]
        waiting: dict[str, Any] = statuses[0].get("state", {}).get("waiting", {})
        return waiting if waiting.get("reason") == "CreateContainerConfigError" else None

    waiting = eventually(config_error, what="CreateContainerConfigError", interval=0.02)
    assert waiting["message"] == 'secret "late" not found'  # the real kubelet's words
    events = json.loads(sim.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    assert any(e["reason"] == "Failed" and e["message"] == 'Error: secret "late" not found' for e in events)
    apply(sim, ns, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "late"}, "stringData": {"token": "t0k"}})
    wait_phase(sim, ns, "needs-secret", "Succeeded")
    assert sim.kubectl("logs", "-n", ns, "needs-secret").stdout == "t0k\n"


def test_a_missing_volume_configmap_is_a_failed_mount_then_the_pod_starts(sim: KubeSim, ns: str) -> None:
    manifest = pod_manifest(
        "needs-volume",
        "print('mounted')",
        volumes=[{"name": "cfg", "configMap": {"name": "later"}}],
        container={"volumeMounts": [{"name": "cfg", "mountPath": "/run/kubesim-k2/later"}]},
    )
    apply(sim, ns, manifest)

    def failed_mount() -> dict[str, Any] | None:
        items = json.loads(sim.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
        return next((e for e in items if e["reason"] == "FailedMount"), None)

    event = eventually(failed_mount, what="a FailedMount Event", interval=0.02)
    assert event["type"] == "Warning"
    assert event["message"] == 'MountVolume.SetUp failed for volume "cfg" : configmap "later" not found'
    statuses = (get(sim, ns, "pods", "needs-volume") or {})["status"]["containerStatuses"]
    assert statuses[0]["state"] == {"waiting": {"reason": "ContainerCreating"}}  # as the real kubelet leaves it
    apply(sim, ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "later"}, "data": {"a": "b"}})
    wait_phase(sim, ns, "needs-volume", "Succeeded")


def test_a_command_that_does_not_exist_fails_the_container(sim: KubeSim, ns: str) -> None:
    manifest = pod_manifest("typo", "")
    manifest["spec"]["containers"][0]["command"] = ["pyhton", "-V"]
    apply(sim, ns, manifest)
    state = terminated(wait_phase(sim, ns, "typo", "Failed"))
    assert (state["exitCode"], state["reason"]) == (128, "StartError")
    assert 'exec: "pyhton": executable file not found in $PATH' in state["message"]


def test_containers_die_with_a_killed_server(tmp_path: Path) -> None:
    """No close() at all: SIGKILL the server process; its pods' processes must not outlive it."""
    import signal
    import subprocess
    import sys

    kubeconfig = tmp_path / "kubeconfig"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubesim",
            "serve",
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and "listening" in server.stdout.readline()

        def kubectl(*args: str, stdin: str | None = None) -> str:
            command = ["kubectl", f"--kubeconfig={kubeconfig}", f"--cache-dir={tmp_path / 'cache'}", *args]
            done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=30)
            return done.stdout if done.returncode == 0 else ""

        script = "import os, time; print(os.getpid(), flush=True); time.sleep(600)"
        assert kubectl("apply", "-f", "-", stdin=yaml.safe_dump(pod_manifest("orphan", script)))
        pid = int(eventually(lambda: kubectl("logs", "orphan").strip(), what="the pid in the log", interval=0.02))
        assert alive(pid)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    eventually(lambda: not alive(pid), what="the container to die with the server", timeout=5, interval=0.02)


def test_a_volume_over_tmp_does_not_hide_an_image_that_lives_under_tmp(tmp_path: Path) -> None:
    """A checkout (venv, editable install, app) under /tmp is the "image": a pod's /tmp volume
    must not hide it, as a real runtime's volume hides only the container's own /tmp."""
    assert str(tmp_path).startswith("/tmp/"), "this test needs its image under /tmp"
    bin_dir = tmp_path / "image" / "bin"
    bin_dir.mkdir(parents=True)
    hello = bin_dir / "hello"
    hello.write_text("#!/bin/sh\nls /tmp > /dev/null && echo -n image-intact > /dev/termination-log\n")
    hello.chmod(0o755)
    registry = tmp_path / "images.yaml"
    registry.write_text(yaml.safe_dump({"images": [{"image": "app:1", "path": [str(bin_dir)]}]}))
    with KubeSim(tmp_path / "sim", images=registry) as sim:
        sim.kubectl(
            "apply",
            "-f",
            "-",
            input=yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t"}}),
        )
        pod = pod_manifest(
            "app",
            "",
            volumes=[{"name": "tmp", "emptyDir": {}}],
            container={"image": "app:1", "command": ["hello"], "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]},
        )
        apply(sim, "t", pod)
        done = wait_phase(sim, "t", "app", "Succeeded", "Failed")
        assert done["status"]["phase"] == "Succeeded", sim.kubectl("logs", "-n", "t", "app").stdout
        assert terminated(done)["message"] == "image-intact"


def test_a_relative_state_dir_still_gives_pods_working_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`kubesim serve --state-dir state` from a shell: pods run in their own working dir, so the
    kubelet's paths (the bind shim on PYTHONPATH, logs, volumes) must not stay relative."""
    monkeypatch.chdir(tmp_path)
    with KubeSim(Path("relative-state")) as sim:
        script = "import sitecustomize, sys; sys.stdout.write(sitecustomize.__file__)"
        apply(sim, "default", pod_manifest("rel", script, container={"workingDir": "/"}))
        done = wait_phase(sim, "default", "rel", "Succeeded", "Failed")
        log = sim.kubectl("logs", "rel").stdout
        assert done["status"]["phase"] == "Succeeded", log
        assert log.startswith(str(tmp_path / "relative-state"))
