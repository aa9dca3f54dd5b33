"""Starting and stopping one container process: the argv that sets up its mount namespace, its log
file, and process-group signalling so nothing a container started outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kubesim.node.volumes import Mount, setup_script

# A Python-only shim so that servers binding 0.0.0.0 bind their pod IP instead: without network
# namespaces that is what lets several replicas listen on the same container port.
SITECUSTOMIZE = '''\
"""kubesim: bind the pod IP when a server binds all IPv4 addresses (see kubesim.node.runtime)."""
import os as _os
import socket as _socket

_pod_ip = _os.environ.get("KUBESIM_POD_IP")
if _pod_ip:
    _bind = _socket.socket.bind

    def _kubesim_bind(self, address):
        if isinstance(address, tuple) and self.family == _socket.AF_INET and address[0] in ("", "0.0.0.0"):
            address = (_pod_ip, *address[1:])
        elif isinstance(address, tuple) and self.family == _socket.AF_INET6 and address[0] in ("", "::"):
            try:
                v6only = self.getsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY)
            except OSError:
                v6only = 1
            if not v6only:  # dual stack: the pod IP as an IPv4-mapped address
                address = ("::ffff:" + _pod_ip, *address[1:])
        return _bind(self, address)

    _socket.socket.bind = _kubesim_bind
'''


class StartError(Exception):
    """The process could not be started; the message is what the runtime would report."""


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    working_dir: str | None
    mounts: list[Mount]
    log_path: Path
    hostname: str | None = None


@functools.cache
def can_isolate() -> bool:
    """Whether containers can get private mount and UTS namespaces here: root, util-linux and bash,
    and a trial bind mount in a new namespace succeeds (it does not in an unprivileged container)."""
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("unshare", "mount", "bash")):
        return False
    trial = ["unshare", "--mount", "--uts", "--propagation", "private", "--", "mount", "--bind", "/", "/"]
    try:
        done = subprocess.run(trial, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def write_shim(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return directory


def full_argv(launch: Launch, isolate: bool) -> list[str]:
    """What to exec: the container argv, wrapped (as root) in a private mount namespace that mounts
    the pod's files first. `setpriv --pdeathsig` kills the container if kubesim dies abruptly."""
    argv = list(launch.argv) if isolate else host_paths(launch.argv, launch.mounts)
    if isolate:
        argv = [
            "unshare", "--mount", "--uts", "--propagation", "private", "--",
            "bash", "-c", setup_script(launch.mounts, launch.working_dir, launch.hostname),
            "kubesim-container", *argv,
        ]  # fmt: skip
    if shutil.which("setpriv"):
        argv = ["setpriv", "--pdeathsig", "KILL", "--", *argv]
    return argv


def host_paths(argv: list[str], mounts: list[Mount]) -> list[str]:
    """Without a mount namespace, an argument naming a path under a mount's target (a script in
    a ConfigMap volume, /dev/termination-log) is rewritten to where that mount's source is."""
    out = []
    for arg in argv:
        for mount in sorted(mounts, key=lambda m: len(m.target), reverse=True):
            target = mount.target.rstrip("/")
            if arg == target or arg.startswith(target + "/"):
                arg = str(mount.source) + arg[len(target) :]
                break
        out.append(arg)
    return out


def check_executable(argv: list[str], env: dict[str, str]) -> None:
    if not argv:
        raise StartError("no command specified: the container has no command and its image no entrypoint")
    program = argv[0]
    if "/" not in program and shutil.which(program, path=env.get("PATH", "")) is None:
        raise StartError(f'exec: "{program}": executable file not found in $PATH')


def _prepare_host(launch: Launch, isolate: bool) -> str | None:
    """Placeholders, working directory and log folder; the process's cwd when not isolated."""
    cwd = None
    if not isolate and launch.working_dir:
        Path(launch.working_dir).mkdir(parents=True, exist_ok=True)
        cwd = launch.working_dir
    launch.log_path.parent.mkdir(parents=True, exist_ok=True)
    return cwd


async def start(launch: Launch, isolate: bool) -> asyncio.subprocess.Process:
    check_executable(launch.argv, launch.env)
    cwd = _prepare_host(launch, isolate)
    with open(launch.log_path, "ab") as log:  # noqa: ASYNC230 - a local file, opened once per start
        try:
            return await asyncio.create_subprocess_exec(
                *full_argv(launch, isolate),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env=launch.env,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise StartError(f"starting {launch.argv[0]!r}: {exc}") from exc


def signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def stop(process: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the container's process group, SIGKILL it after `grace` seconds."""
    if process.returncode is None:
        signal_group(process.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), grace)
    # Whatever the container forked into its group goes too, even when its main process has exited.
    signal_group(process.pid, signal.SIGKILL)
    if process.returncode is None:
        await process.wait()
