"""List a ReleaseVerification's runs, newest first, from its VerificationRuns: revision, image,
verdict, failed checks, duration and when; then each check that passed only on a retry, and how
often. Exit 0, or 3 when the cluster cannot be reached or the ReleaseVerification does not exist."""

from __future__ import annotations

import argparse
import json
import sys

import yaml

from ..terminal import lines, safe
from . import EXIT_BROKEN, EXIT_OK
from ._cluster import add_cluster_options, connect, records_of


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the ReleaseVerification")
    add_cluster_options(parser)
    parser.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table", help="output format")


def run(args: argparse.Namespace) -> int:
    from ..core.history import history_document, history_table
    from ..errors import KubeError, NotFoundError

    connected = connect(args, "releaseguard history")
    if connected is None:
        return EXIT_BROKEN
    kube, namespace = connected
    try:
        records = records_of(kube, namespace, args.name)
    except NotFoundError:
        print(
            safe(f"releaseguard history: ReleaseVerification {args.name!r} not found in namespace {namespace}"),
            file=sys.stderr,
        )
        return EXIT_BROKEN
    except KubeError as exc:
        print(safe(f"releaseguard history: {exc}"), file=sys.stderr)
        return EXIT_BROKEN
    finally:
        kube.close()
    document = history_document(args.name, namespace, records)
    if args.output == "json":
        print(json.dumps(document, indent=2))  # ensure_ascii: every control character escaped
    elif args.output == "yaml":
        sys.stdout.write(yaml.safe_dump(document, sort_keys=False))  # YAML escapes them in double quotes
    elif not document["runs"]:
        print(safe(f"no VerificationRuns of {args.name} in namespace {namespace}"))
    else:
        print(lines(history_table(document)))
    return EXIT_OK
