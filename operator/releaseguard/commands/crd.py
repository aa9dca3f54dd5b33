"""Print a CustomResourceDefinition (ReleaseVerification by default, or VerificationRun), generated from the pydantic models."""

from __future__ import annotations

import argparse
import sys

from . import EXIT_OK


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kind", choices=("ReleaseVerification", "VerificationRun"), default="ReleaseVerification", help="which CRD"
    )


def run(args: argparse.Namespace) -> int:
    from ..api.crd import crd_yaml

    sys.stdout.write(crd_yaml(args.kind))
    return EXIT_OK
