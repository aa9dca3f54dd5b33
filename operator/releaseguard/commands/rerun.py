"""Verify a ReleaseVerification's current revision again, recorded as a new run with trigger
Rerun. It sets the annotation releaseguard.io/rerun (the same can be done with kubectl alone:
`kubectl annotate rv NAME releaseguard.io/rerun=ANY-NEW-VALUE --overwrite`); typed twice before
the operator starts the re-run, it asks once. Exit 0 requested, 3 no cluster or no such rv."""

from __future__ import annotations

import argparse
import sys

from . import EXIT_BROKEN, EXIT_OK
from ._cluster import add_cluster_options, connect, rv_path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the ReleaseVerification")
    add_cluster_options(parser)


def run(args: argparse.Namespace) -> int:
    from ..core.decide import RERUN_ANNOTATION
    from ..errors import KubeError, NotFoundError

    connected = connect(args, "releaseguard rerun")
    if connected is None:
        return EXIT_BROKEN
    kube, namespace = connected
    path = rv_path(namespace, args.name)
    try:
        rv = kube.call(f"reading ReleaseVerification {namespace}/{args.name}", "GET", path)
        run_ = (rv.get("status") or {}).get("lastRun") or {}
        asked = ((rv.get("metadata") or {}).get("annotations") or {}).get(RERUN_ANNOTATION)
        if not run_.get("verdict"):
            print(f"{args.name}: revision {run_.get('revision', '?')} is still being verified; nothing to re-run yet")
            return EXIT_OK
        # the token names the run re-run, so a repeated command asks for one re-run, not two
        token = str(run_.get("record") or run_.get("startTime") or "rerun")
        if asked == token or (asked and asked != run_.get("rerun")):
            print(f"{args.name}: a re-run of revision {run_.get('revision')} is already requested")
            return EXIT_OK
        kube.call(
            f"annotating ReleaseVerification {namespace}/{args.name}",
            "PATCH",
            path,
            {"metadata": {"annotations": {RERUN_ANNOTATION: token}}},
            content_type="application/merge-patch+json",
        )
    except NotFoundError:
        print(
            f"releaseguard rerun: ReleaseVerification {args.name!r} not found in namespace {namespace}", file=sys.stderr
        )
        return EXIT_BROKEN
    except KubeError as exc:
        print(f"releaseguard rerun: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    finally:
        kube.close()
    print(f"{args.name}: re-run of revision {run_.get('revision')} requested (releaseguard.io/rerun={token})")
    return EXIT_OK
