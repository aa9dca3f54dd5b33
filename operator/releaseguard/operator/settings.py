"""The operator's settings, as one tree.

Every setting is a flag of `releaseguard run` and an environment variable named after it
(`--runner-image` is `RELEASEGUARD_RUNNER_IMAGE`; a repeatable flag's variable holds a
comma-separated list; a flag given on the command line wins). `from_args` turns parsed flags into
OperatorSettings and `from_env` does the same from the environment alone, through the same parser
(for `kopf run -m releaseguard.operator.handlers`). The decisions' share of it, core.decide.Settings, is
derived here and nowhere else.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..defaults import RUNNER_IMAGE

if TYPE_CHECKING:
    from ..core.decide import Settings
    from ..core.policy import Policy
    from ..notify.config import NotifyConfig

ENV_PREFIX = "RELEASEGUARD_"


def env_name(flag: str) -> str:
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def _policy_default() -> Policy:
    from ..core.policy import Policy

    return Policy()


@dataclass(frozen=True)
class OperatorSettings:
    namespaces: tuple[str, ...] = ()  # watched namespaces; empty: all of them
    runner_image: str = RUNNER_IMAGE
    dry_run: bool = False
    metrics_port: int | None = 8000  # None: no metrics server (a test reads the runtime's Metrics)
    metrics_address: str = "0.0.0.0"
    health_port: int = 8081
    workers: int = 32
    job_ttl_seconds: int = 3600
    timeout_grace_seconds: float = 30.0
    message_grace_seconds: float = 2.0
    peering: str | None = None  # kopf peering object; None: standalone
    priority: int = 0
    peering_lifetime: int = 30
    policy: Policy = field(default_factory=_policy_default)
    notifications: NotifyConfig | None = None  # the cluster admin's channels, links and retries
    verbose: bool = False

    def decisions(self) -> Settings:
        """What core.decide needs of these settings."""
        from ..core.decide import Settings

        return Settings(
            runner_image=self.runner_image,
            dry_run=self.dry_run,
            job_ttl_seconds=self.job_ttl_seconds,
            timeout_grace_seconds=self.timeout_grace_seconds,
            message_grace_seconds=self.message_grace_seconds,
            policy=self.policy,
        )


# --- flags, with their environment defaults ----------------------------------------------------


def _env_default(env: Mapping[str, str], flag: str, options: dict[str, Any]) -> Any:
    """The option's default as its environment variable sets it, else its own."""
    action = options.get("action")
    raw = env.get(env_name(flag))
    if raw is None or raw == "":
        return options.get("default", False if action == "store_true" else None)
    if action == "store_true":
        return raw.lower() in ("1", "true", "yes")
    if action == "append":
        return [item.strip() for item in raw.split(",")]
    convert: Callable[[str], Any] = options.get("type", str)
    try:
        return convert(raw)
    except ValueError as exc:
        raise ValueError(f"{env_name(flag)}: {exc}") from exc


def add_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str] | None = None) -> None:
    environment = os.environ if env is None else env

    def option(group: Any, *flags: str, **options: Any) -> None:
        group.add_argument(*flags, **{**options, "default": _env_default(environment, flags[-1], options)})

    scope = parser.add_mutually_exclusive_group()
    option(
        scope,
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch only this namespace (repeatable); without -n every namespace is watched",
    )
    option(
        scope, "-A", "--all-namespaces", action="store_true", help="watch every namespace (what happens without -n too)"
    )
    option(
        parser,
        "--metrics-port",
        type=int,
        default=8000,
        help="serve /metrics here (0: a free port)",
    )
    option(parser, "--metrics-address", default="0.0.0.0", help="address for the metrics server")
    option(
        parser,
        "--health-port",
        type=int,
        default=8081,
        help="serve /healthz here (kopf liveness; 0: a free port)",
    )
    option(parser, "--runner-image", default=RUNNER_IMAGE, help="image of the probe runner Jobs")
    option(
        parser,
        "--dry-run",
        action="store_true",
        help="decide and record, but never patch a Deployment",
    )
    option(
        parser,
        "--notifications-config",
        metavar="FILE",
        default=None,
        help="the cluster admin's notification channels, links and retries (YAML; the chart mounts it from a Secret)",
    )
    peering = parser.add_mutually_exclusive_group()
    option(
        peering,
        "--peering",
        metavar="NAME",
        default=None,
        help="kopf peering object: one active replica of several",
    )
    option(peering, "--standalone", action="store_true", help="no peering (the default without --peering)")
    option(parser, "--priority", type=int, default=0, help="peering priority of this replica")
    option(
        parser,
        "--peering-lifetime",
        type=int,
        default=30,
        metavar="SECONDS",
        help="how long a replica's peering record counts as alive: a standby takes over this long after "
        "the active replica dies",
    )
    option(
        parser,
        "--workers",
        type=int,
        default=32,
        help="concurrent reconciliations (each holds one API call at a time)",
    )
    option(
        parser,
        "--job-ttl-seconds",
        type=int,
        default=3600,
        help="how long finished probe Jobs are kept (at least as long as a verification can take)",
    )
    option(
        parser,
        "--timeout-grace-seconds",
        type=float,
        default=30.0,
        help="added to an rv's timeoutSeconds before its checks count as timed out",
    )
    option(
        parser,
        "--message-grace-seconds",
        type=float,
        default=2.0,
        help="how long a finished probe Job's pod may take to show its report",
    )
    policy = parser.add_argument_group("policy (set by the cluster admin; an rv outside it gets SpecValid=False)")
    option(
        policy,
        "--allowed-image",
        action="append",
        default=None,
        metavar="PATTERN",
        help="runner and check images rvs may name (shell pattern, repeatable); default: any",
    )
    option(
        policy,
        "--allowed-service-account",
        action="append",
        default=None,
        metavar="NAME",
        help="ServiceAccounts rvs may give probe pods (spec.runner.serviceAccountName; repeatable); default: any",
    )
    option(
        policy,
        "--excluded-namespace",
        action="append",
        default=None,
        metavar="NS",
        help="namespace whose rvs are never verified (repeatable; replaces the default kube-system; '' for none)",
    )
    option(
        policy,
        "--denied-network",
        action="append",
        default=None,
        metavar="CIDR",
        help="network that network checks may not reach (repeatable; replaces the default link-local and "
        "cloud metadata networks; '' for none)",
    )
    option(parser, "-v", "--verbose", action="store_true", help="also log kopf's own activity")


def from_args(args: argparse.Namespace) -> OperatorSettings:
    """The settings from parsed flags; ValueError naming the flag (or file) when one is invalid."""
    from ..core.policy import DEFAULT_DENIED_NETWORKS, DEFAULT_EXCLUDED_NAMESPACES, Policy, parse_networks

    excluded = DEFAULT_EXCLUDED_NAMESPACES if args.excluded_namespace is None else args.excluded_namespace
    networks = list(DEFAULT_DENIED_NETWORKS) if args.denied_network is None else args.denied_network
    denied = parse_networks([n for n in networks if n])  # its ValueError names the flag
    policy = Policy(
        allowed_images=tuple(p for p in args.allowed_image or () if p),
        allowed_service_accounts=tuple(a for a in args.allowed_service_account or () if a),
        excluded_namespaces=tuple(n for n in excluded if n),
        denied_networks=denied,
    )
    notifications = None
    if args.notifications_config:
        from ..errors import SpecInvalidError
        from ..notify.config import load_config

        try:
            notifications = load_config(args.notifications_config)
        except (OSError, SpecInvalidError) as exc:
            raise ValueError(f"invalid --notifications-config: {exc}") from exc
    for flag, value in (("--workers", args.workers), ("--job-ttl-seconds", args.job_ttl_seconds)):
        if value < 1:
            raise ValueError(f"{flag}: expected at least 1, got {value}")
    namespaces: tuple[str, ...] = () if args.all_namespaces else tuple(dict.fromkeys(n for n in args.namespace if n))
    return OperatorSettings(
        namespaces=namespaces,
        runner_image=args.runner_image,
        dry_run=args.dry_run,
        metrics_port=args.metrics_port,
        metrics_address=args.metrics_address,
        health_port=args.health_port,
        workers=args.workers,
        job_ttl_seconds=args.job_ttl_seconds,
        timeout_grace_seconds=args.timeout_grace_seconds,
        message_grace_seconds=args.message_grace_seconds,
        peering=None if args.standalone else args.peering,
        priority=args.priority,
        peering_lifetime=args.peering_lifetime,
        policy=policy,
        notifications=notifications,
        verbose=args.verbose,
    )


def from_env(env: Mapping[str, str] | None = None) -> OperatorSettings:
    parser = argparse.ArgumentParser(prog="releaseguard run")
    add_arguments(parser, env)
    return from_args(parser.parse_args([]))
