"""Loopback addresses for pods and Services (pure bookkeeping).

On Linux the whole of 127.0.0.0/8 is routed to the loopback interface, so every pod can get its own
127.x.y.z and several replicas can listen on the same container port, and every Service its own
cluster IP, without network namespaces.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import tempfile
from pathlib import Path

POD_NETWORK = "127.244.0.0/16"
SERVICE_NETWORK = "127.96.0.0/16"
HOST_IP = "127.0.0.1"


def default_lock_dir() -> Path:
    """Where kubesim instances on this machine claim addresses, so two of them never share one."""
    return Path(tempfile.gettempdir()) / "kubesim-addresses"


class AddressPoolExhausted(RuntimeError):
    pass


class AddressPool:
    """Hands out the addresses of `network` (network and broadcast addresses excluded), one per key.

    Allocation goes round the pool from where it last stopped, so a released address is not reused
    at once (a late packet or a stale endpoint must not reach a new owner).

    With `lock_dir`, an address is also claimed machine-wide by holding an flock on a file named
    after it (released when the pool releases it or the process dies), so several kubesim servers
    (parallel test runs, a demo next to the tests) never hand out the same address."""

    def __init__(self, network: str, lock_dir: Path | None = None, start: int = 1) -> None:
        self._network = ipaddress.IPv4Network(network)
        self._by_key: dict[str, str] = {}
        self._taken: set[str] = set()
        self._size = self._network.num_addresses - 2
        self._next = (start - 1) % self._size + 1
        self._lock_dir = lock_dir
        self._locks: dict[str, int] = {}

    def __contains__(self, address: str) -> bool:
        try:
            return ipaddress.IPv4Address(address) in self._network
        except ValueError:
            return False

    def get(self, key: str) -> str | None:
        return self._by_key.get(key)

    def reserve(self, key: str, address: str) -> None:
        """Record an address already in use (e.g. a cluster IP set on a Service before we started)."""
        if address not in self._locks:
            self._claim(address)  # best effort: the address is in use here whether or not we get it
        self._by_key[key] = address
        self._taken.add(address)

    def allocate(self, key: str) -> str:
        if key in self._by_key:
            return self._by_key[key]
        for _ in range(self._size):
            offset = self._next
            self._next = self._next % self._size + 1
            address = str(self._network.network_address + offset)
            if address not in self._taken and self._claim(address):
                self.reserve(key, address)
                return address
        raise AddressPoolExhausted(f"no free address left in {self._network}")

    def _claim(self, address: str) -> bool:
        if self._lock_dir is None:
            return True
        self._lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_dir / address, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._locks[address] = fd
        return True

    def release(self, key: str) -> None:
        address = self._by_key.pop(key, None)
        if address is not None:
            self._taken.discard(address)
            fd = self._locks.pop(address, None)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def release_all(self) -> None:
        for key in list(self._by_key):
            self.release(key)
