"""Toxiproxy (github.com/Shopify/toxiproxy, built by `make toxiproxy` into .cache/toxiproxy/) as a
TCP fault proxy in front of one upstream on loopback, driven through its HTTP API.

    with FaultProxy.start(upstream_port=6443) as proxy:
        proxy.add_latency(20)             # ms on every answer
        proxy.cut_every(3.0)              # every connection through it cut every 3 s
        ... clients dial 127.0.0.1:proxy.port ...

The proxy passes TCP through: TLS stays end to end between the client and the upstream. Its API
and its listener bind 127.0.0.1 only; `stop()` leaves no process or port behind, and the server
dies with the process that started it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kubesim.real.controlplane import REPO, _die_with_parent, free_port

TOXIPROXY_VERSION_FILE = REPO / "tools" / "toxiproxy" / "VERSION"
PROXY = "upstream"


class FaultProxyError(RuntimeError):
    """Toxiproxy could not be found, started or driven; the message names the step."""


def toxiproxy_binary() -> Path:
    """Where `make toxiproxy` puts the server (`KUBESIM_TOXIPROXY` overrides)."""
    override = os.environ.get("KUBESIM_TOXIPROXY")
    if override:
        return Path(override)
    version = TOXIPROXY_VERSION_FILE.read_text().strip()
    return REPO / ".cache" / "toxiproxy" / version / "bin" / "toxiproxy-server"


@dataclass
class FaultProxy:
    upstream_port: int
    binary: Path | None = None
    api_port: int = field(init=False, default=0)
    port: int = field(init=False, default=0)
    cuts: int = field(init=False, default=0)
    _popen: subprocess.Popen[bytes] | None = field(init=False, default=None)
    _api: httpx.Client | None = field(init=False, default=None)
    _log: Path | None = field(init=False, default=None)
    _cutter: threading.Thread | None = field(init=False, default=None)
    _cutting: threading.Event = field(init=False, default_factory=threading.Event)

    @classmethod
    @contextlib.contextmanager
    def start(cls, upstream_port: int, binary: Path | None = None) -> Iterator[FaultProxy]:
        proxy = cls(upstream_port, binary)
        try:
            proxy.launch()
        except BaseException:
            proxy.stop()
            raise
        try:
            yield proxy
        finally:
            proxy.stop()

    def launch(self, timeout: float = 15.0) -> None:
        binary = self.binary or toxiproxy_binary()
        if not os.access(binary, os.X_OK):
            raise FaultProxyError(f"step 'find toxiproxy-server' failed: {binary} missing; run 'make toxiproxy'")
        self.api_port, self.port = free_port(), free_port()
        fd, log = tempfile.mkstemp(prefix="toxiproxy-", suffix=".log")
        self._log = Path(log)
        with os.fdopen(fd, "wb") as out:
            self._popen = subprocess.Popen(
                [str(binary), "-host", "127.0.0.1", "-port", str(self.api_port), "-seed", "11"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self._api = httpx.Client(base_url=f"http://127.0.0.1:{self.api_port}", timeout=5.0)
        deadline = time.monotonic() + timeout
        while True:
            if self._popen.poll() is not None:
                raise FaultProxyError(
                    f"step 'start toxiproxy-server' failed: it exited {self._popen.returncode}:\n{self.log()}"
                )
            try:
                self._api.get("/version").raise_for_status()
                break
            except httpx.HTTPError as exc:
                if time.monotonic() > deadline:
                    raise FaultProxyError(f"step 'wait for toxiproxy-server' failed: {exc}") from None
                time.sleep(0.05)
        self._call(
            "post",
            "/proxies",
            {
                "name": PROXY,
                "listen": f"127.0.0.1:{self.port}",
                "upstream": f"127.0.0.1:{self.upstream_port}",
                "enabled": True,
            },
        )

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self._api is not None
        response = self._api.request(method, path, json=body)
        if response.status_code >= 300:
            raise FaultProxyError(f"step '{method.upper()} {path}' failed: HTTP {response.status_code} {response.text}")
        return response.json() if response.content else None

    # ---- faults ---------------------------------------------------------------------------

    def add_latency(self, milliseconds: int, jitter: int = 0, stream: str = "downstream") -> None:
        """Delay every chunk of data toward the client by `milliseconds` (± `jitter`)."""
        toxic = {"name": f"latency_{stream}", "type": "latency", "stream": stream, "toxicity": 1.0}
        self._call(
            "post", f"/proxies/{PROXY}/toxics", {**toxic, "attributes": {"latency": milliseconds, "jitter": jitter}}
        )

    def toxics(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("get", f"/proxies/{PROXY}/toxics")
        return found

    def set_enabled(self, enabled: bool) -> None:
        """Disabled, the proxy closes every connection through it and refuses new ones."""
        self._call("post", f"/proxies/{PROXY}", {"enabled": enabled})

    def cut(self, down_seconds: float = 0.2) -> None:
        """Cut every connection now (watch streams included); refuse connections for `down_seconds`."""
        self.set_enabled(False)
        self.cuts += 1
        time.sleep(down_seconds)
        self.set_enabled(True)

    def cut_every(self, seconds: float, down_seconds: float = 0.2) -> None:
        """From now on, `cut()` every `seconds` in a background thread, until `clear()` or `stop()`."""
        self._stop_cutting()
        self._cutting.clear()

        def run() -> None:
            while not self._cutting.wait(seconds):
                with contextlib.suppress(FaultProxyError, httpx.HTTPError):
                    self.cut(down_seconds)

        self._cutter = threading.Thread(target=run, name="toxiproxy-cutter", daemon=True)
        self._cutter.start()

    def _stop_cutting(self) -> None:
        self._cutting.set()
        if self._cutter is not None:
            self._cutter.join(10)
            self._cutter = None

    def clear(self) -> None:
        """No more cuts and no toxics: a transparent proxy again."""
        self._stop_cutting()
        self.set_enabled(True)
        for toxic in self.toxics():
            self._call("delete", f"/proxies/{PROXY}/toxics/{toxic['name']}")

    # ---- stop -----------------------------------------------------------------------------

    def log(self) -> str:
        return self._log.read_text(errors="replace")[-2000:] if self._log and self._log.exists() else ""

    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None and self._popen.poll() is None else None

    def stop(self) -> None:
        self._stop_cutting()
        if self._api is not None:
            self._api.close()
            self._api = None
        if self._popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, signal.SIGTERM)
            try:
                self._popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._popen.pid, signal.SIGKILL)
                self._popen.wait(timeout=5)
            self._popen = None
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
