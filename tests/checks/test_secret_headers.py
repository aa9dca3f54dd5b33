"""Secret header values: line breaks stripped, invalid values refused unseen, every form redacted,
dropped on a cross-origin redirect; env var names that cannot collide. Real servers on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from checks_support import probe

from releaseguard.api.spec import SecretKeySelector
from releaseguard.api.status import CheckResultKind as R
from releaseguard.errors import SpecInvalidError
from releaseguard.probe.checks import secret_env_name
from releaseguard.probe.checks.headers import Redactor

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-Planted-Value"


class _Handler(BaseHTTPRequestHandler):
    redirect_to: str | None = None

    def do_GET(self) -> None:
        if self.path.startswith("/hop") and self.server.redirect_to:  # type: ignore[attr-defined]
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)  # type: ignore[attr-defined]
            self.end_headers()
            return
        body = json.dumps({"headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(redirect_to: str | None = None) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.redirect_to = redirect_to  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def servers() -> Iterator[tuple[str, str]]:
    """(redirecting server, echo server on another port: another origin)."""
    echo, echo_url = _serve()
    hop, hop_url = _serve()
    hop.redirect_to = f"{echo_url}/echo"  # type: ignore[attr-defined]
    yield hop_url, echo_url
    for server in (hop, echo):
        server.shutdown()
        server.server_close()


REF = {"secretKeyRef": {"name": "shop-api", "key": "token"}}
VAR = secret_env_name(SecretKeySelector(name="shop-api", key="token"))


def _check(url: str, *assertions: dict[str, Any], follow: bool = False) -> dict[str, Any]:
    return {
        "name": "api",
        "http": {
            "url": url,
            "followRedirects": follow,
            "headers": [
                {"name": "X-Api-Key", "valueFrom": REF},
                {"name": "Authorization", "valueFrom": {"env": "TOKEN"}},
                {"name": "X-Plain", "value": "visible"},
            ],
            "json": list(assertions) or [{"path": "$.headers", "exists": True}],
        },
    }


async def test_a_trailing_newline_of_a_secret_is_stripped(servers: tuple[str, str]) -> None:
    _, echo = servers
    env = {VAR: SECRET + "\n", "TOKEN": "Bearer " + SECRET + "\r\n"}
    report = await probe([_check(f"{echo}/echo", {"path": "$.headers['x-api-key']", "equals": SECRET})], environ=env)
    assert report.check("api").result is R.PASSED, report.check("api").message
    assert SECRET not in report.to_json()


@pytest.mark.parametrize("bad", [SECRET + "\nX-Injected: 1", SECRET + "\x00", "päss-" + SECRET, "\x7f" + SECRET])
async def test_an_invalid_value_is_refused_before_sending_naming_the_header_not_the_value(
    servers: tuple[str, str], bad: str
) -> None:
    _, echo = servers
    with pytest.raises(SpecInvalidError) as caught:
        await probe([_check(f"{echo}/echo")], environ={VAR: bad, "TOKEN": "t"})
    text = str(caught.value) + repr(caught.value) + "".join(str(e) for e in caught.value.errors)
    assert "checks[0].http.headers[0].valueFrom" in text and "X-Api-Key" in text
    for form in (SECRET, bad, repr(bad), json.dumps(bad)):
        assert form not in text


async def test_secret_headers_are_dropped_on_a_cross_origin_redirect(servers: tuple[str, str]) -> None:
    hop, _ = servers
    report = await probe(
        [
            _check(
                f"{hop}/hop",
                {"path": "$.headers['x-api-key']", "exists": False},
                {"path": "$.headers.authorization", "exists": False},
                {"path": "$.headers['x-plain']", "equals": "visible"},
                follow=True,
            )
        ],
        environ={VAR: SECRET, "TOKEN": SECRET + "-2"},
    )
    assert report.check("api").result is R.PASSED, report.check("api").message


async def test_secret_headers_are_kept_on_a_same_origin_redirect() -> None:
    server, url = _serve()
    server.redirect_to = f"{url}/echo"  # type: ignore[attr-defined]
    try:
        report = await probe(
            [_check(f"{url}/hop", {"path": "$.headers['x-api-key']", "equals": SECRET}, follow=True)],
            environ={VAR: SECRET, "TOKEN": "t"},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert report.check("api").result is R.PASSED, report.check("api").message


async def test_every_form_of_a_secret_is_redacted(servers: tuple[str, str]) -> None:
    _, echo = servers
    tricky = 'q"uo\\te\tü' + SECRET
    report = await probe(
        [_check(f"{echo}/echo", {"path": "$.headers['x-api-key']", "equals": "something else"})],
        environ={VAR: SECRET, "TOKEN": SECRET},
    )
    assert report.check("api").result is R.FAILED
    assert SECRET not in report.to_json()
    redactor = Redactor()
    redactor.add(tricky)
    for form in (tricky, repr(tricky), json.dumps(tricky), json.dumps(tricky, ensure_ascii=False)):
        assert SECRET not in redactor.redact(f"value: {form}."), form


def test_secret_env_var_names_do_not_collide() -> None:
    pairs = [("a-b", "c"), ("a", "b-c"), ("a", "b.c"), ("a.b", "c"), ("tok", "Token"), ("tok", "token")]
    names = {secret_env_name(SecretKeySelector(name=n, key=k)) for n, k in pairs}
    assert len(names) == len(pairs)
    assert all(n.startswith("RG_SECRET_") and n.replace("_", "").isalnum() for n in names)
