"""kubesim's kubelet and Service network: how long a pod takes to run, and what a Service hop costs.

Figures (medians): create -> Running and create -> Succeeded for a one-line Python pod (with and
without private mount namespaces), and the round trip of a small TCP request to a pod directly and
through its Service's cluster IP.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from kubesim.apiserver.store import Store, StoreClusterAPI
from kubesim.node.images import ImageRegistry
from kubesim.node.kubelet import Kubelet
from kubesim.node.network import ServiceNetwork
from kubesim.node.runtime import can_isolate

PODS = 10
REQUESTS = 200
ECHO = (
    "import socketserver\n"
    "class E(socketserver.StreamRequestHandler):\n"
    "    def handle(self):\n"
    "        for line in self.rfile: self.wfile.write(line); self.wfile.flush()\n"
    "socketserver.ThreadingTCPServer(('0.0.0.0', 7000), E).serve_forever()\n"
)


def pod(name: str, script: str, **extra: Any) -> dict[str, Any]:
    container = {"name": "c", "image": "releaseguard:dev", "command": ["python", "-c", script], **extra}
    return {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"restartPolicy": "Never", "containers": [container]},
    }


async def until(fn: Any, limit: float = 30) -> Any:
    async with asyncio.timeout(limit):
        while True:
            if value := await fn():
                return value
            await asyncio.sleep(0.005)


async def pod_latency(isolate: bool, workdir: Path) -> tuple[float, float]:
    api = StoreClusterAPI(Store())
    kubelet = Kubelet(api, ImageRegistry.load(None), workdir, isolate=isolate)
    task = asyncio.create_task(kubelet.run())
    running, finished = [], []
    try:
        for i in range(PODS):
            name = f"p{i}"
            started = time.perf_counter()
            await api.create("v1", "pods", "default", pod(name, "import time; time.sleep(0.2)"))

            async def phase(name: str = name) -> str | None:
                found = await api.get("v1", "pods", "default", name)
                return ((found or {}).get("status") or {}).get("phase")

            await until(lambda: _is(phase, "Running", "Succeeded"))
            running.append(time.perf_counter() - started)
            await until(lambda: _is(phase, "Succeeded"))
            finished.append(time.perf_counter() - started - 0.2)
    finally:
        await kubelet.close()
        task.cancel()
    return statistics.median(running), statistics.median(finished)


async def _is(phase: Any, *wanted: str) -> bool:
    return await phase() in wanted


async def round_trips(host: str, port: int) -> float:
    reader, writer = await asyncio.open_connection(host, port)
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        writer.write(b"ping\n")
        await writer.drain()
        await reader.readline()
        times.append(time.perf_counter() - started)
    writer.close()
    return statistics.median(times)


async def connect_times(host: str, port: int) -> float:
    times = []
    for _ in range(50):
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"x\n")
        await reader.readline()
        times.append(time.perf_counter() - started)
        writer.close()
    return statistics.median(times)


async def service_hop(workdir: Path) -> dict[str, float]:
    api = StoreClusterAPI(Store())
    kubelet = Kubelet(api, ImageRegistry.load(None), workdir)
    network = ServiceNetwork(api)
    tasks = [asyncio.create_task(kubelet.run()), asyncio.create_task(network.run())]
    try:
        await api.create(
            "v1",
            "services",
            "default",
            {"metadata": {"name": "echo"}, "spec": {"selector": {"app": "echo"}, "ports": [{"port": 7000}]}},
        )
        await api.create(
            "v1", "pods", "default", pod("echo", ECHO, readinessProbe={"tcpSocket": {"port": 7000}, "periodSeconds": 1})
        )

        async def ready() -> dict[str, Any] | None:
            found = await api.get("v1", "pods", "default", "echo") or {}
            conditions = (found.get("status") or {}).get("conditions") or []
            return found if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) else None

        found = await until(ready)
        service = await api.get("v1", "services", "default", "echo")
        assert service is not None
        pod_ip, cluster_ip = found["status"]["podIP"], service["spec"]["clusterIP"]
        return {
            "direct round trip": await round_trips(pod_ip, 7000),
            "via Service round trip": await round_trips(cluster_ip, 7000),
            "direct connect+reply": await connect_times(pod_ip, 7000),
            "via Service connect+reply": await connect_times(cluster_ip, 7000),
        }
    finally:
        await kubelet.close()
        await network.close()
        for task in tasks:
            task.cancel()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-kubelet-") as tmp:
        root = Path(tmp)
        modes = [True, False] if can_isolate() else [False]
        for isolate in modes:
            running, finished = asyncio.run(pod_latency(isolate, root / f"pods-{isolate}"))
            label = "mount namespace" if isolate else "no isolation"
            print(f"pod create -> Running ({label}), median of {PODS}: {running * 1000:.0f} ms")
            print(
                f"pod create -> Succeeded minus its 0.2 s of work ({label}), median of {PODS}: {finished * 1000:.0f} ms"
            )
        for name, seconds in asyncio.run(service_hop(root / "svc")).items():
            print(f"{name}, median: {seconds * 1e6:.0f} us")


if __name__ == "__main__":
    main()
