"""An httpx transport whose every connection goes to an address the runner resolved and checked.

`PinnedTransport` is httpx's transport made of public parts: an httpcore connection pool whose
network backend (`CheckedBackend`) resolves the host once per new connection with
destinations.checked_addresses and connects to one of exactly those addresses. httpcore still
knows the URL's host name, so the Host header, TLS SNI and certificate verification stay on the
name (or on the `sni_hostname` extension, the check's `tls.serverName`). Redirects are requests of
their own, so every hop that opens a connection is checked the same way.

A denied destination or a failed lookup raises destinations.DestinationError out of the request
(httpx passes exceptions that are not httpcore's through). The transport has no proxy: a proxy
would resolve the name itself, so HTTP_PROXY and friends are not used by network checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence

import httpcore
import httpx

from ...core.policy import Network
from .destinations import Resolver, checked_addresses, system_resolver


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """Connects to `destinations.checked_addresses(host)`, never to the name itself."""

    def __init__(self, networks: Sequence[Network], resolver: Resolver = system_resolver) -> None:
        self.networks = list(networks)
        self.resolver = resolver
        self._tcp = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            async with asyncio.timeout(timeout):
                addresses = await checked_addresses(host, port, self.networks, self.resolver)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no answer from the DNS lookup of {host} within {timeout:g}s") from None
        failure: Exception | None = None
        for address in addresses:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                return await self._tcp.connect_tcp(address, port, left, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # checked_addresses never returns an empty list
        raise failure

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# httpcore's exceptions as httpx raises them (the pairs of httpx's own transport); the most
# specific match wins, so subclasses come before their bases.
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for theirs, ours in _EXCEPTIONS:
            if isinstance(exc, theirs):
                raise ours(str(exc)) from exc
        raise


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: httpcore.Response) -> None:
        self._response = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx():
            async for part in self._response.aiter_stream():
                yield part

    async def aclose(self) -> None:
        with _as_httpx():
            await self._response.aclose()


class PinnedTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        networks: Sequence[Network],
        resolver: Resolver = system_resolver,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits | None = None,
    ) -> None:
        limits = limits or httpx.Limits()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=CheckedBackend(networks, resolver),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx():
            response = await self._pool.handle_async_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


def pinned_client(
    networks: Sequence[Network],
    resolver: Resolver = system_resolver,
    *,
    verify: ssl.SSLContext | bool = True,
    limits: httpx.Limits | None = None,
) -> httpx.AsyncClient:
    """An httpx client that connects only to checked addresses; `trust_env=False`, so no proxy
    (and no .netrc) from the environment is ever used."""
    transport = PinnedTransport(networks, resolver, verify=verify, limits=limits)
    return httpx.AsyncClient(transport=transport, trust_env=False)
