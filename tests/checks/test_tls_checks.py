"""http checks over TLS: verification on by default, a CA file, skipping verification, SNI name."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from checks_support import probe, self_signed

from releaseguard.api.status import CheckResultKind as R

pytestmark = pytest.mark.slow

NAME = "shop.demo.svc"


class _Ok(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback whose self-signed certificate names only shop.demo.svc."""
    cert, key = self_signed(tmp_path_factory.mktemp("tls"), NAME)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/", cert
    server.shutdown()
    server.server_close()


async def test_tls_settings(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    report = await probe(
        [
            {"name": "default", "http": {"url": url}},
            {"name": "ca-wrong-name", "http": {"url": url, "tls": {"caFile": str(cert)}}},
            {"name": "ca-and-sni", "http": {"url": url, "tls": {"caFile": str(cert), "serverName": NAME}}},
            {"name": "insecure", "http": {"url": url, "tls": {"insecureSkipVerify": True}}},
        ]
    )
    got = {c.name: c for c in report.checks}
    assert (got["default"].result, got["default"].observed) == (R.FAILED, "TLS error")
    assert got["default"].message.startswith(f"GET {url}: TLS error: ")
    assert "certificate verify failed" in got["default"].message
    assert got["ca-wrong-name"].result is R.FAILED
    assert "127.0.0.1" in got["ca-wrong-name"].message
    assert got["ca-and-sni"].result is R.PASSED, got["ca-and-sni"].message
    assert got["insecure"].result is R.PASSED, got["insecure"].message
