"""Show one VerificationRun in full: what was verified (target, revision, images and digests, what
changed and who changed it), the verdict, and every check with expected vs observed and each
attempt. With --html FILE, NAME is a ReleaseVerification instead, and FILE gets one self-contained
HTML page of its runs (pass/fail over time, check durations, flaky checks). Exit 0, or 3 when the
cluster cannot be reached or NAME does not exist."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

import yaml

from ..terminal import lines, safe
from . import EXIT_BROKEN, EXIT_OK
from ._cluster import add_cluster_options, connect, records_of

if TYPE_CHECKING:
    from ..operator.kube import Kube


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name", help="the VerificationRun (releaseguard history NAME lists them); with --html, the ReleaseVerification"
    )
    parser.add_argument("--html", default=None, metavar="FILE", help="write an HTML page of the rv's runs to FILE")
    add_cluster_options(parser)
    parser.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text", help="output format")


def run(args: argparse.Namespace) -> int:
    from ..core.history import report_text
    from ..errors import KubeError, NotFoundError

    connected = connect(args, "releaseguard report")
    if connected is None:
        return EXIT_BROKEN
    kube, namespace = connected
    if args.html:
        return _html(kube, namespace, args.name, args.html)
    try:
        record = kube.call(
            f"reading VerificationRun {namespace}/{args.name}",
            "GET",
            f"/apis/releaseguard.io/v1alpha1/namespaces/{namespace}/verificationruns/{args.name}",
        )
    except NotFoundError:
        print(
            safe(f"releaseguard report: VerificationRun {args.name!r} not found in namespace {namespace}"),
            file=sys.stderr,
        )
        return EXIT_BROKEN
    except KubeError as exc:
        print(safe(f"releaseguard report: {exc}"), file=sys.stderr)
        return EXIT_BROKEN
    finally:
        kube.close()
    if args.output == "json":
        print(json.dumps(record, indent=2))  # ensure_ascii: every control character escaped
    elif args.output == "yaml":
        sys.stdout.write(yaml.safe_dump(record, sort_keys=False))  # YAML escapes them in double quotes
    else:
        print(lines(report_text(record)))
    return EXIT_OK


def _html(kube: Kube, namespace: str, rv_name: str, path: str) -> int:
    from datetime import UTC, datetime

    from ..core.html_report import render_html
    from ..errors import KubeError, NotFoundError

    try:
        records = records_of(kube, namespace, rv_name)
    except NotFoundError:
        print(
            safe(f"releaseguard report: ReleaseVerification {rv_name!r} not found in namespace {namespace}"),
            file=sys.stderr,
        )
        return EXIT_BROKEN
    except KubeError as exc:
        print(safe(f"releaseguard report: {exc}"), file=sys.stderr)
        return EXIT_BROKEN
    finally:
        kube.close()
    with open(path, "w", encoding="utf-8") as out:
        out.write(render_html(rv_name, namespace, records, datetime.now(UTC)))
    print(safe(f"wrote {path}: {len(records)} runs of {rv_name}"))
    return EXIT_OK
