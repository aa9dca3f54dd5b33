"""The decisions behind denied networks (pure): which network an address is in, counting the IPv4
address an IPv6 address carries, and which addresses of a DNS answer may be connected to.
tests/checks/test_denied_networks.py proves the connections."""

from __future__ import annotations

import ipaddress

import pytest

from releaseguard.probe.checks.destinations import DestinationDenied, LookupFailed, denied_network, judge_answer

NETWORKS = [ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fd00:ec2::254/128")]


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("169.254.169.254", "169.254.0.0/16"),
        ("::ffff:169.254.169.254", "169.254.0.0/16"),  # IPv4-mapped
        ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),  # NAT64 (RFC 6052)
        ("2002:a9fe:a9fe::1", "169.254.0.0/16"),  # 6to4
        ("2001:0:4136:e378:8000:63bf:5601:5601", "169.254.0.0/16"),  # Teredo, client 169.254.169.254 (obfuscated)
        ("fd00:ec2::254", "fd00:ec2::254/128"),
        ("10.0.0.1", None),
        ("2001:db8::1", None),
    ],
)
def test_denied_network_sees_ipv4_addresses_carried_in_ipv6(address: str, network: str | None) -> None:
    hit = denied_network(ipaddress.ip_address(address), NETWORKS)
    assert (str(hit) if hit else None) == network


def test_judge_answer_keeps_the_order_drops_repeats_and_refuses_a_bad_answer() -> None:
    assert judge_answer("a.test", ["10.0.0.2", "10.0.0.1", "10.0.0.2", "2001:db8::1"], NETWORKS) == [
        "10.0.0.2",
        "10.0.0.1",
        "2001:db8::1",
    ]
    with pytest.raises(DestinationDenied, match=r"a\.test resolves to 169\.254\.169\.254, which is in 169\.254"):
        judge_answer("a.test", ["10.0.0.1", "169.254.169.254"], NETWORKS)
    with pytest.raises(LookupFailed, match="returned no address"):
        judge_answer("a.test", [], NETWORKS)
    with pytest.raises(LookupFailed, match="which is not an IP address"):
        judge_answer("a.test", ["not-an-address"], NETWORKS)
