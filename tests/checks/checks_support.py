"""Helpers and fixtures for the check tests: the sample shop app on loopback, a fresh venv, a real Prometheus.

A uniquely named module (not conftest) so that tests can import helpers from it while other test
folders have conftest.py files of their own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from releaseguard.api import parse_checks
from releaseguard.probe.checks import run_checks
from releaseguard.report import ProbeReport
from support import eventually, free_port
from system_tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
SHOP_DIR = ROOT / "examples" / "shop"


async def probe(checks: list[dict[str, Any]], **kwargs: Any) -> ProbeReport:
    """Parse checks as the CLI does and run them with a short backoff."""
    kwargs.setdefault("backoff_base", 0.01)
    return await run_checks(parse_checks({"checks": checks}), **kwargs)


@dataclass
class Shop:
    url: str
    process: subprocess.Popen[str]


def start_shop(release: str, **env: str) -> Shop:
    environ = {**os.environ, "PYTHONPATH": str(SHOP_DIR), "SHOP_RELEASE": release, "PORT": "0", **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "shop"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # the app prints one line once it accepts connections, or dies
    if not line.startswith("listening on "):
        process.kill()
        _, err = process.communicate(timeout=10)
        raise RuntimeError(f"shop release {release} did not start: {err.strip()}")
    return Shop(line.split()[-1], process)


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


@pytest.fixture(scope="session")
def shops() -> Iterator[Callable[..., str]]:
    """shops(release) -> base URL of a shared server of that release (not for the flaky one)."""
    running: dict[tuple[str, tuple[tuple[str, str], ...]], Shop] = {}

    def get(release: str, **env: str) -> str:
        key = (release, tuple(sorted(env.items())))
        if key not in running:
            running[key] = start_shop(release, **env)
        return running[key].url

    yield get
    for shop in running.values():
        stop(shop.process)


@pytest.fixture
def fresh_shop() -> Iterator[Callable[..., str]]:
    """A server of its own, for releases whose answers depend on call order (flaky)."""
    started: list[Shop] = []

    def start(release: str, **env: str) -> str:
        started.append(start_shop(release, **env))
        return started[-1].url

    yield start
    for shop in started:
        stop(shop.process)


# --- a fresh virtual environment without our package -----------------------------------------


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The interpreter of a fresh venv holding pytest only: no releaseguard, pydantic, httpx or PyYAML."""
    venv = tmp_path_factory.mktemp("target-image") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "pytest"],
        check=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    absent = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util as u; print([m for m in ('releaseguard', 'pydantic', 'httpx', 'yaml') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert absent.stdout.strip() == "[]", f"the bare venv has {absent.stdout.strip()}"
    return str(python)


# --- a real Prometheus -----------------------------------------------------------------------


@dataclass
class Prometheus:
    url: str
    shop_url: str


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bytes(response.read())
    except OSError:
        return None


@contextmanager
def running_prometheus(targets: list[tuple[str, dict[str, str]]]) -> Iterator[str]:
    """A real Prometheus on loopback scraping `targets` (base URL, extra labels) every second;
    yields its URL once it holds a sample of each."""
    binary = require_tool("prometheus")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="rg-prometheus-") as tmp:
        config = Path(tmp) / "prometheus.yml"
        static = []
        for url, labels in targets:
            extra = f", labels: {json.dumps(labels)}" if labels else ""
            static.append(f"{{targets: ['{url.removeprefix('http://')}']{extra}}}")
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"scrape_configs:\n  - job_name: shop\n    static_configs: [{', '.join(static)}]\n"
        )
        log = open(Path(tmp) / "prometheus.log", "w")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp}/data",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:

            def ready() -> bool:
                if process.poll() is not None:
                    log.flush()
                    tail = (Path(tmp) / "prometheus.log").read_text()[-2000:]
                    raise RuntimeError(f"prometheus exited with {process.returncode}:\n{tail}")
                return _get(url + "/-/ready") is not None

            eventually(ready, what="Prometheus to be ready")
            query = url + "/api/v1/query?query=count(up%3D%3D1)"
            wanted = f'"{len(targets)}"]'.encode()
            eventually(lambda: wanted in (_get(query) or b""), what="a scraped sample of every target")
            query = url + "/api/v1/query?query=shop_http_requests_total"
            eventually(lambda: b'"result":[{' in (_get(query) or b""), what="a scraped sample of the shop")
            yield url
        finally:
            stop(process)
            log.close()


@pytest.fixture(scope="session")
def prometheus(shops: Callable[..., str]) -> Iterator[Prometheus]:
    shop_url = shops("good")
    for _ in range(3):
        _get(shop_url + "/healthz")
    with running_prometheus([(shop_url, {})]) as url:
        yield Prometheus(url, shop_url)


# The pod-template hashes the revisions' Prometheus labels its targets with.
GOOD_HASH, BAD_HASH, TWIN_HASH = "aaa111", "bbb222", "ccc333"


@pytest.fixture(scope="session")
def revisions_prometheus(shops: Callable[..., str]) -> Iterator[Prometheus]:
    """A real Prometheus scraping three shops as three revisions' pods, told apart by a
    pod_template_hash label: GOOD_HASH and TWIN_HASH (release good), BAD_HASH (error500). Each
    served 5 orders before the first scrape."""
    good, bad, twin = shops("good", SHOP_NAME="rev-good"), shops("error500"), shops("good", SHOP_NAME="rev-twin")
    for url in (good, bad, twin):
        for _ in range(5):
            _get(url + "/api/orders")
    targets = [(good, {"pod_template_hash": GOOD_HASH}), (bad, {"pod_template_hash": BAD_HASH})]
    with running_prometheus([*targets, (twin, {"pod_template_hash": TWIN_HASH})]) as url:
        yield Prometheus(url, good)


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) naming only `name`, made by openssl in `folder`."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key
