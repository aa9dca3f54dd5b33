"""Loopback addresses for pods and Services (pure bookkeeping).

On Linux the whole of 127.0.0.0/8 is routed to the loopback interface, so every pod can get its own
127.x.y.z and several replicas can listen on the same container port, and every Service its own
cluster IP, without network namespaces.
"""

from __future__ import annotations

import ipaddress

POD_NETWORK = "127.244.0.0/16"
SERVICE_NETWORK = "127.96.0.0/16"
HOST_IP = "127.0.0.1"


class AddressPoolExhausted(RuntimeError):
    pass


class AddressPool:
    """Hands out the addresses of `network` (network and broadcast addresses excluded), one per key.

    Allocation goes round the pool from where it last stopped, so a released address is not reused
    at once (a late packet or a stale endpoint must not reach a new owner)."""

    def __init__(self, network: str) -> None:
        self._network = ipaddress.IPv4Network(network)
        self._by_key: dict[str, str] = {}
        self._taken: set[str] = set()
        self._next = 1

    def __contains__(self, address: str) -> bool:
        try:
            return ipaddress.IPv4Address(address) in self._network
        except ValueError:
            return False

    def get(self, key: str) -> str | None:
        return self._by_key.get(key)

    def reserve(self, key: str, address: str) -> None:
        """Record an address already in use (e.g. a cluster IP set on a Service before we started)."""
        self._by_key[key] = address
        self._taken.add(address)

    def allocate(self, key: str) -> str:
        if key in self._by_key:
            return self._by_key[key]
        size = self._network.num_addresses - 2
        for _ in range(size):
            offset = self._next
            self._next = self._next % size + 1
            address = str(self._network.network_address + offset)
            if address not in self._taken:
                self.reserve(key, address)
                return address
        raise AddressPoolExhausted(f"no free address left in {self._network}")

    def release(self, key: str) -> None:
        address = self._by_key.pop(key, None)
        if address is not None:
            self._taken.discard(address)
