"""Carry out the rollback a ReleaseVerification recommends under rollback.policy Manual, recorded
with who approved it (status.lastRollback.appliedBy: approved:USER). It refuses (exit 1) when there
is nothing to approve or the recommendation is stale (the Deployment moved on). It sets the
annotations releaseguard.io/approve-rollback=RUN (the failed run's VerificationRun,
status.lastRun.record) and releaseguard.io/approved-by=USER, which the operator acts on once
(with kubectl alone: `kubectl annotate rv NAME releaseguard.io/approve-rollback=RUN
releaseguard.io/approved-by=alice --overwrite`).
Exit 0 approved (or already approved), 1 refused, 3 no cluster or no such rv."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from . import EXIT_BROKEN, EXIT_FAILED, EXIT_OK
from ._cluster import add_cluster_options, connect, rv_path

if TYPE_CHECKING:
    from ..operator.kube import Kube


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the ReleaseVerification")
    add_cluster_options(parser)


def who_am_i(kube: Kube) -> str:
    """The requesting user as the API server authenticates it (SelfSubjectReview), else 'unknown'."""
    from ..errors import KubeError

    try:
        review = kube.call(
            "asking the API server who this is",
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
    except KubeError:
        return "unknown"
    return str(((review or {}).get("status") or {}).get("userInfo", {}).get("username") or "unknown")


def run(args: argparse.Namespace) -> int:
    from ..core.approve import APPROVE_ANNOTATION, APPROVED_BY_ANNOTATION, approval_problem
    from ..core.rollout import revision_of
    from ..errors import KubeError, NotFoundError

    connected = connect(args, "releaseguard approve")
    if connected is None:
        return EXIT_BROKEN
    kube, namespace = connected
    path = rv_path(namespace, args.name)
    try:
        rv = kube.call(f"reading ReleaseVerification {namespace}/{args.name}", "GET", path)
        target = ((rv.get("spec") or {}).get("targetRef") or {}).get("name", "")
        try:
            deployment = kube.call(
                f"reading Deployment {namespace}/{target}",
                "GET",
                f"/apis/apps/v1/namespaces/{namespace}/deployments/{target}",
            )
        except NotFoundError:
            deployment = None
        last = (rv.get("status") or {}).get("lastRollback") or {}
        value = str(((rv.get("status") or {}).get("lastRun") or {}).get("record") or "")
        annotations = (rv.get("metadata") or {}).get("annotations") or {}
        problem = approval_problem(rv, revision_of(deployment))
        if problem is not None:
            print(f"releaseguard approve: {args.name}: {problem}; nothing done", file=sys.stderr)
            return EXIT_FAILED
        if annotations.get(APPROVE_ANNOTATION) == value:
            print(f"{args.name}: the rollback after {value} is already approved; the operator carries it out")
            return EXIT_OK
        user = who_am_i(kube)
        kube.call(
            f"annotating ReleaseVerification {namespace}/{args.name}",
            "PATCH",
            path,
            {"metadata": {"annotations": {APPROVE_ANNOTATION: value, APPROVED_BY_ANNOTATION: user}}},
            content_type="application/merge-patch+json",
        )
    except NotFoundError:
        print(
            f"releaseguard approve: ReleaseVerification {args.name!r} not found in namespace {namespace}",
            file=sys.stderr,
        )
        return EXIT_BROKEN
    except KubeError as exc:
        print(f"releaseguard approve: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    finally:
        kube.close()
    print(
        f"{args.name}: approved the rollback of Deployment {target} from revision {last.get('fromRevision')} "
        f"to revision {last.get('toRevision')} as {user}"
    )
    return EXIT_OK
