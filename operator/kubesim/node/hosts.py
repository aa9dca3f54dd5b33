"""Per-pod /etc/hosts files that give Services their cluster DNS names.

The file is bind-mounted over /etc/hosts in the pod's mount namespace, so it is rewritten in place
(same inode) whenever Services change; a rename would leave the pod looking at the old file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CLUSTER_DOMAIN = "cluster.local"


@dataclass(frozen=True, order=True)
class ServiceName:
    namespace: str
    name: str
    cluster_ip: str


def service_hostnames(service: ServiceName, pod_namespace: str) -> list[str]:
    """The names a pod in `pod_namespace` can use for `service`, longest first."""
    fqdn = f"{service.name}.{service.namespace}"
    names = [f"{fqdn}.svc.{CLUSTER_DOMAIN}", f"{fqdn}.svc", fqdn]
    if service.namespace == pod_namespace:
        names.append(service.name)
    return names


def render_hosts(pod_namespace: str, hostname: str, pod_ip: str, services: Iterable[ServiceName]) -> str:
    lines = [
        "# kubesim: managed per pod; Services by cluster DNS name",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        f"{pod_ip}\t{hostname}",
    ]
    for service in sorted(services):
        lines.append(f"{service.cluster_ip}\t{' '.join(service_hostnames(service, pod_namespace))}")
    return "\n".join(lines) + "\n"


def resolve_name(host: str, pod_namespace: str, services: Iterable[ServiceName]) -> str | None:
    """The cluster IP `host` names for a pod in `pod_namespace`, or None (what the hosts file would say)."""
    host = host.rstrip(".").lower()
    for service in services:
        if host in service_hostnames(service, pod_namespace):
            return service.cluster_ip
    return None


def write_in_place(path: Path, content: str) -> None:
    """Replace the file's content keeping its inode, so existing bind mounts see the new text.

    Written first and truncated after, so a concurrent reader never sees an empty file."""
    data = content.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)
