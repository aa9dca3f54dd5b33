"""Probe runner speed: start-up to first request, and HTTP check throughput versus bare httpx.

1. `releaseguard probe` start-up: from spawning the process to the first request reaching a
   loopback server (import time plus parsing), median of several runs; goal < 0.5 s.
2. Throughput: N http checks against the sample shop app, run by the runner, versus a bare
   httpx.AsyncClient loop doing the same requests at the same concurrency, alternated in the same
   run; goal: runner / bare >= 0.8.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "releaseguard"
STARTUP_RUNS = 11
REQUESTS = 1000
CONCURRENCY = 8
ROUNDS = 5


class _FirstRequest(ThreadingHTTPServer):
    daemon_threads = True
    seen_at: float | None = None
    seen = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, _FirstRequest)
        if server.seen_at is None:
            server.seen_at = time.monotonic()
            server.seen.set()
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def startup_seconds() -> list[float]:
    figures = []
    for _ in range(STARTUP_RUNS):
        server = _FirstRequest(("127.0.0.1", 0), _Handler)
        server.seen = threading.Event()
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        checks = {"checks": [{"name": "first", "http": {"url": f"http://127.0.0.1:{server.server_address[1]}/"}}]}
        started = time.monotonic()
        done = subprocess.run(
            [str(EXE), "probe", "--checks-json", json.dumps(checks)], capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0 or server.seen_at is None:
            raise RuntimeError(f"probe run failed ({done.returncode}): {done.stderr[-500:]}")
        figures.append(server.seen_at - started)
        server.shutdown()
        server.server_close()
    return figures


def bare_interpreter_seconds() -> float:
    runs = []
    for _ in range(5):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        runs.append(time.monotonic() - started)
    return statistics.median(runs)


def start_shop() -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "examples" / "shop"), "SHOP_RELEASE": "good", "PORT": "0"}
    process = subprocess.Popen([sys.executable, "-m", "shop"], env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError("the shop did not start")
    return process, line.split()[-1]


async def runner_round(url: str) -> float:
    from releaseguard.api import Check
    from releaseguard.probe.checks import run_checks

    checks = [Check.model_validate({"name": f"c{i}", "http": {"url": url}}) for i in range(REQUESTS)]
    started = time.perf_counter()
    report = await run_checks(checks, parallelism=CONCURRENCY)
    elapsed = time.perf_counter() - started
    if report.summary.passed != REQUESTS:
        raise RuntimeError(f"runner round: {report.message}")
    return REQUESTS / elapsed


async def bare_round(url: str) -> float:
    import httpx

    semaphore = asyncio.Semaphore(CONCURRENCY)
    started = time.perf_counter()
    async with httpx.AsyncClient() as client:

        async def one() -> int:
            async with semaphore:
                response = await client.get(url, timeout=10)
                return response.status_code

        codes = await asyncio.gather(*(one() for _ in range(REQUESTS)))
    elapsed = time.perf_counter() - started
    if any(code != 200 for code in codes):
        raise RuntimeError("bare round: a request failed")
    return REQUESTS / elapsed


def throughput() -> tuple[float, float]:
    shop, base = start_shop()
    url = base + "/healthz"
    try:
        runner: list[float] = []
        bare: list[float] = []
        asyncio.run(bare_round(url))  # warm-up: imports, the shop's first threads
        for _ in range(ROUNDS):
            bare.append(asyncio.run(bare_round(url)))
            runner.append(asyncio.run(runner_round(url)))
    finally:
        shop.terminate()
        shop.wait(timeout=10)
        if shop.stdout is not None:
            shop.stdout.close()
    return statistics.median(runner), statistics.median(bare)


def main() -> None:
    figures = startup_seconds()
    median = statistics.median(figures)
    print(
        f"probe start-up to first request: median {median * 1000:.0f} ms over {len(figures)} runs "
        f"(min {min(figures) * 1000:.0f}, max {max(figures) * 1000:.0f}); goal < 500 ms "
        f"[{'ok' if median < 0.5 else 'MISSED'}]"
    )
    print(f"  for scale: a bare `python -c pass` takes {bare_interpreter_seconds() * 1000:.0f} ms")
    runner, bare = throughput()
    ratio = runner / bare
    print(
        f"http throughput, {REQUESTS} requests at concurrency {CONCURRENCY}, median of {ROUNDS} rounds: "
        f"runner {runner:.0f} req/s, bare httpx.AsyncClient {bare:.0f} req/s, ratio {ratio:.2f}; goal >= 0.8 "
        f"[{'ok' if ratio >= 0.8 else 'MISSED'}]"
    )


if __name__ == "__main__":
    main()
