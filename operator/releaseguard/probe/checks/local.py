"""Running an rv's checks away from the cluster: point in-cluster names at local addresses, and
python/pytest/command checks at the app's own interpreter.

Applied to the checks as written (wire form) before they are validated, so a mapped URL is
validated like any other.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ...api.spec import Placement, types_in

Obj = dict[str, Any]
SCRIPT_TYPES = types_in(Placement.TARGET_IMAGE)


def parse_host_map(entries: Sequence[str]) -> dict[str, str]:
    """`NAME[:PORT]=HOST[:PORT]` entries, e.g. `shop.demo.svc:8080=127.0.0.1:18080`. Raises
    ValueError naming the entry that is not of that form."""
    mapping: dict[str, str] = {}
    for entry in entries:
        source, sep, target = entry.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"--map-host {entry!r}: expected NAME[:PORT]=HOST[:PORT], e.g. shop.demo.svc=127.0.0.1")
        for side in (source, target):
            _, colon, port = side.rpartition(":")
            if colon and not port.isdigit():
                raise ValueError(f"--map-host {entry!r}: expected a port number after ':', got {port!r}")
        mapping[source.strip().lower()] = target.strip()
    return mapping


def _split(host_port: str) -> tuple[str, int | None]:
    host, colon, port = host_port.rpartition(":")
    return (host, int(port)) if colon and port.isdigit() else (host_port, None)


def map_address(host: str, port: int | None, hosts: Mapping[str, str]) -> tuple[str, int | None]:
    """Where `host:port` goes under `hosts`: an entry for `host:port` wins over one for `host`."""
    key = host.lower()
    target = hosts.get(f"{key}:{port}") if port is not None else None
    if target is None:
        target = hosts.get(key)
    if target is None:
        return host, port
    new_host, new_port = _split(target)
    return new_host, new_port if new_port is not None else port


def _map_url(url: str, hosts: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    if not parts.hostname:
        return url
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host, port = map_address(parts.hostname, parts.port or default, hosts)
    if (host, port) == (parts.hostname, parts.port or default):
        return url
    netloc = host if port is None or port == default else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _rebase(url: str, base: str) -> str:
    parts, root = urlsplit(url), urlsplit(base)
    path = root.path.rstrip("/") + (parts.path or "/")
    return urlunsplit((root.scheme, root.netloc, path, parts.query, parts.fragment))


def localize(
    checks: Any,
    hosts: Mapping[str, str] | None = None,
    base_url: str | None = None,
    python: str | None = None,
) -> Any:
    """The checks (a wire-form list) with http URLs, tcp hosts and prometheus addresses mapped by
    `hosts`, every http URL moved under `base_url` (scheme, host and port replaced, its path
    prefixed), and the interpreter of python/pytest/command checks set to `python`. Anything that
    is not a list of check objects is returned as it is, for validation to report."""
    if not isinstance(checks, list):
        return checks
    out = copy.deepcopy(checks)
    for check in out:
        if not isinstance(check, dict):
            continue
        http, tcp, prometheus = check.get("http"), check.get("tcp"), check.get("prometheus")
        if isinstance(http, dict) and isinstance(http.get("url"), str):
            if hosts:
                http["url"] = _map_url(http["url"], hosts)
            if base_url:
                http["url"] = _rebase(http["url"], base_url)
        if hosts and isinstance(tcp, dict) and isinstance(tcp.get("host"), str):
            port = tcp.get("port") if isinstance(tcp.get("port"), int) else None
            tcp["host"], new_port = map_address(tcp["host"], port, hosts)
            if new_port is not None:
                tcp["port"] = new_port
        if hosts and isinstance(prometheus, dict) and isinstance(prometheus.get("address"), str):
            prometheus["address"] = _map_url(prometheus["address"], hosts)
        for kind in SCRIPT_TYPES:
            if python and isinstance(check.get(kind), dict):
                check[kind]["python"] = python
    return out
