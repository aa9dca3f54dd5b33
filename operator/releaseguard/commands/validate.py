"""Validate ReleaseVerification manifests, and check files as `probe -f` reads them, without a cluster.

Each FILE may hold several YAML documents; `-` reads standard input. A ReleaseVerification is
validated as the operator does; a document holding only `checks:` (no `kind`) as `releaseguard
probe -f` does; other kinds are skipped. Prints one line per problem, `FILE: NAME: FIELD.PATH:
what was expected` (NAME is `checks` for a checks-only document), every problem at once, and
exits 2 if any document is invalid or a file holds nothing to validate.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import EXIT_INVALID, EXIT_OK

STDIN = "-"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="YAML/JSON files (multi-document allowed; - for standard input)"
    )


def _documents(path: str) -> list[Any]:
    import yaml

    if path == STDIN:
        return [d for d in yaml.safe_load_all(sys.stdin) if d is not None]
    with open(path, encoding="utf-8") as handle:
        return [d for d in yaml.safe_load_all(handle) if d is not None]


def run(args: argparse.Namespace) -> int:
    import yaml

    from ..api import KIND, parse_checks, parse_release_verification
    from ..errors import SpecInvalidError

    status = EXIT_OK
    for path in args.files:
        shown = "stdin" if path == STDIN else path
        try:
            documents = _documents(path)
        except (OSError, yaml.YAMLError) as exc:
            print(f"{shown}: cannot read: {exc}", file=sys.stderr)
            status = EXIT_INVALID
            continue
        found = 0
        for document in documents:
            if not isinstance(document, dict):
                continue
            try:
                if document.get("kind") == KIND:
                    found += 1
                    name = str((document.get("metadata") or {}).get("name", "?"))
                    rv = parse_release_verification(document)
                    print(f"{shown}: {rv.name}: valid ({_checks(len(rv.spec.checks))})")
                elif "kind" not in document and "checks" in document:
                    found += 1
                    name = "checks"
                    checks = parse_checks(document)
                    print(f"{shown}: checks: valid ({_checks(len(checks))})")
            except SpecInvalidError as exc:
                status = EXIT_INVALID
                for error in exc.errors:
                    print(f"{shown}: {name}: {error}", file=sys.stderr)
        if not found:
            print(f"{shown}: no {KIND} or checks: list found", file=sys.stderr)
            status = EXIT_INVALID
    return status


def _checks(count: int) -> str:
    return f"{count} check" if count == 1 else f"{count} checks"
