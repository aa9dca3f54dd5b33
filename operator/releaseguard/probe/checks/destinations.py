"""Where network checks may connect: never to a network the cluster admin denied.

The operator refuses address literals in denied networks (core.policy); a host name is resolved
here, by the runner, right before each attempt (and each redirect hop), and a name that resolves
into a denied network ends the check Error without connecting. The operator passes its policy to
the runner Job in contract.DENIED_NETWORKS_ENV (RG_DENIED_NETWORKS, comma-separated CIDRs).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping, Sequence

from ...contract import DENIED_NETWORKS_ENV
from ...core.policy import Network, denied_address


class DestinationDenied(Exception):
    pass


def networks_from_env(environ: Mapping[str, str]) -> list[Network]:
    raw = environ.get(DENIED_NETWORKS_ENV, "")
    return [ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip()]


async def ensure_allowed(host: str, port: int | None, networks: Sequence[Network]) -> None:
    """Raise DestinationDenied when `host` is, or resolves to, an address in `networks`."""
    if not networks or not host:
        return
    listed = list(networks)
    hit = denied_address(host, listed)
    if hit is None:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            return  # the attempt itself reports the DNS failure
        for info in infos:
            hit = denied_address(str(info[4][0]), listed)
            if hit is not None:
                break
    if hit is not None:
        raise DestinationDenied(f"{host} is in {hit}, a network the operator's policy denies to network checks")
