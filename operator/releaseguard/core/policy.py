"""What the cluster admin allows an rv to do, whatever its author wrote (operator flags, chart values).

An rv outside the policy is refused as a whole (SpecValid=False naming the field), before any Job:
- runner images and check images must match one of `allowed_images` (shell patterns; empty: any),
  the operator's own runner image is always allowed;
- `spec.runner.serviceAccountName` must be one of `allowed_service_accounts` (empty: any);
- rvs in `excluded_namespaces` are not verified at all (kube-system by default);
- network checks must not name an address in `denied_networks` (link-local, which holds the cloud
  metadata endpoints, and the other well-known metadata addresses by default). Host names are
  checked by the runner when it resolves them (see checks.destinations).
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from ..api import TARGET_IMAGE, ReleaseVerification
from ..errors import FieldError

DEFAULT_EXCLUDED_NAMESPACES: Final = ("kube-system",)
DEFAULT_DENIED_NETWORKS: Final = (
    "169.254.0.0/16",  # IPv4 link-local: 169.254.169.254 is AWS, GCP, Azure, OpenStack metadata
    "fe80::/10",  # IPv6 link-local
    "fd00:ec2::254/128",  # AWS metadata over IPv6
    "100.100.100.200/32",  # Alibaba Cloud metadata
)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Policy:
    allowed_images: tuple[str, ...] = ()
    allowed_service_accounts: tuple[str, ...] = ()
    excluded_namespaces: tuple[str, ...] = DEFAULT_EXCLUDED_NAMESPACES
    denied_networks: tuple[str, ...] = DEFAULT_DENIED_NETWORKS

    def networks(self) -> list[Network]:
        return [ipaddress.ip_network(n, strict=False) for n in self.denied_networks]


def parse_networks(values: list[str]) -> tuple[str, ...]:
    """CIDRs as given on the command line; raises ValueError naming the bad one."""
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError as exc:
            raise ValueError(f"--denied-network {value!r}: expected a CIDR such as 169.254.0.0/16 ({exc})") from None
    return tuple(out)


def denied_address(host: str, networks: list[Network]) -> Network | None:
    """The denied network `host` (an address literal) is in, or None (also for a host name)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return next((n for n in networks if address.version == n.version and address in n), None)


def _image_allowed(image: str, policy: Policy, runner_image: str) -> bool:
    return (
        not policy.allowed_images
        or image == runner_image
        or any(fnmatch.fnmatchcase(image, pattern) for pattern in policy.allowed_images)
    )


def policy_problems(rv: ReleaseVerification, policy: Policy, runner_image: str) -> list[FieldError]:
    """Every way `rv` steps outside the admin's policy, each naming the field."""
    problems: list[FieldError] = []
    if rv.namespace in policy.excluded_namespaces:
        problems.append(
            FieldError(
                "metadata.namespace",
                f"namespace {rv.namespace} is excluded from verification by the operator's policy",
            )
        )
    runner = rv.spec.runner
    allowed = ", ".join(policy.allowed_images)
    if runner is not None and runner.image and not _image_allowed(runner.image, policy, runner_image):
        problems.append(
            FieldError(
                "spec.runner.image", f"image {runner.image!r} is not allowed by the operator's policy ({allowed})"
            )
        )
    account = runner.service_account_name if runner is not None else None
    if account and policy.allowed_service_accounts and account not in policy.allowed_service_accounts:
        problems.append(
            FieldError(
                "spec.runner.serviceAccountName",
                f"ServiceAccount {account!r} is not allowed for probe pods by the operator's policy "
                f"({', '.join(policy.allowed_service_accounts)})",
            )
        )
    networks = policy.networks()
    for index, check in enumerate(rv.spec.checks):
        where = f"spec.checks[{index}].{check.type}"
        image = getattr(check.config, "image", None)
        if isinstance(image, str) and image != TARGET_IMAGE and not _image_allowed(image, policy, runner_image):
            problems.append(
                FieldError(f"{where}.image", f"image {image!r} is not allowed by the operator's policy ({allowed})")
            )
        for field, host in _destinations(check.config, check.type):
            network = denied_address(host, networks)
            if network is not None:
                problems.append(
                    FieldError(
                        f"{where}.{field}",
                        f"{host} is in {network}, a network the operator's policy denies to network checks",
                    )
                )
    return problems


def _destinations(config: object, kind: str) -> list[tuple[str, str]]:
    if kind == "http":
        return [("url", urlsplit(str(getattr(config, "url", ""))).hostname or "")]
    if kind == "prometheus":
        return [("address", urlsplit(str(getattr(config, "address", ""))).hostname or "")]
    if kind == "tcp":
        return [("host", str(getattr(config, "host", "")))]
    return []
