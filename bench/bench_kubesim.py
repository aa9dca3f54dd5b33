"""kubesim under load: 2,000 Deployments (controllers on, no kubelet) and 2,000 ReleaseVerifications.

Figures: creation throughput, list latency (median of repeated LISTs, JSON and Table), watch fan-out
to 10 watchers (median time for one change to reach all of them), and the server process's RSS.
The server runs as `python -m kubesim serve` in its own process so its RSS is its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
CRD = ROOT / "crds" / "releaseverifications.releaseguard.io.yaml"
N = int(os.environ.get("BENCH_KUBESIM_OBJECTS", "2000"))
WATCHERS = 10
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _deployment(i: int) -> dict[str, Any]:
    name = f"app-{i}"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": "app:1"}]},
            },
        },
    }


def _rv(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": f"rv-{i}"},
        "spec": {
            "targetRef": {"name": f"app-{i}"},
            "checks": [{"name": "health", "http": {"url": f"http://app-{i}:8080/healthz"}}],
        },
    }


async def _create_all(client: httpx.AsyncClient, path: str, objs: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    sem = asyncio.Semaphore(16)

    async def one(obj: dict[str, Any]) -> None:
        async with sem:
            r = await client.post(path, json=obj)
            r.raise_for_status()

    await asyncio.gather(*(one(o) for o in objs))
    return time.perf_counter() - start


async def _median_get(
    client: httpx.AsyncClient, path: str, n: int = 15, headers: dict[str, str] | None = None
) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        r = await client.get(path, headers=headers)
        r.raise_for_status()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def _fanout(url: str, rounds: int = 20) -> float:
    path = "/apis/releaseguard.io/v1alpha1/namespaces/default/releaseverifications"
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        rv = (await client.get(path, params={"limit": "1"})).json()["metadata"]["resourceVersion"]
        queues: list[asyncio.Queue[float]] = [asyncio.Queue() for _ in range(WATCHERS)]
        ready = asyncio.Event()
        connected = 0

        async def watcher(q: asyncio.Queue[float]) -> None:
            nonlocal connected
            params = {"watch": "true", "resourceVersion": rv, "fieldSelector": "metadata.name=rv-0"}
            async with (
                httpx.AsyncClient(base_url=url, timeout=None) as wc,
                wc.stream("GET", path, params=params) as resp,
            ):
                connected += 1
                if connected == WATCHERS:
                    ready.set()
                async for line in resp.aiter_lines():
                    if line and json.loads(line)["type"] == "MODIFIED":
                        q.put_nowait(time.perf_counter())

        tasks = [asyncio.create_task(watcher(q)) for q in queues]
        await asyncio.wait_for(ready.wait(), 30)
        await asyncio.sleep(0.2)
        spans = []
        for i in range(rounds):
            start = time.perf_counter()
            patch = {"metadata": {"labels": {"round": str(i)}}}
            r = await client.patch(f"{path}/rv-0", json=patch, headers={"Content-Type": "application/merge-patch+json"})
            r.raise_for_status()
            arrivals = [await asyncio.wait_for(q.get(), 10) for q in queues]
            spans.append(max(arrivals) - start)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return statistics.median(spans)


async def _run(url: str, pid: int) -> None:
    base_rss = _rss_mb(pid)
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        crd = yaml.safe_load(CRD.read_text())
        (await client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)).raise_for_status()
        t_dep = await _create_all(
            client, "/apis/apps/v1/namespaces/default/deployments", [_deployment(i) for i in range(N)]
        )
        t_rv = await _create_all(
            client, "/apis/releaseguard.io/v1alpha1/namespaces/default/releaseverifications", [_rv(i) for i in range(N)]
        )
        print(
            f"created {N} Deployments in {t_dep:.1f} s ({N / t_dep:.0f}/s), {N} ReleaseVerifications in {t_rv:.1f} s ({N / t_rv:.0f}/s)"
        )
        # let the controllers create their ReplicaSets and Pods before measuring
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pods = (await client.get("/api/v1/namespaces/default/pods")).json()["items"]
            if len(pods) >= N:
                break
            await asyncio.sleep(0.5)
        print(f"controllers settled: {len(pods)} pods, ReplicaSets for every Deployment")
        dep = await _median_get(client, "/apis/apps/v1/namespaces/default/deployments")
        rvs = await _median_get(client, "/apis/releaseguard.io/v1alpha1/namespaces/default/releaseverifications")
        table = await _median_get(
            client, "/apis/releaseguard.io/v1alpha1/namespaces/default/releaseverifications", headers={"Accept": TABLE}
        )
        one = await _median_get(client, "/apis/apps/v1/namespaces/default/deployments/app-7", n=50)
        sel = await _median_get(client, "/apis/apps/v1/namespaces/default/deployments?labelSelector=app%3Dapp-7")
    print(f"LIST {N} Deployments: median {dep * 1000:.0f} ms")
    print(f"LIST {N} ReleaseVerifications: median {rvs * 1000:.0f} ms (as Table: {table * 1000:.0f} ms)")
    print(
        f"LIST Deployments with a labelSelector (1 match): median {sel * 1000:.1f} ms; GET one: median {one * 1000:.2f} ms"
    )
    fan = await _fanout(url)
    print(
        f"watch fan-out to {WATCHERS} watchers: median {fan * 1000:.1f} ms from PATCH sent to the last watcher's event"
    )
    print(f"kubesim RSS: {_rss_mb(pid):.0f} MB (empty server: {base_rss:.0f} MB)")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-kubesim-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "kubesim",
            "serve",
            "--port",
            "0",
            "--kubeconfig",
            f"{tmp}/kubeconfig",
            "--no-kubelet",
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if not line.startswith("kubesim listening on "):
                raise RuntimeError(f"kubesim did not start: {line!r}")
            asyncio.run(_run(line.rsplit(" ", 1)[1], proc.pid))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
