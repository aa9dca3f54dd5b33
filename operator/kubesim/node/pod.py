"""One pod's life on the kubesim kubelet: images, IP, volumes, init containers, containers with
restarts and readiness, status and Events, until it ends or is deleted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubesim.errors import ApiError
from kubesim.node.addresses import HOST_IP
from kubesim.node.env import EnvError, EnvSources, referenced_objects, resolve_env
from kubesim.node.env import expand as expand_refs
from kubesim.node.hosts import render_hosts, write_in_place
from kubesim.node.images import Image
from kubesim.node.probes import readiness_loop
from kubesim.node.runtime import Launch, StartError, signal_group, start, stop
from kubesim.node.status import ContainerView, now, pod_status
from kubesim.node.termination import DEFAULT_PATH, termination_message
from kubesim.node.volumes import (
    Mount,
    MountError,
    VolumeError,
    container_mounts,
    keep_visible,
    materialise,
    tokens_wanted,
)
from kubesim.node.volumes import referenced_objects as volume_objects

if TYPE_CHECKING:
    from kubesim.node.kubelet import Kubelet

Obj = dict[str, Any]
log = logging.getLogger("kubesim.node.kubelet")


def pod_key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "default", meta.get("name") or ""


def pod_uid(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return str(meta.get("uid") or "/".join(pod_key(obj)))


class PodWorker:
    """Runs one pod from first start to its end (or its deletion)."""

    def __init__(self, kubelet: Kubelet, pod: Obj) -> None:
        self.kubelet = kubelet
        self.pod = pod
        self.uid = pod_uid(pod)
        self.key = pod_key(pod)
        spec = pod.get("spec") or {}
        self.spec = spec
        self.root = kubelet.workdir / "pods" / f"{self.key[0]}_{self.key[1]}_{self.uid}"
        self.restart_policy = spec.get("restartPolicy") or "Always"
        self.init_specs: list[Obj] = list(spec.get("initContainers") or [])
        self.main_specs: list[Obj] = list(spec.get("containers") or [])
        self.init = [ContainerView(c.get("name", ""), c.get("image", "")) for c in self.init_specs]
        self.main = [ContainerView(c.get("name", ""), c.get("image", "")) for c in self.main_specs]
        self.pod_ip: str | None = None
        self.start_time = now()
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.task: asyncio.Task[None] | None = None
        self.removal: asyncio.Task[None] | None = None
        self.stopping = False
        self._volumes: dict[str, Path] = {}
        self._changed = asyncio.Event()
        self._published: Obj | None = None
        self._conditions: list[Obj] = []
        self._lock = asyncio.Lock()
        self._events_sent: set[str] = set()
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def hostname(self) -> str:
        return str(self.spec.get("hostname") or self.key[1])

    @property
    def hosts_path(self) -> Path:
        return self.root / "etc-hosts"

    def log_path(self, container: str | None, previous: bool = False) -> Path | None:
        names = [c.get("name") for c in self.main_specs + self.init_specs]
        if container is None:
            default = ((self.pod.get("metadata") or {}).get("annotations") or {}).get(
                "kubectl.kubernetes.io/default-container"
            )
            container = default or (names[0] if names else None)
        view = next((v for v in self.views() if v.name == container), None)
        if view is None:
            return None
        if previous:
            return self._log_file(view.name, view.restart_count - 1) if view.last_state else None
        return self._log_file(view.name, view.restart_count)

    def views(self) -> Iterator[ContainerView]:
        yield from self.init
        yield from self.main

    # ---- status and events ----------------------------------------------------------------

    def changed(self) -> None:
        self._changed.set()

    def _background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def publish(self) -> None:
        """Write the status now if it differs from the last one written."""
        async with self._lock:
            if self.stopping:
                return
            status = pod_status(
                self.init, self.main, self.restart_policy, self.pod_ip, HOST_IP, self.start_time, self._conditions
            )
            comparable = {**status, "conditions": [{**c, "lastTransitionTime": None} for c in status["conditions"]]}
            if comparable == self._published:
                return
            try:
                await self.kubelet.api.patch("v1", "pods", *self.key, {"status": status}, "merge", "status")
            except Exception as exc:
                log.debug("status of pod %s/%s not written: %s", *self.key, exc)
                return
            self._published = comparable
            self._conditions = status["conditions"]

    async def _publisher(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            await self.publish()

    async def event(self, reason: str, message: str, type_: str = "Normal", once: bool = False) -> None:
        if once:
            if reason + message in self._events_sent:
                return
            self._events_sent.add(reason + message)
        involved = {"apiVersion": "v1", "kind": "Pod", **self.pod}
        try:
            await self.kubelet.api.record_event(involved, reason, message, type_)
        except Exception as exc:
            log.debug("event %s for pod %s/%s not recorded: %s", reason, *self.key, exc)

    # ---- the pod's life -------------------------------------------------------------------

    async def run(self) -> None:
        publisher = asyncio.create_task(self._publisher())
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an unexpected API failure: report it on the pod
            log.exception("pod %s/%s failed in the kubelet", *self.key)
            await self.event("Failed", f"kubesim kubelet error: {exc}", "Warning")
        finally:
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher
        await self.publish()

    async def _run(self) -> None:
        images = await self._pull_images()
        if images is None:
            return
        self.pod_ip = self.kubelet.ips.allocate(self.uid)
        self.root.mkdir(parents=True, exist_ok=True)
        self.write_hosts()
        if not self.kubelet.isolate:
            await self.event(
                "IsolationUnavailable",
                "kubesim runs this pod without a private mount namespace (needs root and util-linux unshare): "
                "volumes and terminationMessagePath are not mounted, the termination message is taken from the "
                "log tail, and Service names resolve only over HTTP via HTTP_PROXY (raw TCP to Service names fails)",
                "Warning",
            )
        await self.publish()
        for spec, view in zip(self.init_specs, self.init, strict=True):
            code = await self._run_container(spec, view, images[id(spec)], init=True)
            if code != 0:
                return
            self.changed()
        await asyncio.gather(
            *(
                self._run_container(spec, view, images[id(spec)], init=False)
                for spec, view in zip(self.main_specs, self.main, strict=True)
            )
        )

    async def _pull_images(self) -> dict[int, Image] | None:
        resolved: dict[int, Image] = {}
        missing: list[tuple[ContainerView, str]] = []
        for spec, view in zip(self.init_specs + self.main_specs, list(self.views()), strict=True):
            image = self.kubelet.images.resolve(spec.get("image", ""))
            if image is None:
                missing.append((view, spec.get("image", "")))
            else:
                resolved[id(spec)] = image
        if not missing:
            return resolved
        for view, ref in missing:
            message = self.kubelet.images.how_to_declare(ref)
            view.waiting("ErrImagePull", message)
            await self.event("Failed", f"Failed to pull image {ref!r}: {message}", "Warning")
        await self.publish()
        await asyncio.sleep(1.0)
        for view, ref in missing:
            view.waiting("ImagePullBackOff", f'Back-off pulling image "{ref}"')
            await self.event("BackOff", f'Back-off pulling image "{ref}"', "Normal")
        await self.publish()
        return None  # the registry does not change while kubesim runs: stay Pending until deleted

    def write_hosts(self) -> None:
        if self.pod_ip is None or self.stopping:
            return
        content = render_hosts(self.key[0], self.hostname, self.pod_ip, self.kubelet.services.values())
        with contextlib.suppress(OSError):
            write_in_place(self.hosts_path, content)

    def pod_view(self) -> Obj:
        """The pod as the downward API sees it (with the IP this kubelet gave it)."""
        status = {**(self.pod.get("status") or {}), "podIP": self.pod_ip, "hostIP": HOST_IP}
        return {**self.pod, "status": status}

    async def _sources(self, names: tuple[set[str], set[str]]) -> EnvSources:
        namespace = self.key[0]
        config_maps, secrets = {}, {}
        for name in names[0]:
            if (obj := await self.kubelet.api.get("v1", "configmaps", namespace, name)) is not None:
                config_maps[name] = obj
        for name in names[1]:
            if (obj := await self.kubelet.api.get("v1", "secrets", namespace, name)) is not None:
                secrets[name] = obj
        return EnvSources(config_maps=config_maps, secrets=secrets)

    async def _tokens(self) -> dict[tuple[str, str], str]:
        """Service-account tokens for projected volumes, from the TokenRequest API, bound to this pod."""
        account = self.spec.get("serviceAccountName") or "default"
        tokens = {}
        for wanted in tokens_wanted(self.pod):
            spec: Obj = {
                "expirationSeconds": wanted.expiration_seconds,
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": self.key[1], "uid": self.uid},
            }
            if wanted.audience:
                spec["audiences"] = [wanted.audience]
            request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
            try:
                answer = await self.kubelet.api.create_subresource(
                    "v1", "serviceaccounts", self.key[0], account, "token", request
                )
            except ApiError as exc:
                raise VolumeError(f"volume {wanted.volume!r}: service account token: {exc.message}") from exc
            tokens[(wanted.volume, wanted.path)] = str((answer.get("status") or {}).get("token", ""))
        return tokens

    async def _prepare(self, spec: Obj, image: Image, view: ContainerView) -> Launch:
        """Everything needed to start the container; raises EnvError/VolumeError/ValueError."""
        if not self._volumes and (self.spec.get("volumes") or []):
            sources = await self._sources(volume_objects(self.pod))
            tokens = await self._tokens()
            self._volumes = materialise(
                self.pod, self.root / "volumes", sources.config_maps, sources.secrets, self.pod_view, tokens
            )
        sources = await self._sources(referenced_objects(spec))
        base = [
            ("PATH", os.pathsep.join([*(str(p) for p in image.path), os.environ.get("PATH", os.defpath)])),
            ("HOME", os.environ.get("HOME", "/root")),
            *((k, v) for k in ("LANG", "LC_ALL", "TZ") if (v := os.environ.get(k))),
            *((("PYTHONPATH", os.pathsep.join(map(str, image.python_path))),) if image.python_path else ()),
            *image.env,
            ("HOSTNAME", self.hostname),
        ]
        env = resolve_env(self.pod_view(), spec, sources, base)
        env["KUBESIM_POD_IP"] = self.pod_ip or ""
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.kubelet.shim), env.get("PYTHONPATH")) if p)
        if self.kubelet.proxy is not None:
            proxy = self.kubelet.proxy.url(self.key[0])
            env.update(
                HTTP_PROXY=proxy, http_proxy=proxy, NO_PROXY="127.0.0.0/8,localhost", no_proxy="127.0.0.0/8,localhost"
            )
        argv = [expand_refs(a, env) for a in image.argv(spec.get("command"), spec.get("args"))]
        working_dir = spec.get("workingDir") or (str(image.working_dir) if image.working_dir else None)
        mounts = container_mounts(spec, self._volumes)
        term_file = self._termination_file(view.name)
        term_file.parent.mkdir(parents=True, exist_ok=True)
        term_file.write_bytes(b"")
        term_file.chmod(0o666)  # the container may run as any user
        mounts += [
            Mount(source=term_file, target=spec.get("terminationMessagePath") or DEFAULT_PATH),
            Mount(source=self.hosts_path, target="/etc/hosts"),
        ]
        # Our Python environment is every image's base (editable installs and .pth entries included).
        image_dirs = [*image.path, *image.python_path, Path(sys.prefix), *map(Path, sys.path), self.kubelet.shim]
        if image.working_dir:
            image_dirs.append(image.working_dir)
        mounts += keep_visible(image_dirs, mounts)
        return Launch(
            argv=argv,
            env=env,
            working_dir=working_dir,
            mounts=mounts,
            log_path=self._log_file(view.name, view.restart_count),
            hostname=self.hostname,
        )

    def _termination_file(self, container: str) -> Path:
        return self.root / "termination" / container

    def _log_file(self, container: str, instance: int) -> Path:
        """One log per container instance, as `kubectl logs` shows only the current one."""
        return self.root / "logs" / container / f"{instance}.log"

    def _should_restart(self, code: int, init: bool) -> bool:
        if self.restart_policy == "Never":
            return False
        return code != 0 if init or self.restart_policy == "OnFailure" else True

    async def _run_container(self, spec: Obj, view: ContainerView, image: Image, init: bool) -> int | None:
        """Run (and restart) one container; its final exit code, or None when the pod stops first."""
        delay = self.kubelet.backoff[0]
        while not self.stopping:
            try:
                launch = await self._prepare(spec, image, view)
            except MountError as exc:  # the real kubelet: still ContainerCreating, FailedMount, retried
                view.waiting("ContainerCreating")
                await self.event("FailedMount", str(exc), "Warning", once=True)
                self.changed()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.kubelet.backoff[1])
                continue
            except (EnvError, VolumeError, ValueError) as exc:
                view.waiting("CreateContainerConfigError", str(exc))
                await self.event("Failed", f"Error: {exc}", "Warning", once=True)
                self.changed()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.kubelet.backoff[1])
                continue
            code, message, failure = await self._run_once(launch, spec, view)
            if self.stopping:
                return None
            view.terminated(code, message, failure)
            self.changed()
            if not self._should_restart(code, init):
                return code
            await self.event("BackOff", f"Back-off restarting failed container {view.name}", "Warning", once=True)
            view.remember_termination()
            view.waiting("CrashLoopBackOff", f"back-off {delay:g}s restarting failed container={view.name}")
            self.changed()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.kubelet.backoff[1])
            view.restart_count += 1
        return None

    async def _run_once(self, launch: Launch, spec: Obj, view: ContainerView) -> tuple[int, str, str | None]:
        """Start the process and wait for it: (exit code, termination message, reason or None)."""
        await self.event("Pulled", f'Container image "{view.image}" already present on machine')
        await self.event("Created", f"Created container {view.name}")
        try:
            process = await start(launch, self.kubelet.isolate)
        except (StartError, OSError) as exc:
            await self.event("Failed", f"Error: {exc}", "Warning")
            return 128, str(exc), "StartError"
        self.processes[view.name] = process
        view.running()
        await self.event("Started", f"Started container {view.name}")
        probe_task: asyncio.Task[None] | None = None
        probe = spec.get("readinessProbe")
        if probe and view in self.main:

            def set_ready(ready: bool) -> None:
                view.ready = ready and view.state == "running"
                self.changed()

            def unhealthy(why: str) -> None:
                self._background(self.event("Unhealthy", f"Readiness probe failed: {why}", "Warning"))

            probe_task = asyncio.create_task(
                readiness_loop(
                    probe, spec, self.pod_ip or HOST_IP, self._exec_runner(launch, process), set_ready, unhealthy
                )
            )
        else:
            view.ready = True
        self.changed()
        try:
            code = await process.wait()
        finally:
            if probe_task is not None:
                probe_task.cancel()
            signal_group(process.pid, signal.SIGKILL)
        view.ready = False
        code = 128 - code if code < 0 else code  # killed by signal N: the runtime reports 128+N
        code = code if code >= 0 else 128
        file_content = None
        with contextlib.suppress(OSError):
            file_content = self._termination_file(view.name).read_bytes()
        log_bytes = b""
        with contextlib.suppress(OSError):
            log_bytes = launch.log_path.read_bytes()
        message = termination_message(
            file_content,
            log_bytes,
            code,
            spec.get("terminationMessagePolicy"),
            file_readable=self.kubelet.isolate,
        )
        return code, message, None

    def _exec_runner(self, launch: Launch, process: asyncio.subprocess.Process) -> Any:
        async def run(command: list[str], limit: float) -> int:
            argv = command
            if self.kubelet.isolate:
                argv = ["nsenter", "--target", str(process.pid), "--mount", "--", *command]
            cwd = None if self.kubelet.isolate else launch.working_dir
            try:
                child = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                    env=launch.env,
                    cwd=cwd,
                    start_new_session=True,
                )
            except OSError:
                return 126
            try:
                return await asyncio.wait_for(child.wait(), limit)
            except TimeoutError:
                signal_group(child.pid, signal.SIGKILL)
                await child.wait()
                return 1
            except asyncio.CancelledError:
                signal_group(child.pid, signal.SIGKILL)
                raise

        return run

    async def stop(self, grace: float) -> None:
        """Kill the pod's processes (SIGTERM, SIGKILL after `grace`) and end its worker."""
        self.stopping = True
        await asyncio.gather(*(stop(p, grace) for p in self.processes.values()), return_exceptions=True)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
