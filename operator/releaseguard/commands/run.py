"""Run the ReleaseGuard operator: verify every rollout of each targeted Deployment.

Reads the cluster from KUBECONFIG (or the in-cluster service account), watches
ReleaseVerifications, their Deployments and probe Jobs, and logs one line per decision.
Without -n it watches every namespace (its RBAC must allow that cluster-wide: the chart's
ClusterRole does); with -n NS ... only those. The first log line says which.

Every flag can also be set by an environment variable named after it: --runner-image is
RELEASEGUARD_RUNNER_IMAGE, a repeatable flag's variable is a comma-separated list, a switch's is
'true'; a flag on the command line wins.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    from ..operator.settings import add_arguments

    add_arguments(parser)


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


def _unreadable_namespaces(namespaces: tuple[str, ...]) -> str | None:
    """Why the listed namespaces cannot be watched, or None. kopf waits for every watched
    namespace's first listing before it handles any, so one namespace the operator may not read
    would stop verification everywhere, silently: refuse to start instead, naming it."""
    from ..api import GROUP, PLURAL, VERSION
    from ..errors import KubeError
    from ..operator.kube import Kube

    if not namespaces:
        return None
    kube = Kube(connections=1)
    try:
        for namespace in namespaces:
            path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
            try:
                kube.call(f"listing ReleaseVerifications in namespace {namespace}", "GET", path, query=[("limit", "1")])
            except KubeError as exc:
                if exc.status != 403:
                    return None  # anything else is kopf's to retry
                return (
                    f"--namespace {namespace}: the operator may not list ReleaseVerifications there (missing "
                    f"permission: list {PLURAL}.{GROUP} in namespace {namespace}; the chart's watch.namespaces "
                    "grants it), and one namespace it cannot read stops verification in all of them"
                )
    finally:
        kube.close()
    return None


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import kopf

    from ..operator import handlers  # noqa: F401 - registers the kopf handlers
    from ..operator.kube import load_config
    from ..operator.metrics import Metrics
    from ..operator.settings import from_args
    from ..operator.supervise import RESTARTS_ENV, KopfThread, supervise

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(message)s",
    )
    if not args.verbose:
        logging.getLogger("kopf").setLevel(logging.WARNING)
        logging.getLogger("kopf._core.engines.peering").setLevel(logging.INFO)  # who is active, and why
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # kopf runs in a thread of its own and the main thread keeps the signals (operator.supervise)
    logging.getLogger("kopf._core.reactor.running").addFilter(
        lambda record: "OS signals are ignored" not in record.getMessage()
    )
    try:
        load_config()
    except Exception as exc:
        print(f"releaseguard run: no cluster configuration: {exc}", file=sys.stderr)
        return 3
    try:
        settings = from_args(args)
    except ValueError as exc:
        print(f"releaseguard run: {exc}", file=sys.stderr)
        return 2
    unreadable = _unreadable_namespaces(settings.namespaces)
    if unreadable:
        print(f"releaseguard run: {unreadable}", file=sys.stderr)
        return 2
    settings = dataclasses.replace(
        settings,
        metrics_port=settings.metrics_port or _free_port(settings.metrics_address),
        health_port=settings.health_port or _free_port("0.0.0.0"),
    )
    logging.getLogger("releaseguard").info(
        "watching %s; metrics on :%d, health on :%d/healthz",
        "namespaces " + ", ".join(settings.namespaces) if settings.namespaces else "all namespaces",
        settings.metrics_port,
        settings.health_port,
    )
    metrics = Metrics()
    metrics.restarts.inc(int(os.environ.get(RESTARTS_ENV, "0") or 0))  # restarts before a fresh process

    def run_kopf(loop: asyncio.AbstractEventLoop, stop: asyncio.Future[None]) -> None:
        kopf.run(
            loop=loop,
            stop_flag=stop,
            clusterwide=not settings.namespaces,
            namespaces=list(settings.namespaces),
            standalone=settings.peering is None,
            peering_name=settings.peering,
            priority=settings.priority,
            liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz",
            memo=kopf.Memo(settings=settings, metrics=metrics, on_cleanup=kopf_thread.cleaned_up),
        )

    def count(exc: BaseException) -> None:
        metrics.restarts.inc()

    kopf_thread = KopfThread(run_kopf)
    kopf_thread.install_signals()
    return supervise(kopf_thread.run_once, fatal=(kopf.LoginError,), on_restart=count, sleep=kopf_thread.stopping.wait)
