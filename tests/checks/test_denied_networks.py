"""Denied networks hold at connection time: one lookup, every address checked, the connection to
exactly a checked address, and no fallback when the lookup fails.

Real HTTP (and HTTPS) servers on loopback, real connections. Only the resolver is a test double:
127.0.0.2/32 is denied and stands in for the metadata range (a server listens there on the same
port as the allowed one on 127.0.0.1, so a connection that went to the wrong address would be seen),
and host names resolve to whatever each test's answers say.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from checks_support import self_signed

from releaseguard.api import parse_checks
from releaseguard.api.status import CheckResultKind as R
from releaseguard.contract import DENIED_NETWORKS_ENV
from releaseguard.probe.checks.base import CheckRunner
from releaseguard.probe.checks.http import HttpRunner
from releaseguard.probe.checks.prometheus import PrometheusRunner
from releaseguard.probe.checks.runner import prepare
from releaseguard.probe.checks.tcp import TcpRunner
from releaseguard.report import CheckReport

pytestmark = pytest.mark.slow

APP, METADATA = "127.0.0.1", "127.0.0.2"
DENIED = "127.0.0.2/32"
NAME = "shop.demo.svc"


class _Recorder(ThreadingHTTPServer):
    """A server that records every connection it accepts and every request's Host header."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.accepted: list[str] = []
        self.hosts: list[str] = []

    def get_request(self) -> tuple[Any, Any]:
        conn, peer = super().get_request()
        self.accepted.append(peer[0])
        return conn, peer


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hosts.append(self.headers.get("Host", ""))
        url = urlsplit(self.path)
        if url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", parse_qs(url.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body: dict[str, Any]
        if url.path == "/api/v1/query":
            body = {"status": "success", "data": {"resultType": "scalar", "result": [1700000000, "0"]}}
        else:
            body = {"ok": True, "server": str(self.server.server_address[0])}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _serve(server: _Recorder) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@dataclass
class Servers:
    app: _Recorder
    metadata: _Recorder
    port: int

    def url(self, host: str, path: str = "/ok", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


def _pair(wrap: ssl.SSLContext | None = None) -> tuple[_Recorder, _Recorder]:
    """The metadata stand-in on 127.0.0.2 and the app on 127.0.0.1, on one port."""
    for _ in range(50):
        metadata = _Recorder((METADATA, 0))
        try:
            app = _Recorder((APP, metadata.server_address[1]))
        except OSError:
            metadata.server_close()
            continue
        if wrap is not None:
            for server in (app, metadata):
                server.socket = wrap.wrap_socket(server.socket, server_side=True)
        return app, metadata
    pytest.fail("no port free on both 127.0.0.1 and 127.0.0.2")


@pytest.fixture
def servers() -> Iterator[Servers]:
    app, metadata = _pair()
    threads = [_serve(app), _serve(metadata)]
    yield Servers(app, metadata, app.server_address[1])
    for server in (app, metadata):
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join(5)


@dataclass
class Answers:
    """The resolver test double: each host's answers, one per lookup (the last one repeats); an
    exception is raised; a host it does not know fails as DNS does."""

    table: dict[str, list[list[str]] | Exception]
    calls: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        entry = self.table.get(host)
        if entry is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if isinstance(entry, Exception):
            raise entry
        return entry[min(self.calls.count(host), len(entry)) - 1]


async def run(checks: list[dict[str, Any]], resolver: Answers, denied: str = DENIED) -> dict[str, CheckReport]:
    """The checks, one after the other (so the lookups come in order), with `resolver` for DNS."""
    parsed = parse_checks({"checks": checks})
    ctx = prepare(parsed, environ={DENIED_NETWORKS_ENV: denied}, backoff_base=0.01)
    runners: dict[str, CheckRunner] = {
        "http": HttpRunner(resolver=resolver),
        "tcp": TcpRunner(resolver=resolver),
        "prometheus": PrometheusRunner(resolver=resolver),
    }
    try:
        return {check.name: await runners[check.type].run(check, ctx) for check in parsed}
    finally:
        await ctx.aclose()


def http(name: str, url: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "timeoutSeconds": 5, "http": {"url": url, **more}}


def tcp(name: str, host: str, port: int) -> dict[str, Any]:
    return {"name": name, "timeoutSeconds": 5, "tcp": {"host": host, "port": port}}


def prom(name: str, address: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "timeoutSeconds": 5, "prometheus": {"address": address, "query": "up", "lessThan": 1, **more}}


# --- rebinding -------------------------------------------------------------------------------


async def test_a_rebound_second_answer_is_never_reached(servers: Servers) -> None:
    """The name is looked up once per connection and the connection goes to that answer: a DNS
    server that answers 127.0.0.1 and then the metadata address never gets the request there."""
    web = Answers({"rebind.test": [[APP], [METADATA]]})
    got = await run([http("web", servers.url("rebind.test"), json=[{"path": "$.server", "equals": APP}])], web)
    assert got["web"].result is R.PASSED, got["web"].message
    assert web.calls == ["rebind.test"]
    assert servers.app.hosts == [f"rebind.test:{servers.port}"]  # the Host header keeps the name

    raw = Answers({"rebind.test": [[APP], [METADATA]]})
    got = await run([tcp("raw", "rebind.test", servers.port)], raw)
    assert got["raw"].result is R.PASSED, got["raw"].message
    assert raw.calls == ["rebind.test"]

    prometheus = Answers({"rebind.test": [[APP], [METADATA]]})
    got = await run([prom("prom", f"http://rebind.test:{servers.port}")], prometheus)
    assert got["prom"].result is R.PASSED, got["prom"].message
    assert prometheus.calls == ["rebind.test"]

    assert servers.app.accepted == [APP] * 3
    assert servers.metadata.accepted == []


async def test_every_new_connection_is_checked_again_so_a_later_rebinding_is_refused(servers: Servers) -> None:
    """Sampled http requests and repeated Prometheus measurements open new connections (the
    server closes each one): each looks up again, and the rebound answer is refused, not reached."""
    sampled = Answers({"rebind.test": [[APP], [METADATA]]})
    got = await run([http("sampled", servers.url("rebind.test"), samples={"count": 3})], sampled)
    check = got["sampled"]
    assert check.result is R.PASSED, check.message  # the check's own first request
    assert check.samples is not None and check.samples.outcomes == "eee"
    assert sampled.calls == ["rebind.test"] * 4

    measured = Answers({"rebind.test": [[APP], [METADATA]]})
    repeated = prom("prom", f"http://rebind.test:{servers.port}", count=2, intervalSeconds=1, consecutiveErrorLimit=0)
    got = await run([repeated], measured)
    assert got["prom"].measurements is not None and got["prom"].measurements.results == "PE"
    assert got["prom"].result is R.ERROR
    assert "measurement 2: prometheus http://rebind.test:" in got["prom"].message
    assert "not queried: rebind.test resolves to 127.0.0.2, which is in 127.0.0.2/32" in got["prom"].message
    assert measured.calls == ["rebind.test"] * 2

    assert servers.app.accepted == [APP] * 2
    assert servers.metadata.accepted == []


# --- denied answers, side by side with allowed ones -------------------------------------------


async def test_an_answer_with_any_denied_address_is_refused_and_an_allowed_one_passes(servers: Servers) -> None:
    answers = Answers({"app.test": [[APP]], "mixed.test": [[APP, METADATA]], "meta.test": [["::ffff:127.0.0.2"]]})
    port = servers.port
    got = await run(
        [
            http("allowed", servers.url("app.test")),
            http("mixed", servers.url("mixed.test")),
            http("mapped", servers.url("meta.test")),
            http("literal", servers.url(METADATA)),
            tcp("tcp-allowed", "app.test", port),
            tcp("tcp-mixed", "mixed.test", port),
            prom("prom-allowed", f"http://app.test:{port}"),
            prom("prom-mixed", f"http://mixed.test:{port}"),
        ],
        answers,
    )
    for name in ("allowed", "tcp-allowed", "prom-allowed"):
        assert got[name].result is R.PASSED, got[name].message
    denied = {name: got[name] for name in ("mixed", "mapped", "literal", "tcp-mixed", "prom-mixed")}
    for name, check in denied.items():
        assert (check.result, check.observed) == (R.ERROR, "denied destination"), (name, check)
        assert "a network the operator's policy denies to network checks" in check.message
    assert got["mixed"].message == (
        f"GET http://mixed.test:{port}/ok: not sent: mixed.test resolves to 127.0.0.2, which is in "
        "127.0.0.2/32, a network the operator's policy denies to network checks"
    )
    assert "meta.test resolves to ::ffff:127.0.0.2, which is in 127.0.0.2/32" in got["mapped"].message
    assert "not sent: 127.0.0.2 is in 127.0.0.2/32" in got["literal"].message
    assert got["tcp-mixed"].message.startswith(f"tcp mixed.test:{port}: not connected: mixed.test resolves to")
    assert got["prom-mixed"].message.startswith(f"prometheus http://mixed.test:{port}: not queried: mixed.test")
    assert servers.app.accepted == [APP] * 3  # the allowed checks only: a mixed answer is not used at all
    assert servers.metadata.accepted == []


async def test_a_failed_or_empty_lookup_is_an_error_and_nothing_connects(servers: Servers) -> None:
    """No fallback to the library's own lookup: `localhost` would reach the app on 127.0.0.1."""
    answers = Answers(
        {"app.test": [[APP]], "empty.test": [[]], "broken.test": RuntimeError("resolver crashed")}
    )  # localhost: not in the table, so it fails as DNS does
    port = servers.port
    got = await run(
        [
            http("allowed", servers.url("app.test")),
            http("failed", servers.url("localhost")),
            http("empty", servers.url("empty.test")),
            http("broken", servers.url("broken.test")),
            tcp("tcp-failed", "localhost", port),
            tcp("tcp-empty", "empty.test", port),
            prom("prom-failed", f"http://localhost:{port}"),
            prom("prom-empty", f"http://empty.test:{port}"),
        ],
        answers,
        denied="",  # even with nothing denied, a name is never left to the library to resolve
    )
    assert got["allowed"].result is R.PASSED, got["allowed"].message
    for name in ("failed", "empty", "broken", "tcp-failed", "tcp-empty", "prom-failed", "prom-empty"):
        assert (got[name].result, got[name].observed) == (R.ERROR, "DNS failure"), (name, got[name])
    assert got["failed"].message == (
        f"GET http://localhost:{port}/ok: DNS lookup of localhost failed: Name or service not known; nothing sent"
    )
    assert got["empty"].message.endswith("DNS lookup of empty.test returned no address; nothing sent")
    assert "DNS lookup of broken.test failed: resolver crashed" in got["broken"].message
    assert got["tcp-failed"].message.startswith(f"tcp localhost:{port}: DNS lookup of localhost failed")
    assert "not queried: DNS lookup of empty.test returned no address" in got["prom-empty"].message
    assert servers.app.accepted == [APP]
    assert servers.metadata.accepted == []


# --- redirects -------------------------------------------------------------------------------


async def test_a_redirect_into_a_denied_network_is_refused(servers: Servers) -> None:
    answers = Answers({"app.test": [[APP]], "meta.test": [[METADATA]], "other.test": [[APP]]})

    def via(target: str) -> str:
        return servers.url("app.test", f"/redirect?to={target}")

    got = await run(
        [
            http("to-allowed", via(servers.url("other.test")), followRedirects=True),
            http("to-name", via(servers.url("meta.test")), followRedirects=True),
            http("to-literal", via(servers.url(METADATA)), followRedirects=True),
        ],
        answers,
    )
    assert got["to-allowed"].result is R.PASSED, got["to-allowed"].message
    for name in ("to-name", "to-literal"):
        assert (got[name].result, got[name].observed) == (R.ERROR, "denied destination"), got[name]
    assert "not sent: meta.test resolves to 127.0.0.2, which is in 127.0.0.2/32" in got["to-name"].message
    assert "not sent: 127.0.0.2 is in 127.0.0.2/32" in got["to-literal"].message
    port = servers.port
    assert servers.app.hosts == [f"app.test:{port}", f"other.test:{port}", f"app.test:{port}", f"app.test:{port}"]
    assert servers.metadata.accepted == []


# --- TLS: SNI and verification stay on the name --------------------------------------------------


@dataclass
class TlsServers:
    app: _Recorder
    metadata: _Recorder
    port: int
    cert: Path
    sni: list[str | None]


@pytest.fixture
def tls_servers(tmp_path: Path) -> Iterator[TlsServers]:
    """HTTPS on 127.0.0.1 and 127.0.0.2 with a self-signed certificate naming only shop.demo.svc."""
    cert, key = self_signed(tmp_path, NAME)
    sni: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def record_sni(_sock: Any, name: str | None, _context: ssl.SSLContext) -> None:
        sni.append(name)

    context.sni_callback = record_sni
    app, metadata = _pair(context)
    threads = [_serve(app), _serve(metadata)]
    yield TlsServers(app, metadata, app.server_address[1], cert, sni)
    for server in (app, metadata):
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join(5)


async def test_tls_verifies_the_host_name_while_connecting_to_the_checked_address(tls_servers: TlsServers) -> None:
    port, ca = tls_servers.port, str(tls_servers.cert)
    answers = Answers({NAME: [[APP]], "other.demo.svc": [[APP]], "rebind.demo.svc": [[APP], [METADATA]]})

    def url(host: str) -> str:
        return f"https://{host}:{port}/ok"

    got = await run(
        [
            http("by-name", url(NAME), tls={"caFile": ca}),
            http("wrong-name", url("other.demo.svc"), tls={"caFile": ca}),
            http("server-name", url("other.demo.svc"), tls={"caFile": ca, "serverName": NAME}),
            http("rebind", url("rebind.demo.svc"), tls={"caFile": ca, "serverName": NAME}),
            http("metadata", url(METADATA), tls={"caFile": ca, "serverName": NAME}),
        ],
        answers,
    )
    assert got["by-name"].result is R.PASSED, got["by-name"].message
    # the certificate is checked against the URL's name, not skipped and not checked against the address
    assert (got["wrong-name"].result, got["wrong-name"].observed) == (R.FAILED, "TLS error")
    assert "other.demo.svc" in got["wrong-name"].message
    assert got["server-name"].result is R.PASSED, got["server-name"].message
    assert got["rebind"].result is R.PASSED, got["rebind"].message
    assert (got["metadata"].result, got["metadata"].observed) == (R.ERROR, "denied destination")
    assert tls_servers.sni == [NAME, "other.demo.svc", NAME, NAME]
    assert tls_servers.app.hosts == [f"{NAME}:{port}", f"other.demo.svc:{port}", f"rebind.demo.svc:{port}"]
    assert tls_servers.metadata.accepted == []
