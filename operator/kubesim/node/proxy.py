"""Byte pumps: a TCP forwarder (kube-proxy's userspace mode) and a small HTTP proxy that resolves
Service names (the no-root fallback, where pods cannot get a private /etc/hosts).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

log = logging.getLogger("kubesim.node.network")

Backend = tuple[str, int]
Picker = Callable[[], Backend | None]
# (host, namespace of the asking pod or None) -> address to connect to
Resolver = Callable[[str, str | None], str]


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError):
        pass


async def splice(
    a_reader: asyncio.StreamReader,
    a_writer: asyncio.StreamWriter,
    b_reader: asyncio.StreamReader,
    b_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways until both sides have finished, then close both."""
    try:
        await asyncio.gather(_pump(a_reader, b_writer), _pump(b_reader, a_writer))
    finally:
        for writer in (a_writer, b_writer):
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _abort_all(writers: set[asyncio.StreamWriter]) -> None:
    """Drop every open connection at once; the handlers then finish on their own."""
    for writer in list(writers):
        writer.transport.abort()


async def _shut(server: asyncio.Server | None, open_writers: set[asyncio.StreamWriter]) -> None:
    """Stop accepting, cut every open connection, and give the server a second to finish."""
    if server is None:
        return
    server.close()
    _abort_all(open_writers)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(server.wait_closed(), 1)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


class TcpForwarder:
    """Listens on host:port and hands each connection to the backend `pick()` chooses at that moment.

    With no backend, the connection is closed at once (the real kube-proxy rejects it)."""

    def __init__(self, host: str, port: int, pick: Picker) -> None:
        self.host, self.port, self.pick = host, port, pick
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port, reuse_address=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            backend = self.pick()
            if backend is None:
                await _close(writer)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*backend)
            except OSError as exc:
                log.debug("forward %s:%s -> %s:%s failed: %s", self.host, self.port, *backend, exc)
                await _close(writer)
                return
            self._open.add(up_writer)
            try:
                await splice(reader, writer, up_reader, up_writer)
            finally:
                self._open.discard(up_writer)
        finally:
            self._open.discard(writer)

    async def close(self) -> None:
        await _shut(self._server, self._open)
        self._server = None


class HttpProxy:
    """A forward HTTP proxy (absolute-form requests and CONNECT) on loopback that resolves names with
    `resolve`. The asking pod's namespace travels as the proxy user name (HTTP_PROXY=http://NS:kubesim@host:port),
    so short Service names resolve in that namespace. Each connection carries one request."""

    def __init__(self, resolve: Resolver, host: str = "127.0.0.1") -> None:
        self.resolve, self.host = resolve, host
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def url(self, namespace: str) -> str:
        # With a password too: urllib sends Proxy-Authorization only when both are there.
        return f"http://{namespace}:kubesim@{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            await self._serve(reader, writer)
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await _close(writer)
        finally:
            self._open.discard(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
        method, target, version = request_line.split(" ", 2)
        namespace: str | None = None
        headers: list[str] = []
        for line in header_lines:
            name, _, value = line.partition(":")
            lowered = name.strip().lower()
            if lowered == "proxy-authorization" and value.strip().lower().startswith("basic "):
                decoded = base64.b64decode(value.strip()[6:]).decode("utf-8", "replace")
                namespace = decoded.partition(":")[0] or None
            elif lowered not in ("proxy-authorization", "proxy-connection", "connection", "keep-alive"):
                headers.append(line)
        if method.upper() == "CONNECT":
            host, _, port = target.rpartition(":")
            up_reader, up_writer = await asyncio.open_connection(self.resolve(host.strip("[]"), namespace), int(port))
            self._open.add(up_writer)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            try:
                await splice(reader, writer, up_reader, up_writer)
            finally:
                self._open.discard(up_writer)
            return
        url = urlsplit(target)
        if url.scheme != "http" or not url.hostname:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await _close(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.resolve(url.hostname, namespace), url.port or 80)
        except OSError as exc:
            body = f"kubesim proxy: cannot connect to {url.hostname}:{url.port or 80}: {exc}\n".encode()
            writer.write(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await _close(writer)
            return
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        # One request per connection: the upstream closes after its answer, and so do we.
        forwarded = "\r\n".join([f"{method} {path} {version}", *headers, "Connection: close", "", ""])
        self._open.add(up_writer)
        try:
            up_writer.write(forwarded.encode("latin-1"))
            await up_writer.drain()
            await splice(reader, writer, up_reader, up_writer)
        finally:
            self._open.discard(up_writer)

    async def close(self) -> None:
        await _shut(self._server, self._open)
        self._server = None
