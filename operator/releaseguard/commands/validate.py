"""Validate every ReleaseVerification in the given YAML files without a cluster.

Prints one line per problem, `FILE: NAME: FIELD.PATH: what was expected`, and exits 2 if any
document is invalid.
"""

from __future__ import annotations

import argparse
import sys

from . import EXIT_INVALID, EXIT_OK


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML files (multi-document allowed)")


def run(args: argparse.Namespace) -> int:
    import yaml

    from ..api import KIND, parse_release_verification
    from ..errors import SpecInvalidError

    status = EXIT_OK
    for path in args.files:
        try:
            with open(path, encoding="utf-8") as handle:
                documents = [d for d in yaml.safe_load_all(handle) if d is not None]
        except (OSError, yaml.YAMLError) as exc:
            print(f"{path}: cannot read: {exc}", file=sys.stderr)
            status = EXIT_INVALID
            continue
        found = 0
        for document in documents:
            if not (isinstance(document, dict) and document.get("kind") == KIND):
                continue
            found += 1
            name = (document.get("metadata") or {}).get("name", "?")
            try:
                rv = parse_release_verification(document)
            except SpecInvalidError as exc:
                status = EXIT_INVALID
                for error in exc.errors:
                    print(f"{path}: {name}: {error}", file=sys.stderr)
                continue
            print(f"{path}: {rv.name}: valid ({len(rv.spec.checks)} checks)")
        if not found:
            print(f"{path}: no {KIND} found", file=sys.stderr)
            status = EXIT_INVALID
    return status
