"""Run the ReleaseGuard operator: verify every rollout of each targeted Deployment.

Reads the cluster from KUBECONFIG (or the in-cluster service account), watches
ReleaseVerifications, their Deployments and probe Jobs, and logs one line per decision.
Without -n it watches every namespace (its RBAC must allow that cluster-wide: the chart's
ClusterRole does); with -n NS ... only those. The first log line says which.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from ..defaults import RUNNER_IMAGE


def configure(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch only this namespace (repeatable); without -n every namespace is watched",
    )
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="watch every namespace (what happens without -n too)"
    )
    parser.add_argument("--metrics-port", type=int, default=8000, help="serve /metrics here (0: a free port)")
    parser.add_argument("--metrics-address", default="0.0.0.0", help="address for the metrics server")
    parser.add_argument(
        "--health-port", type=int, default=8081, help="serve /healthz here (kopf liveness; 0: a free port)"
    )
    parser.add_argument("--runner-image", default=RUNNER_IMAGE, help="image of the probe runner Jobs")
    parser.add_argument("--dry-run", action="store_true", help="decide and record, but never patch a Deployment")
    parser.add_argument(
        "--notifications-config",
        metavar="FILE",
        default=os.environ.get("RELEASEGUARD_NOTIFICATIONS_CONFIG"),
        help="the cluster admin's notification channels, links and retries (YAML; the chart mounts it from a Secret)",
    )
    peering = parser.add_mutually_exclusive_group()
    peering.add_argument("--peering", metavar="NAME", help="kopf peering object: one active replica of several")
    peering.add_argument("--standalone", action="store_true", help="no peering (the default without --peering)")
    parser.add_argument("--priority", type=int, default=0, help="peering priority of this replica")
    parser.add_argument(
        "--workers", type=int, default=32, help="concurrent reconciliations (each holds one API call at a time)"
    )
    policy = parser.add_argument_group("policy (set by the cluster admin; an rv outside it gets SpecValid=False)")
    policy.add_argument(
        "--allowed-image",
        action="append",
        default=[],
        metavar="PATTERN",
        help="runner and check images rvs may name (shell pattern, repeatable); default: any",
    )
    policy.add_argument(
        "--allowed-service-account",
        action="append",
        default=[],
        metavar="NAME",
        help="ServiceAccounts rvs may give probe pods (spec.runner.serviceAccountName; repeatable); default: any",
    )
    policy.add_argument(
        "--excluded-namespace",
        action="append",
        default=None,
        metavar="NS",
        help="namespace whose rvs are never verified (repeatable; replaces the default kube-system; '' for none)",
    )
    policy.add_argument(
        "--denied-network",
        action="append",
        default=None,
        metavar="CIDR",
        help="network that network checks may not reach (repeatable; replaces the default link-local and "
        "cloud metadata networks; '' for none)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="also log kopf's own activity")


def _current_namespace() -> str:
    from kubernetes import config

    try:
        _, context = config.list_kube_config_contexts()  # type: ignore[no-untyped-call]
    except Exception:
        try:
            with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace", encoding="utf-8") as f:
                return f.read().strip() or "default"
        except OSError:
            return "default"
    return str((context or {}).get("context", {}).get("namespace") or "default")


def _free_port(address: str) -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


def policy_from_args(args: argparse.Namespace) -> Any:
    """The admin's Policy from the flags; raises ValueError naming a bad flag value."""
    from ..core.policy import DEFAULT_DENIED_NETWORKS, DEFAULT_EXCLUDED_NAMESPACES, Policy, parse_networks

    excluded = DEFAULT_EXCLUDED_NAMESPACES if args.excluded_namespace is None else args.excluded_namespace
    networks = list(DEFAULT_DENIED_NETWORKS) if args.denied_network is None else args.denied_network
    return Policy(
        allowed_images=tuple(p for p in args.allowed_image if p),
        allowed_service_accounts=tuple(a for a in args.allowed_service_account if a),
        excluded_namespaces=tuple(n for n in excluded if n),
        denied_networks=parse_networks([n for n in networks if n]),
    )


def run(args: argparse.Namespace) -> int:
    import kopf

    from .. import handlers  # noqa: F401 - registers the kopf handlers
    from ..kube import load_config
    from ..operator import OperatorConfig
    from ..operator import configure as configure_operator

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(message)s",
    )
    if not args.verbose:
        logging.getLogger("kopf").setLevel(logging.WARNING)
        logging.getLogger("kopf._core.engines.peering").setLevel(logging.INFO)  # who is active, and why
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        load_config()
    except Exception as exc:
        print(f"releaseguard run: no cluster configuration: {exc}", file=sys.stderr)
        return 3
    try:
        policy = policy_from_args(args)
    except ValueError as exc:
        print(f"releaseguard run: {exc}", file=sys.stderr)
        return 2
    notifications = None
    if args.notifications_config:
        from ..errors import SpecInvalidError
        from ..notify.config import load_config as load_notify_config

        try:
            notifications = load_notify_config(args.notifications_config)
        except (OSError, SpecInvalidError) as exc:
            print(f"releaseguard run: invalid --notifications-config: {exc}", file=sys.stderr)
            return 2
    metrics_port = args.metrics_port or _free_port(args.metrics_address)
    health_port = args.health_port or _free_port("0.0.0.0")
    configure_operator(
        OperatorConfig(
            runner_image=args.runner_image,
            dry_run=args.dry_run,
            metrics_port=metrics_port,
            metrics_address=args.metrics_address,
            workers=args.workers,
            policy=policy,
            notifications=notifications,
        )
    )
    clusterwide = args.all_namespaces or not args.namespace
    namespaces = [] if clusterwide else list(dict.fromkeys(args.namespace))
    logging.getLogger("releaseguard").info(
        "watching %s; metrics on :%d, health on :%d/healthz",
        "all namespaces" if clusterwide else "namespaces " + ", ".join(namespaces),
        metrics_port,
        health_port,
    )
    kopf.run(
        clusterwide=clusterwide,
        namespaces=namespaces,
        standalone=not args.peering,
        peering_name=args.peering,
        priority=args.priority,
        liveness_endpoint=f"http://0.0.0.0:{health_port}/healthz",
    )
    return 0
