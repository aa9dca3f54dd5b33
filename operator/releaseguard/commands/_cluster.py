"""Cluster options shared by the commands that read or act on a cluster, as kubectl spells them
(so `kubectl releaseguard ...` behaves like any kubectl plugin): -n/--namespace, --context,
--kubeconfig, and KUBECONFIG."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..operator.kube import Kube


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--namespace", default=None, help="the namespace (default: the context's)")
    parser.add_argument("--context", default=None, help="the kubeconfig context to use (default: the current one)")
    parser.add_argument("--kubeconfig", default=None, help="the kubeconfig file (default: KUBECONFIG, ~/.kube/config)")


def connect(args: argparse.Namespace, command: str) -> tuple[Kube, str] | None:
    """A client and the namespace, or None after printing why there is no cluster configuration."""
    from kubernetes import config

    from ..operator.kube import Kube

    path = args.kubeconfig or os.environ.get("KUBECONFIG") or None
    try:
        config.load_kube_config(config_file=path, context=args.context)  # type: ignore[no-untyped-call]
        _, current = config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
        if args.context:
            contexts, _ = config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
            current = next((c for c in contexts if c.get("name") == args.context), current)
        namespace = args.namespace or str((current or {}).get("context", {}).get("namespace") or "default")
    except Exception as exc:
        if args.context or args.kubeconfig:
            print(f"{command}: no cluster configuration: {exc}", file=sys.stderr)
            return None
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        except Exception:
            print(f"{command}: no cluster configuration: {exc}", file=sys.stderr)
            return None
        namespace = args.namespace or _pod_namespace()
    return Kube(), namespace


def _pod_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace", encoding="utf-8") as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"


def rv_path(namespace: str, name: str) -> str:
    return f"/apis/releaseguard.io/v1alpha1/namespaces/{namespace}/releaseverifications/{name}"


def records_of(kube: Kube, namespace: str, rv_name: str) -> list[dict[str, Any]]:
    """The VerificationRuns of one rv (labelled with its name, controlled by its uid, naming their
    Deployment's uid as the operator's records do: core.own_records). Raises
    NotFoundError when the rv does not exist."""
    from ..api.vrun import RV_NAME_LABEL
    from ..core.jobs import label_value
    from ..core.own_records import own_records

    rv = kube.call(
        f"reading ReleaseVerification {namespace}/{rv_name}",
        "GET",
        rv_path(namespace, rv_name),
    )
    uid = (rv.get("metadata") or {}).get("uid")
    listed = kube.call(
        f"listing VerificationRuns of {namespace}/{rv_name}",
        "GET",
        f"/apis/releaseguard.io/v1alpha1/namespaces/{namespace}/verificationruns",
        query=[("labelSelector", f"{RV_NAME_LABEL}={label_value(rv_name)}")],
    )
    return own_records(listed.get("items") or [], str(uid or ""))
