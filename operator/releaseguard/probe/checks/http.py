"""The `http` check: one request, judged on status, latency, JSON fields and JSON Schema.

Connection refused, DNS failures, TLS failures and timeouts each get their own result and
message; header values never appear in anything this module returns (the runner redacts).
Every connection (each redirect hop's too) goes to an address resolved once and checked
against the operator's denied networks (probe.checks.pinned); a denied destination or a failed
lookup is Error and nothing is sent. `HttpRunner(resolver=...)` replaces the DNS lookup (tests);
`HttpRunner(transport=...)` replaces the whole network transport (tests pass an
`httpx.MockTransport`, which connects nowhere).
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx

from ...api.spec import Check, HttpCheck, JsonAssertion
from ...api.status import CheckResultKind
from ...jsonpath import find
from ...report import AttemptReport, CheckReport, SamplesReport

if TYPE_CHECKING:
    from ...core.baseline import SampleOutcome
from .base import BACKSTOP_SECONDS, RunContext, attempt, run_with_retries
from .destinations import DestinationError, LookupFailed, Resolver, system_resolver
from .matching import MatchTimeout, bounded_search

R = CheckResultKind


class HttpRunner:
    def __init__(self, transport: httpx.AsyncBaseTransport | None = None, resolver: Resolver = system_resolver) -> None:
        self.transport = transport
        self.resolver = resolver

    async def run(self, check: Check, ctx: RunContext) -> CheckReport:
        spec = check.http
        assert spec is not None
        client = _client(ctx, spec, self.transport, self.resolver)
        headers = ctx.headers.get(check.name, [])
        schema = _validator(spec.json_schema) if spec.json_schema is not None else None

        async def one(timing: list[float] | None = None) -> AttemptReport:
            return await http_attempt(
                client,
                spec,
                headers,
                check.timeout_seconds,
                schema,
                ctx.redactor.redact,
                ctx.redactor.is_secret,
                timing=timing,
            )

        report = await run_with_retries(check, ctx, one)
        if spec.samples is None:
            return report
        return await _with_samples(report, check, one)


async def _with_samples(
    report: CheckReport, check: Check, one: Callable[[list[float] | None], Awaitable[AttemptReport]]
) -> CheckReport:
    """`samples.count` more requests over `samples.intervalSeconds` (probe.checks.sampling's
    schedule), each judged by the check's own assertions: a pass is an ok sample, anything else an
    error. The check's result stays its first request's; the samples are for the baseline."""
    from ...core.baseline import SampleOutcome  # numpy, only for a sampled check
    from .sampling import collect_samples_async

    spec = check.http
    assert spec is not None and spec.samples is not None

    async def sample() -> tuple[float, SampleOutcome]:
        timing: list[float] = []
        began = time.perf_counter()
        try:
            async with asyncio.timeout(check.timeout_seconds + BACKSTOP_SECONDS):
                result: AttemptReport = await one(timing)
            ok = result.result is R.PASSED
        except Exception:  # a timeout or a bug: this sample's error, not the end of the sampling
            ok = False
        seconds = timing[0] if timing else time.perf_counter() - began
        return seconds * 1000, SampleOutcome.OK if ok else SampleOutcome.ERROR

    started = time.perf_counter()
    samples = await collect_samples_async(sample, spec.samples.count, spec.samples.interval_seconds)
    wire = SamplesReport(
        latencies_ms=[round(ms, 1) for ms in samples.latencies_ms],
        outcomes="".join("o" if o is SampleOutcome.OK else "e" for o in samples.outcomes),
    )
    duration = report.duration_seconds + time.perf_counter() - started
    return report.model_copy(update={"samples": wire, "duration_seconds": round(duration, 4)})


def _client(
    ctx: RunContext,
    spec: HttpCheck,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver = system_resolver,
) -> httpx.AsyncClient:
    """One pooled client per TLS setting (and transport and resolver), shared by every http check
    of the run; without a `transport`, one that connects only to checked addresses."""
    from .pinned import pinned_client

    tls = spec.tls
    key: tuple[Any, ...] = ("http", tls.insecure_skip_verify if tls else False, tls.ca_file if tls else None)
    key += (id(transport), id(resolver))
    client = ctx.resources.get(str(key))
    if client is None:
        verify: bool | ssl.SSLContext = True
        if tls is not None and tls.insecure_skip_verify:
            verify = False
        elif tls is not None and tls.ca_file:
            verify = ssl.create_default_context(cafile=tls.ca_file)
        limits = httpx.Limits(max_connections=max(ctx.parallelism * 2, 10), max_keepalive_connections=ctx.parallelism)
        if transport is None:
            client = pinned_client(ctx.denied_networks, resolver, verify=verify, limits=limits)
        else:
            client = httpx.AsyncClient(verify=verify, limits=limits, transport=transport)
        ctx.resources[str(key)] = client
    assert isinstance(client, httpx.AsyncClient)
    return client


Redact = Callable[[str], str]
IsSecret = Callable[[str], bool]
MAX_REDIRECTS = 20
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _keep(text: str) -> str:
    return text


def _nothing_secret(value: str) -> bool:
    return False


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


async def send_following_redirects(
    client: httpx.AsyncClient,
    spec: HttpCheck,
    headers: list[tuple[str, str]],
    seconds: float,
    extensions: dict[str, Any] | None,
    is_secret: IsSecret,
) -> httpx.Response:
    """The request, with redirects followed here rather than by httpx when `followRedirects` is
    set: once a redirect leaves the URL's origin (scheme, host, port), every header whose value
    came from a Secret, an env var or a file is dropped for good, as are credential headers.
    Each hop is a request of its own, so the client's transport checks its destination."""
    method, url, body = spec.method, httpx.URL(spec.url), spec.body
    origin = _origin(url)
    sent = list(headers)
    for _ in range(MAX_REDIRECTS + 1):
        response = await client.request(
            method, url, headers=sent, content=body, timeout=seconds, follow_redirects=False, extensions=extensions
        )
        location = response.headers.get("location")
        if not spec.follow_redirects or not response.is_redirect or location is None:
            return response
        await response.aclose()
        url = url.join(location)
        if _origin(url) != origin:
            sent = [(n, v) for n, v in sent if not is_secret(v) and n.lower() not in _CREDENTIAL_HEADERS]
        if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
            method, body = ("HEAD" if method == "HEAD" else "GET"), None
            sent = [(n, v) for n, v in sent if n.lower() not in ("content-type", "content-length")]
    raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=response.request)


def _validator(schema: dict[str, Any]) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema)


async def http_attempt(
    client: httpx.AsyncClient,
    spec: HttpCheck,
    headers: list[tuple[str, str]],
    seconds: float,
    schema: Any | None,
    redact: Redact = _keep,
    is_secret: IsSecret = _nothing_secret,
    timing: list[float] | None = None,
) -> AttemptReport:
    """One request. `redact` is applied to every sentence before anything is shortened, so no
    part of a secret survives a cut. `timing`, when given, receives the response's latency in
    seconds (until the response is in, before its body is judged)."""
    result = await _http_attempt(client, spec, headers, seconds, schema, redact, is_secret, timing)
    return result.model_copy(update={"message": redact(result.message), "observed": redact(result.observed)})


async def _http_attempt(
    client: httpx.AsyncClient,
    spec: HttpCheck,
    headers: list[tuple[str, str]],
    seconds: float,
    schema: Any | None,
    redact: Redact,
    is_secret: IsSecret,
    timing: list[float] | None = None,
) -> AttemptReport:
    what = f"{spec.method} {spec.url}"
    extensions = {"sni_hostname": spec.tls.server_name} if spec.tls and spec.tls.server_name else None
    started = time.perf_counter()
    try:
        response = await send_following_redirects(client, spec, headers, seconds, extensions, is_secret)
    except LookupFailed as exc:
        return attempt(R.ERROR, f"{what}: {exc}; nothing sent", exc.observed)
    except DestinationError as exc:
        return attempt(R.ERROR, f"{what}: not sent: {exc}", exc.observed)
    except httpx.HTTPError as exc:
        return _transport_failure(what, spec.url, exc, seconds, redact)
    latency = time.perf_counter() - started
    if timing is not None:
        timing.append(latency)
    code = response.status_code
    observed = f"HTTP {code} in {latency * 1000:.0f} ms"
    if code not in spec.expect_status:
        expected = " or ".join(str(s) for s in spec.expect_status)
        return attempt(R.FAILED, f"{what} -> {code} (expected {expected})", f"HTTP {code}")
    if spec.max_latency_ms is not None and latency * 1000 > spec.max_latency_ms:
        return attempt(
            R.FAILED,
            f"{what} -> {code} in {latency * 1000:.0f} ms (limit {spec.max_latency_ms} ms)",
            f"{latency:.3f}s",
        )
    if spec.json_assertions or schema is not None:
        try:
            document = json.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            kind = response.headers.get("content-type", "no content type")
            return attempt(R.FAILED, f"{what}: response body is not JSON ({kind}): {exc}", observed)
        try:
            # judged in a thread: a slow regex or a huge document must not stall other checks
            problems = await asyncio.to_thread(_body_problems, spec, schema, document, redact)
        except MatchTimeout as exc:
            return attempt(R.ERROR, f"{what}: a matches assertion gave up: {exc}", "regex timeout")
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            return attempt(R.FAILED, problems[0] + more, observed)
    return attempt(R.PASSED, f"{what} -> {code} in {latency * 1000:.0f} ms", observed)


def _body_problems(spec: HttpCheck, schema: Any | None, document: Any, redact: Redact) -> list[str]:
    problems = [p for a in spec.json_assertions for p in assertion_problems(a, document, redact)]
    if schema is not None:
        problems += schema_problems(schema, document, redact)
    return problems


def _transport_failure(what: str, url: str, exc: httpx.HTTPError, timeout: float, redact: Redact) -> AttemptReport:
    if isinstance(exc, httpx.ConnectTimeout):
        return attempt(R.FAILED, f"{what}: timed out after {timeout:g}s connecting", "timeout")
    if isinstance(exc, httpx.TimeoutException):
        return attempt(R.FAILED, f"{what}: no response within {timeout:g}s", "timeout")
    chain = _causes(exc)
    if any(isinstance(e, socket.gaierror) for e in chain) or "Name or service not known" in str(exc):
        host = httpx.URL(url).host
        return attempt(R.ERROR, f"{what}: DNS lookup of {host} failed: {redact(_root(chain))}", "DNS failure")
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in str(exc):
        return attempt(R.FAILED, f"{what}: connection refused", "connection refused")
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return attempt(R.FAILED, f"{what}: TLS error: {redact(_root(chain))}", "TLS error")
    if isinstance(exc, httpx.ConnectError):
        return attempt(R.FAILED, f"{what}: cannot connect: {redact(_root(chain))}", "connection failed")
    if isinstance(exc, httpx.RemoteProtocolError):
        return attempt(R.FAILED, f"{what}: server broke the protocol: {redact(_root(chain))}", "protocol error")
    if isinstance(exc, httpx.TooManyRedirects):
        return attempt(R.FAILED, f"{what}: too many redirects", "redirects")
    return attempt(R.ERROR, f"{what}: request failed: {type(exc).__name__}: {redact(_root(chain))}", "request error")


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _root(chain: list[BaseException]) -> str:
    for exc in reversed(chain):
        if str(exc):
            return str(exc)
    return type(chain[0]).__name__


# --- judging the body (pure) -----------------------------------------------------------------


def show(value: Any, redact: Redact = _keep, limit: int = 60) -> str:
    text = redact(json.dumps(value, ensure_ascii=False, default=str))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def assertion_problems(assertion: JsonAssertion, document: Any, redact: Redact = _keep) -> list[str]:
    """One sentence per way `document` breaks `assertion`, each naming a concrete location."""
    matches = find(assertion.path, document)
    op = assertion.operator
    if op == "exists":
        if assertion.exists and not matches:
            return [f"{assertion.path}: expected to exist, not found"]
        if not assertion.exists and matches:
            return [f"{matches[0].location}: expected not to exist, found {show(matches[0].value, redact)}"]
        return []
    if not matches:
        return [f"{assertion.path}: not found"]
    problems = []
    for match in matches:
        got = match.value
        if op == "equals" and not _same(got, assertion.equals):
            problems.append(f"{match.location}: expected {show(assertion.equals, redact)}, got {show(got, redact)}")
        elif op == "matches" and not bounded_search(
            assertion.matches or "", got if isinstance(got, str) else json.dumps(got)
        ):
            problems.append(f"{match.location}: {show(got, redact)} does not match /{assertion.matches}/")
        elif op == "oneOf" and not any(_same(got, option) for option in assertion.one_of or []):
            problems.append(
                f"{match.location}: expected one of {show(assertion.one_of, redact)}, got {show(got, redact)}"
            )
    return problems


def _same(a: Any, b: Any) -> bool:
    # In JSON true is not 1, though Python says True == 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}


def json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def schema_problems(validator: Any, document: Any, redact: Redact = _keep) -> list[str]:
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    out = []
    for error in errors:
        location = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        if error.validator == "type":
            expected = error.validator_value
            wanted = " or ".join(expected) if isinstance(expected, list) else str(expected)
            out.append(f"{location}: expected {wanted}, got {json_type(error.instance)}")
        else:
            out.append(f"{location}: {redact(error.message)}")
    return out
