"""Services end to end: cluster IPs on loopback, forwarding to Ready pods, names from inside pods
(private /etc/hosts as root; the HTTP proxy in the no-root fallback)."""

from __future__ import annotations

import asyncio
import os
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim.apiserver.store import Store, StoreClusterAPI
from kubesim.node.images import ImageRegistry
from kubesim.node.kubelet import Kubelet
from kubesim.node.network import ServiceNetwork
from kubesim.testing import KubeSim
from support import eventually

PY = "releaseguard:dev"

pytestmark = pytest.mark.slow

# Answers every HTTP request with the pod's name; a raw TCP echo on 5432 for the "database".
NAMED_SERVER = (
    "import os, socketserver, http.server\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = os.environ['HOSTNAME'].encode()\n"
    "        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def log_message(self, *args): pass\n"
    "http.server.ThreadingHTTPServer(('0.0.0.0', 8080), H).serve_forever()\n"
)
ECHO_SERVER = (
    "import socketserver\n"
    "class E(socketserver.StreamRequestHandler):\n"
    "    def handle(self): self.wfile.write(b'pg:' + self.rfile.readline())\n"
    "socketserver.ThreadingTCPServer(('0.0.0.0', 5432), E).serve_forever()\n"
)
CLIENT = (
    "import socket, urllib.request\n"
    "names = [urllib.request.urlopen('http://web.{ns}.svc.cluster.local/', timeout=5).read().decode() for _ in range(4)]\n"
    "print(' '.join(sorted(set(names))))\n"
    "print(urllib.request.urlopen('http://web/', timeout=5).read().decode() in names)\n"
    "s = socket.create_connection(('postgres.{ns}.svc', 5432), timeout=5); s.sendall(b'ping\\n')\n"
    "print(s.recv(100).decode().strip())\n"
)


def pod(name: str, script: str, labels: dict[str, str], port: int | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": PY, "command": ["python", "-c", script]}
    if port:
        container["ports"] = [{"name": "serve", "containerPort": port}]
        container["readinessProbe"] = {"tcpSocket": {"port": "serve"}, "periodSeconds": 1}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [container], **spec},
    }


def service(name: str, selector: dict[str, str], port: int, target: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector, "ports": [{"name": "p", "port": port, "targetPort": target}]},
    }


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    with KubeSim(tmp_path_factory.mktemp("kubesim")) as server:
        yield server


def get(sim: KubeSim, ns: str, plural: str, name: str) -> dict[str, Any] | None:
    assert sim.server is not None
    api = sim.server.api
    return sim.call(lambda: api.get("v1", plural, ns, name))


def test_service_reached_by_name_from_a_pod_round_robin_and_raw_tcp(sim: KubeSim) -> None:
    ns = "k2-net"
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        service("web", {"app": "web"}, 80, "serve"),
        service("postgres", {"app": "pg"}, 5432, 5432),
        pod("web-a", NAMED_SERVER, {"app": "web"}, 8080),
        pod("web-b", NAMED_SERVER, {"app": "web"}, 8080),
        pod("pg", ECHO_SERVER, {"app": "pg"}, 5432),
    ]
    sim.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump_all(objects))
    web = eventually(
        lambda: (s := get(sim, ns, "services", "web")) and s["spec"].get("clusterIP") and s,
        what="a cluster IP",
        interval=0.02,
    )
    ip = web["spec"]["clusterIP"]
    assert ip.startswith("127.96.")

    def ready(name: str) -> bool:
        found = get(sim, ns, "pods", name) or {}
        return any(
            c["type"] == "Ready" and c["status"] == "True" for c in (found.get("status") or {}).get("conditions") or []
        )

    eventually(lambda: all(ready(n) for n in ("web-a", "web-b", "pg")), what="the backends to be Ready", interval=0.02)
    # From the test process, by cluster IP: both replicas answer in turn.
    seen = {urllib.request.urlopen(f"http://{ip}/", timeout=5).read().decode() for _ in range(4)}
    assert seen == {"web-a", "web-b"}
    # From a pod, by DNS name, with nothing but the standard library.
    client = pod("client", CLIENT.format(ns=ns), {"app": "client"}, restartPolicy="Never")
    sim.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(client))
    eventually(
        lambda: ((get(sim, ns, "pods", "client") or {}).get("status") or {}).get("phase") in ("Succeeded", "Failed"),
        what="the client to finish",
        interval=0.02,
    )
    logs = sim.kubectl("logs", "-n", ns, "client").stdout.splitlines()
    assert logs == ["web-a web-b", "True", "pg:ping"], logs


def test_listeners_follow_service_changes_and_unready_pods_get_no_traffic(sim: KubeSim) -> None:
    ns = "k2-net2"
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        service("svc", {"app": "one"}, 81, 8080),
        pod("one", NAMED_SERVER, {"app": "one"}, 8080),
        # Listening, but never Ready: its probe checks a port nobody serves.
        {
            **pod("never", NAMED_SERVER, {"app": "one"}, 8080),
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "image": PY,
                        "command": ["python", "-c", NAMED_SERVER],
                        "readinessProbe": {"tcpSocket": {"port": 9}, "periodSeconds": 1},
                    }
                ]
            },
        },
    ]
    sim.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump_all(objects))
    ip = eventually(
        lambda: ((get(sim, ns, "services", "svc") or {}).get("spec") or {}).get("clusterIP"),
        what="a cluster IP",
        interval=0.02,
    )

    def answer(port: int) -> str | None:
        try:
            return urllib.request.urlopen(f"http://{ip}:{port}/", timeout=2).read().decode()
        except OSError:
            return None

    eventually(lambda: answer(81) == "one", what="the service to answer", interval=0.02)
    assert {answer(81) for _ in range(4)} == {"one"}
    changed = service("svc", {"app": "one"}, 82, 8080)
    changed["spec"]["clusterIP"] = ip
    sim.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(changed))
    eventually(lambda: answer(82) == "one", what="the new port to answer", interval=0.02)
    eventually(lambda: answer(81) is None, what="the old port to close", interval=0.02)
    sim.kubectl("delete", "service", "-n", ns, "svc")
    eventually(lambda: answer(82) is None, what="the listener to go with the Service", interval=0.02)


async def test_without_mount_namespaces_pods_reach_services_over_http_via_the_proxy(tmp_path: Path) -> None:
    """The no-root fallback, forced: nothing mounted, HTTP_PROXY resolves names, log tail as message."""
    api = StoreClusterAPI(Store())
    kubelet = Kubelet(api, ImageRegistry.load(None), tmp_path / "kubelet", isolate=False)
    network = ServiceNetwork(api)
    tasks = [asyncio.create_task(kubelet.run()), asyncio.create_task(network.run())]
    try:
        await api.create("v1", "services", "default", service("web", {"app": "web"}, 80, 8080))
        # No scheduler here: the pods name the node themselves, as a pod may.
        await api.create("v1", "pods", "default", pod("web", NAMED_SERVER, {"app": "web"}, 8080, nodeName="kubesim"))
        fetch = (
            "import urllib.request, httpx; print(urllib.request.urlopen('http://web/', timeout=5).read().decode()); "
            "print(httpx.get('http://web.default.svc/').text)"
        )
        client = pod("client", fetch, {"app": "client"}, restartPolicy="Never", nodeName="kubesim")
        client["spec"]["containers"][0]["env"] = [{"name": "GREETING", "value": "hi"}]

        async def until(fn: Callable[[], Any], what: str) -> Any:
            try:
                async with asyncio.timeout(20):
                    while True:
                        if value := await fn():
                            return value
                        await asyncio.sleep(0.05)
            except TimeoutError:
                raise AssertionError(f"timed out waiting for {what}") from None

        async def web_ready() -> bool:
            found = await api.get("v1", "pods", "default", "web") or {}
            return any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (found.get("status") or {}).get("conditions") or []
            )

        await until(web_ready, "web Ready")
        await api.create("v1", "pods", "default", client)

        async def finished() -> dict[str, Any] | None:
            found = await api.get("v1", "pods", "default", "client")
            return found if found and found.get("status", {}).get("phase") in ("Succeeded", "Failed") else None

        done = await until(finished, "the client to finish")
        state = done["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (state["exitCode"], state["message"]) == (0, "web\nweb\n")  # the message is the log tail here
        assert kubelet.read_log("default", "client") == "web\nweb\n"
        events = await api.list("v1", "events", "default")
        lost = [e for e in events if e["reason"] == "IsolationUnavailable" and e["involvedObject"]["name"] == "client"]
        assert lost and lost[0]["type"] == "Warning" and "raw TCP" in lost[0]["message"]
        pids = kubelet.pids()
        assert pids
    finally:
        await kubelet.close()
        await network.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_service_created_later_resolves_in_a_running_pod(sim: KubeSim) -> None:
    """The pod's /etc/hosts is rewritten in place, so its bind mount shows Services created after it."""
    ns = "k2-late"
    waiter = (
        "import socket, time\n"
        "while True:\n"
        "    try:\n"
        f"        print(socket.gethostbyname('late.{ns}.svc'), flush=True); break\n"
        "    except OSError:\n"
        "        time.sleep(0.05)\n"
    )
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        pod("waiter", waiter, {"app": "waiter"}, restartPolicy="Never"),
    ]
    sim.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump_all(objects))
    eventually(
        lambda: ((get(sim, ns, "pods", "waiter") or {}).get("status") or {}).get("phase") == "Running",
        what="the waiter to run",
        interval=0.02,
    )
    sim.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(service("late", {"app": "none"}, 80, 80)))
    ip = eventually(
        lambda: ((get(sim, ns, "services", "late") or {}).get("spec") or {}).get("clusterIP"),
        what="a cluster IP",
        interval=0.02,
    )
    eventually(
        lambda: ((get(sim, ns, "pods", "waiter") or {}).get("status") or {}).get("phase") == "Succeeded",
        what="the name to resolve",
        interval=0.02,
    )
    assert sim.kubectl("logs", "-n", ns, "waiter").stdout.strip() == ip
