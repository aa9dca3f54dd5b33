"""Where network checks may connect: never to a network the cluster admin denied.

The operator refuses address literals in denied networks (core.policy); a host name is resolved
here, by the runner, once per connection, and every address of the answer is checked before
anything connects. The connection then goes to an address of that same answer (never to a name a
library would resolve again: a second lookup could be rebound to 169.254.169.254). A failed
lookup, an empty answer or any denied address ends the check Error without connecting: there is
no fallback. The operator passes its policy to the runner Job in contract.DENIED_NETWORKS_ENV
(RG_DENIED_NETWORKS, comma-separated CIDRs).

The tcp check connects with `open_checked`; http and prometheus checks through the httpx
transport of probe.checks.pinned, which calls `checked_addresses` for every new connection
(every redirect hop included).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence

from ...contract import DENIED_NETWORKS_ENV
from ...core.policy import Network

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses to connect to (as getaddrinfo answers); raises OSError when it fails
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052's well-known prefix


class DestinationError(Exception):
    """Not connected: the destination could not be resolved, or resolves into a denied network."""

    observed = "denied destination"

    def __init__(self, host: str, message: str) -> None:
        super().__init__(message)
        self.host = host


class LookupFailed(DestinationError):
    observed = "DNS failure"


class DestinationDenied(DestinationError):
    def __init__(self, host: str, message: str, network: Network) -> None:
        super().__init__(host, message)
        self.network = network


def networks_from_env(environ: Mapping[str, str]) -> list[Network]:
    raw = environ.get(DENIED_NETWORKS_ENV, "")
    return [ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip()]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def address_forms(address: IPAddress) -> list[IPAddress]:
    """`address` and every IPv4 address it carries (IPv4-mapped, NAT64, 6to4, Teredo), each of
    which a network may route to that IPv4 address."""
    forms: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None]
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        forms += [e for e in embedded if e is not None]
    return forms


def denied_network(address: IPAddress, networks: Sequence[Network]) -> Network | None:
    """Pure: the first denied network `address` (or an IPv4 address it carries) is in, or None."""
    for form in address_forms(address):
        for network in networks:
            if form.version == network.version and form in network:
                return network
    return None


def _parse(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def judge_answer(host: str, answer: Sequence[str], networks: Sequence[Network]) -> list[str]:
    """Pure: the addresses of `answer` to connect to, in order and without repeats. Raises
    LookupFailed for an empty answer or one that is not an address, and DestinationDenied when any
    address is denied (an answer with one denied address is not trusted for the others)."""
    if not answer:
        raise LookupFailed(host, f"DNS lookup of {host} returned no address")
    checked: list[str] = []
    for text in answer:
        address = _parse(text)
        if address is None:
            raise LookupFailed(host, f"DNS lookup of {host} returned {text!r}, which is not an IP address")
        network = denied_network(address, networks)
        if network is not None:
            via = "is" if _parse(host) is not None else f"resolves to {text}, which is"
            raise DestinationDenied(
                host, f"{host} {via} in {network}, a network the operator's policy denies to network checks", network
            )
        if str(address) not in checked:
            checked.append(str(address))
    return checked


async def checked_addresses(
    host: str, port: int, networks: Sequence[Network], resolver: Resolver = system_resolver
) -> list[str]:
    """The addresses `host` resolves to, one lookup, each checked against `networks`: connect to
    these and nothing else. Raises LookupFailed or DestinationDenied (both DestinationError)."""
    host = host.strip("[]")
    if not host:
        raise LookupFailed(host, "no host to connect to")
    if _parse(host) is not None:
        return judge_answer(host, [host], networks)
    try:
        answer = list(await resolver(host, port))
    except Exception as exc:  # whatever went wrong, the lookup gave no address to check
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
        raise LookupFailed(host, f"DNS lookup of {host} failed: {reason}") from exc
    return judge_answer(host, answer, networks)


async def open_checked(
    host: str, port: int, networks: Sequence[Network], resolver: Resolver = system_resolver
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to an address of `checked_addresses` (tried in the answer's order); the
    last address's OSError when none accepts."""
    addresses = await checked_addresses(host, port, networks, resolver)
    failure: OSError | None = None
    for address in addresses:
        try:
            return await asyncio.open_connection(address, port)
        except OSError as exc:
            failure = exc
    assert failure is not None  # judge_answer never returns an empty list
    raise failure
