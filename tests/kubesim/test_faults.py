"""Fault injection: each fault does what it says, set from KubeSim and from the serve CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kubesim.apiserver.faults import Faults, parse_cli
from kubesim.testing import KubeSim

pytestmark = pytest.mark.slow


def test_error_rate_by_verb_hits_only_that_verb(sim: KubeSim) -> None:
    sim.faults.error_rate = {"list": 1.0}
    sim.faults.error_code = 503
    listed = httpx.get(f"{sim.url}/api/v1/namespaces/default/configmaps")
    assert listed.status_code == 503 and listed.json()["kind"] == "Status"
    created = httpx.post(f"{sim.url}/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "ok"}})
    assert created.status_code == 201
    assert httpx.get(f"{sim.url}/api/v1").status_code == 200, "discovery is never faulted"
    proc = sim.kubectl("get", "configmaps", check=False)
    assert proc.returncode != 0
    sim.faults.clear()
    assert "ok" in sim.kubectl("get", "configmaps").stdout


def test_partial_error_rate_is_roughly_that_rate() -> None:
    faults = Faults(error_rate={"*": 0.3}, seed=7)
    hits = sum(faults.check("get") is not None for _ in range(2000))
    assert 450 < hits < 750


def test_conflicts_hit_writes_of_the_named_user_agents_only(sim: KubeSim) -> None:
    url = f"{sim.url}/api/v1/namespaces/default/configmaps"
    assert httpx.post(url, json={"metadata": {"name": "c"}}).status_code == 201
    sim.faults.conflict_rate = 1.0
    sim.faults.user_agents = ("operator/",)
    body = b'{"data": {"a": "b"}}'
    merge = {"Content-Type": "application/merge-patch+json"}
    mine = httpx.patch(f"{url}/c", content=body, headers={**merge, "User-Agent": "operator/1"})
    assert mine.status_code == 409 and mine.json()["reason"] == "Conflict"
    assert httpx.get(f"{url}/c", headers={"User-Agent": "operator/1"}).status_code == 200  # reads are not conflicts
    assert httpx.patch(f"{url}/c", content=body, headers=merge).status_code == 200  # another client is not faulted
    assert sim.faults.injected == {409: 1}


def test_latency_is_added_to_each_request(sim: KubeSim) -> None:
    sim.faults.latency_seconds = 0.3
    start = time.monotonic()
    assert httpx.get(f"{sim.url}/api/v1/namespaces/default/configmaps").status_code == 200
    assert time.monotonic() - start >= 0.3


def test_throttling_answers_429_with_retry_after(sim: KubeSim) -> None:
    sim.faults.throttle_rate = 1.0
    sim.faults.retry_after_seconds = 3
    resp = httpx.get(f"{sim.url}/apis/apps/v1/namespaces/default/deployments")
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "3"
    assert resp.json()["reason"] == "TooManyRequests" and resp.json()["details"]["retryAfterSeconds"] == 3


def test_watch_streams_are_cut_every_n_seconds(sim: KubeSim) -> None:
    sim.faults.watch_cut_seconds = 0.5
    start = time.monotonic()
    with httpx.stream(
        "GET", f"{sim.url}/api/v1/namespaces/default/configmaps", params={"watch": "true"}, timeout=10
    ) as resp:
        body = b"".join(resp.iter_bytes())
    elapsed = time.monotonic() - start
    assert 0.5 <= elapsed < 3, elapsed
    assert all(json.loads(line)["type"] != "ERROR" for line in body.splitlines() if line), (
        "a cut is a clean end of stream"
    )


def test_request_counts(sim: KubeSim) -> None:
    sim.reset_request_counts()
    sim.kubectl("get", "deployments")
    httpx.post(f"{sim.url}/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "c"}})
    counts = sim.request_counts()
    assert counts[("list", "deployments")] == 1
    assert counts[("create", "configmaps")] == 1


def test_cli_fault_specs() -> None:
    f = parse_cli(
        [
            "error-rate=get:0.5",
            "error-rate=1",
            "latency=0.1",
            "throttle=0.2",
            "retry-after=4",
            "watch-cut=5",
            "error-code=503",
        ],
        Faults(),
    )
    assert f.error_rate == {"get": 0.5, "*": 1.0}
    assert (f.latency_seconds, f.throttle_rate, f.retry_after_seconds, f.watch_cut_seconds, f.error_code) == (
        0.1,
        0.2,
        4,
        5.0,
        503,
    )
    with pytest.raises(ValueError, match="unknown fault"):
        parse_cli(["explode=1"], Faults())


def test_serve_cli_starts_fast_applies_faults_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    cmd = [
        sys.executable,
        "-m",
        "kubesim",
        "serve",
        "--port",
        "0",
        "--kubeconfig",
        str(kubeconfig),
        "--no-kubelet",
        "--fault",
        "error-rate=create:1",
    ]
    start = time.monotonic()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line.startswith("kubesim listening on http://127.0.0.1:"), line
            url = line.rsplit(" ", 1)[1]
            assert kubeconfig.exists() and url in kubeconfig.read_text()
            assert httpx.get(f"{url}/version").json()["major"] == "1"
            assert (
                httpx.post(f"{url}/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "x"}}).status_code
                == 500
            )
            assert time.monotonic() - start < 10
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
