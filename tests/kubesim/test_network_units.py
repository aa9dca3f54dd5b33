"""Service networking without an API server: addresses, hosts files, endpoints, and the real byte
pumps (TCP forwarder, HTTP proxy) against real servers on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from kubesim.node.addresses import AddressPool, AddressPoolExhausted
from kubesim.node.hosts import ServiceName, render_hosts, resolve_name, write_in_place
from kubesim.node.network import endpoints
from kubesim.node.proxy import HttpProxy, TcpForwarder


def test_address_pool_gives_distinct_addresses_and_does_not_reuse_at_once() -> None:
    pool = AddressPool("127.244.0.0/29")  # 6 usable addresses
    first = [pool.allocate(f"p{i}") for i in range(3)]
    assert first == ["127.244.0.1", "127.244.0.2", "127.244.0.3"]
    assert pool.allocate("p0") == "127.244.0.1"  # same key, same address
    pool.release("p0")
    assert pool.allocate("p3") == "127.244.0.4"
    assert "127.244.0.5" in pool and "10.0.0.1" not in pool and "not-an-ip" not in pool
    pool.allocate("p4"), pool.allocate("p5"), pool.allocate("p6")
    with pytest.raises(AddressPoolExhausted, match=r"127\.244\.0\.0/29"):
        pool.allocate("p7")


def test_address_pools_with_a_lock_dir_never_share_an_address(tmp_path: Path) -> None:
    one = AddressPool("127.244.0.0/29", tmp_path)
    two = AddressPool("127.244.0.0/29", tmp_path)
    assert one.allocate("a") == "127.244.0.1"
    assert two.allocate("a") == "127.244.0.2"  # .1 is claimed by the other pool
    one.release("a")
    three = AddressPool("127.244.0.0/29", tmp_path)
    assert three.allocate("x") == "127.244.0.1"  # released, so free again
    two.release_all()
    three.release_all()


SERVICES = [ServiceName("demo", "shop", "127.96.0.1"), ServiceName("db", "postgres", "127.96.0.2")]


def test_hosts_file_names_services_and_short_names_only_in_own_namespace() -> None:
    text = render_hosts("demo", "probe-abc", "127.244.0.7", SERVICES)
    lines = text.splitlines()
    assert "127.0.0.1\tlocalhost" in lines
    assert "127.244.0.7\tprobe-abc" in lines
    assert "127.96.0.1\tshop.demo.svc.cluster.local shop.demo.svc shop.demo shop" in lines
    assert "127.96.0.2\tpostgres.db.svc.cluster.local postgres.db.svc postgres.db" in lines
    assert resolve_name("shop", "demo", SERVICES) == "127.96.0.1"
    assert resolve_name("SHOP.demo.svc.", "other", SERVICES) == "127.96.0.1"
    assert resolve_name("postgres", "demo", SERVICES) is None


def test_hosts_file_is_rewritten_in_place(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    write_in_place(path, "a long first version of the file\n")
    inode = path.stat().st_ino
    write_in_place(path, "short\n")
    assert path.read_text() == "short\n"
    assert path.stat().st_ino == inode


def pod(name: str, ip: str, ready: bool = True, labels: dict[str, str] | None = None, ns: str = "demo") -> dict:
    return {
        "metadata": {"name": name, "namespace": ns, "labels": labels if labels is not None else {"app": "shop"}},
        "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
        "status": {
            "phase": "Running",
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_endpoints_are_ready_selected_pods_at_the_resolved_target_port() -> None:
    service = {"metadata": {"name": "shop", "namespace": "demo"}, "spec": {"selector": {"app": "shop"}}}
    pods = [
        pod("b", "127.244.0.2"),
        pod("a", "127.244.0.1"),
        pod("unready", "127.244.0.3", ready=False),
        pod("other", "127.244.0.4", labels={"app": "db"}),
        pod("elsewhere", "127.244.0.5", ns="prod"),
    ]
    assert endpoints(service, pods, {"port": 80, "targetPort": "http"}) == [
        ("127.244.0.1", 8080),
        ("127.244.0.2", 8080),
    ]
    assert endpoints(service, pods, {"port": 9000}) == [("127.244.0.1", 9000), ("127.244.0.2", 9000)]
    assert endpoints(service, pods, {"port": 80, "targetPort": "nope"}) == []


async def echo_server(host: str, tag: bytes) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(100)
        writer.write(tag + b":" + data)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, host, 0)


async def roundtrip(host: str, port: int, payload: bytes) -> bytes:
    """What the server answers; b"" when the connection is closed or reset without an answer."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(payload)
        await writer.drain()
        return await reader.read()
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


@pytest.mark.slow
async def test_tcp_forwarder_round_robins_and_refuses_without_backends() -> None:
    a = await echo_server("127.244.10.1", b"a")
    b = await echo_server("127.244.10.2", b"b")
    backends = [("127.244.10.1", a.sockets[0].getsockname()[1]), ("127.244.10.2", b.sockets[0].getsockname()[1])]
    turn = iter(range(100))
    current: list[tuple[str, int]] = backends

    def pick() -> tuple[str, int] | None:
        return current[next(turn) % len(current)] if current else None

    forwarder = TcpForwarder("127.96.10.1", 0, pick)
    await forwarder.start()
    assert forwarder._server is not None
    port = forwarder._server.sockets[0].getsockname()[1]
    try:
        answers = [await roundtrip("127.96.10.1", port, b"ping") for _ in range(4)]
        assert answers == [b"a:ping", b"b:ping", b"a:ping", b"b:ping"]
        current = []
        assert await roundtrip("127.96.10.1", port, b"ping") == b""
    finally:
        await forwarder.close()
        a.close()
        b.close()


@pytest.mark.slow
async def test_http_proxy_resolves_service_names_per_namespace() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        line = head.split(b"\r\n")[0]
        body = line + b" via " + writer.get_extra_info("sockname")[0].encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.96.11.1", 0)
    port = server.sockets[0].getsockname()[1]
    services = [ServiceName("demo", "shop", "127.96.11.1")]
    proxy = HttpProxy(lambda host, ns: resolve_name(host, ns or "default", services) or host)
    await proxy.start()
    try:
        async with httpx.AsyncClient(proxy=proxy.url("demo"), trust_env=False) as client:
            response = await client.get(f"http://shop:{port}/healthz?x=1")
            assert response.text == "GET /healthz?x=1 HTTP/1.1 via 127.96.11.1"
            response = await client.get(f"http://shop.demo.svc.cluster.local:{port}/")
            assert response.status_code == 200
            missing = await client.get("http://127.0.0.1:1/")
            assert missing.status_code == 502
    finally:
        await proxy.close()
        server.close()
