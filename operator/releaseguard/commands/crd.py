"""Print the ReleaseVerification CustomResourceDefinition, generated from the pydantic models."""

from __future__ import annotations

import argparse
import sys

from . import EXIT_OK


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from ..api.crd import crd_yaml

    sys.stdout.write(crd_yaml())
    return EXIT_OK
