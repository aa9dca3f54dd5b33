"""Services for kubesim: a loopback cluster IP per Service and, per port, a TCP forwarder to the Ready
pods its selector picks (round robin at connection time), like kube-proxy in userspace mode.

Names are the kubelet's job (a per-pod /etc/hosts built from the Services' cluster IPs); this module
only gives out the IPs and moves the bytes. Only TCP ports are served; UDP and SCTP ports, headless
and ExternalName Services get no listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import random
from dataclasses import dataclass
from typing import Any

from kubesim.cluster import ClusterAPI
from kubesim.node.addresses import SERVICE_NETWORK, AddressPool, default_lock_dir
from kubesim.node.probes import resolve_port
from kubesim.node.proxy import Backend, TcpForwarder
from kubesim.node.watching import Watches

Obj = dict[str, Any]
log = logging.getLogger("kubesim.node.network")


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "default", meta.get("name") or ""


def is_ready(pod: Obj) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or not status.get("podIP"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def selects(selector: dict[str, str] | None, pod: Obj) -> bool:
    if not selector:
        return False  # a Service without selector has manually managed endpoints, which kubesim lacks
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def pod_target_port(pod: Obj, target: Any) -> int | None:
    """The pod's port for a Service's targetPort (a number, or a container port's name)."""
    for container in (pod.get("spec") or {}).get("containers") or []:
        with contextlib.suppress(ValueError):
            return resolve_port(target, container)
    return None


def endpoints(service: Obj, pods: list[Obj], port: Obj) -> list[Backend]:
    """The Ready pods `service` selects for `port`, as (pod IP, target port), in a stable order."""
    namespace = _key(service)[0]
    selector = (service.get("spec") or {}).get("selector")
    target = port.get("targetPort", port.get("port"))
    backends = []
    for pod in pods:
        if _key(pod)[0] != namespace or not selects(selector, pod) or not is_ready(pod):
            continue
        number = pod_target_port(pod, target)
        if number is not None:
            backends.append((str(pod["status"]["podIP"]), number))
    return sorted(backends)


@dataclass(frozen=True)
class Listener:
    namespace: str
    name: str
    ip: str
    port: int
    port_index: int


def wants_listeners(service: Obj) -> bool:
    spec = service.get("spec") or {}
    return spec.get("type", "ClusterIP") != "ExternalName" and spec.get("clusterIP") != "None"


class ServiceNetwork:
    def __init__(self, api: ClusterAPI) -> None:
        self.api = api
        self.ips = AddressPool(SERVICE_NETWORK, default_lock_dir(), start=random.randrange(1, 1 << 16))
        self.services: dict[tuple[str, str], Obj] = {}
        self.pods: dict[tuple[str, str], Obj] = {}
        self.forwarders: dict[Listener, TcpForwarder] = {}
        self._next: dict[Listener, int] = {}
        self._watches = Watches(api, "service network")
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        await self._watches.run({"services": self._on_service, "pods": self._on_pod})

    async def close(self) -> None:
        await self._watches.close()
        await asyncio.gather(*(f.close() for f in self.forwarders.values()), return_exceptions=True)
        self.forwarders.clear()
        self.ips.release_all()

    async def _on_pod(self, type_: str, pod: Obj) -> None:
        if type_ == "DELETED":
            self.pods.pop(_key(pod), None)
        else:
            self.pods[_key(pod)] = pod

    async def _on_service(self, type_: str, service: Obj) -> None:
        key = _key(service)
        async with self._lock:
            if type_ == "DELETED":
                self.services.pop(key, None)
                self.ips.release("/".join(key))
            else:
                service = await self._ensure_cluster_ip(service)
                self.services[key] = service
            await self._sync_listeners(key)

    async def _ensure_cluster_ip(self, service: Obj) -> Obj:
        spec = service.get("spec") or {}
        key = "/".join(_key(service))
        ip = spec.get("clusterIP")
        if not wants_listeners(service):
            return service
        if ip:
            if ip in self.ips:
                self.ips.reserve(key, ip)
            elif not ipaddress.ip_address(ip).is_loopback:
                await self._warn(service, f"clusterIP {ip} is not a loopback address: kubesim cannot listen on it")
            return service
        ip = self.ips.allocate(key)
        patch = {"spec": {"clusterIP": ip, "clusterIPs": [ip]}}
        try:
            return await self.api.patch("v1", "services", *_key(service), patch)
        except Exception as exc:
            log.warning("service %s: cluster IP not written: %s", key, exc)
            return {**service, "spec": {**spec, **patch["spec"]}}

    async def _warn(self, service: Obj, message: str) -> None:
        with contextlib.suppress(Exception):
            await self.api.record_event(
                {"apiVersion": "v1", "kind": "Service", **service}, "ProxyFailed", message, "Warning"
            )

    def _desired(self, key: tuple[str, str]) -> set[Listener]:
        service = self.services.get(key)
        if service is None or not wants_listeners(service):
            return set()
        spec = service.get("spec") or {}
        ip = spec.get("clusterIP")
        if not ip or ip not in self.ips:
            return set()
        return {
            Listener(key[0], key[1], ip, int(port["port"]), index)
            for index, port in enumerate(spec.get("ports") or [])
            if (port.get("protocol") or "TCP") == "TCP" and port.get("port")
        }

    async def _sync_listeners(self, key: tuple[str, str]) -> None:
        current = {listener for listener in self.forwarders if (listener.namespace, listener.name) == key}
        desired = self._desired(key)
        for listener in current - desired:
            await self.forwarders.pop(listener).close()
            self._next.pop(listener, None)
        for listener in desired - current:
            forwarder = TcpForwarder(listener.ip, listener.port, functools.partial(self.pick, listener))
            try:
                await forwarder.start()
            except OSError as exc:
                await self._warn(self.services[key], f"cannot listen on {listener.ip}:{listener.port}: {exc}")
                continue
            self.forwarders[listener] = forwarder

    def pick(self, listener: Listener) -> Backend | None:
        """The next Ready backend for a connection to `listener`, round robin."""
        service = self.services.get((listener.namespace, listener.name))
        if service is None:
            return None
        ports = (service.get("spec") or {}).get("ports") or []
        if listener.port_index >= len(ports):
            return None
        backends = endpoints(service, list(self.pods.values()), ports[listener.port_index])
        if not backends:
            return None
        turn = self._next.get(listener, 0)
        self._next[listener] = turn + 1
        return backends[turn % len(backends)]
