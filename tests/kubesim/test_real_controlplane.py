"""The real control plane's harness: it starts, answers kubectl, and leaves nothing behind, also
when a start fails; a missing build is one clear message naming the step."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubesim import backends
from kubesim.real.controlplane import BINARIES, ControlPlane, ControlPlaneError, default_bin_dir, find_binaries
from kubesim.testing import run_kubectl

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif("real" not in backends.selected(), reason="RG_BACKENDS excludes the real control plane"),
]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_start_serve_and_stop_leaves_no_process_port_or_folder(tmp_path: Path) -> None:
    with ControlPlane.start() as plane:
        workdir, pids, ports = plane.workdir, plane.pids(), list(plane._ports)
        assert len(pids) == 4 and workdir.is_dir()
        version = run_kubectl(plane.kubeconfig, tmp_path, "version", "-o", "json").stdout
        assert '"gitVersion": "v1.37' in version
        namespaces = run_kubectl(plane.kubeconfig, tmp_path, "get", "ns", "-o", "name").stdout.split()
        assert "namespace/kube-system" in namespaces
    assert not workdir.exists()
    assert not any(_alive(pid) for pid in pids)
    assert not any(_listening(port) for port in ports)


def test_a_failed_start_stops_what_it_started_and_removes_its_folder(tmp_path: Path) -> None:
    bins = tmp_path / "bin"
    bins.mkdir()
    for name in BINARIES:  # etcd is real; the API server dies at once with a message of its own
        if name == "etcd":
            (bins / name).symlink_to(default_bin_dir() / name)
        else:
            (bins / name).write_text("#!/bin/sh\necho 'refusing to start: test' >&2\nexit 3\n")
            (bins / name).chmod(0o755)
    before = set(Path("/tmp").glob("kubesim-real-*"))
    with (
        pytest.raises(
            ControlPlaneError, match=r"step 'start kube-apiserver' failed: it exited 3:\n.*refusing to start"
        ),
        ControlPlane.start(bin_dir=bins, timeout=30),
    ):
        pass
    assert set(Path("/tmp").glob("kubesim-real-*")) == before
    leftover = subprocess.run(["pgrep", "-f", f"{bins}/"], capture_output=True, text=True).stdout
    assert leftover == ""


def test_a_port_taken_after_it_was_chosen_is_chosen_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A free port is free only until someone binds it (seen in CI: etcd's `address already in
    use` beside other runs): the start picks new ports and goes on."""
    from kubesim.real import controlplane

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        chosen = iter([port])
        choose = controlplane.free_port
        monkeypatch.setattr(controlplane, "free_port", lambda: next(chosen, None) or choose())
        with ControlPlane.start(timeout=60) as plane:
            assert port not in plane._ports
            assert run_kubectl(plane.kubeconfig, plane.workdir, "get", "--raw", "/readyz").stdout.strip() == "ok"


def test_missing_binaries_name_the_step_and_the_command(tmp_path: Path) -> None:
    with pytest.raises(ControlPlaneError) as caught:
        find_binaries(tmp_path)
    assert str(caught.value) == (
        f"step 'find binaries' failed: {', '.join(BINARIES)} not in {tmp_path}; run 'make kube' to build them"
    )


def test_the_build_without_go_says_which_step_failed(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "tools" / "kube" / "build.sh"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    if shutil.which("go", path=env["PATH"]):
        pytest.skip("a go binary is on /usr/bin; this machine cannot show a missing toolchain")
    proc = subprocess.run(["bash", str(script), str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert "step 'find Go' failed: no 'go' on PATH" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_python_m_kubesim_real_without_binaries_is_one_clear_line(tmp_path: Path) -> None:
    env = dict(os.environ, KUBESIM_REAL_BIN=str(tmp_path / "nothing"))
    proc = subprocess.run(
        [sys.executable, "-m", "kubesim", "real", "--kubeconfig", str(tmp_path / "kc")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("kubesim real: step 'find binaries' failed:")
    assert "Traceback" not in proc.stderr


def test_a_killed_test_run_takes_its_control_plane_with_it(tmp_path: Path) -> None:
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from kubesim.real.controlplane import ControlPlane\n"
        f"plane = ControlPlane(Path({str(tmp_path / 'cp')!r}))\n"
        "plane.launch()\n"
        "print(' '.join(map(str, plane.pids())), flush=True)\n"
        "os._exit(0)\n"  # no cleanup at all, as after a SIGKILL
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    pids = [int(p) for p in proc.stdout.split()]
    assert len(pids) == 4, proc.stderr
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)


def test_the_fault_proxy_passes_tls_through_cuts_and_leaves_nothing_behind(tmp_path: Path) -> None:
    from kubesim.real.faultproxy import FaultProxy

    with ControlPlane.start() as plane, FaultProxy.start(int(plane.url.rsplit(":", 1)[1])) as proxy:
        pid, ports = proxy.pid(), (proxy.port, proxy.api_port)
        kubeconfig = plane.write_kubeconfig(tmp_path / "kc", server=f"https://127.0.0.1:{proxy.port}")
        proxy.add_latency(20)
        assert [t["type"] for t in proxy.toxics()] == ["latency"]
        started = time.monotonic()
        assert "namespace/default" in run_kubectl(kubeconfig, tmp_path, "get", "ns", "-o", "name").stdout
        assert time.monotonic() - started > 0.02
        proxy.cut(0.5)
        assert proxy.cuts == 1
        proxy.clear()
        assert proxy.toxics() == []
        assert run_kubectl(kubeconfig, tmp_path, "get", "ns", "default", "-o", "name").stdout.strip()
    assert pid is not None and not _alive(pid)
    assert not any(_listening(port) for port in ports)
