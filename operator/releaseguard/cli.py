"""The `releaseguard` command: one CLI, one subcommand per job.

Subcommands import what they need lazily so that `releaseguard probe` (the start of every
probe Job) does not pay for the operator's imports.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__

# Exit codes shared by the subcommands.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_BROKEN = 3

Command = Callable[[argparse.Namespace], int]


def _cmd_crd(args: argparse.Namespace) -> int:
    from .api.crd import crd_yaml

    sys.stdout.write(crd_yaml())
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    import yaml

    from .api import parse_release_verification
    from .errors import SpecInvalidError

    status = EXIT_OK
    for path in args.files:
        try:
            with open(path, encoding="utf-8") as handle:
                documents = [d for d in yaml.safe_load_all(handle) if d is not None]
        except (OSError, yaml.YAMLError) as exc:
            print(f"{path}: cannot read: {exc}", file=sys.stderr)
            status = EXIT_INVALID
            continue
        for document in documents:
            if not (isinstance(document, dict) and document.get("kind") == "ReleaseVerification"):
                continue
            name = (document.get("metadata") or {}).get("name", "?")
            try:
                rv = parse_release_verification(document)
            except SpecInvalidError as exc:
                status = EXIT_INVALID
                for error in exc.errors:
                    print(f"{path}: {name}: {error}", file=sys.stderr)
                continue
            print(f"{path}: {rv.name}: valid ({len(rv.spec.checks)} checks)")
    return status


def build_parser(extra: Sequence[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="releaseguard",
        description="Verify every rollout of a Kubernetes Deployment and roll back what breaks.",
    )
    parser.add_argument("--version", action="version", version=f"releaseguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    crd = sub.add_parser("crd", help="print the ReleaseVerification CRD (YAML)", description="Print the CRD.")
    crd.set_defaults(func=_cmd_crd)

    validate = sub.add_parser(
        "validate",
        help="validate ReleaseVerification manifests without a cluster",
        description="Validate every ReleaseVerification in the given YAML files; exit 2 on the first invalid one.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(func=_cmd_validate)

    for register in (*_SUBCOMMANDS, *extra):
        register(sub)
    return parser


# Later modules (probe, run, wait) append their registration functions here.
_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = []


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Command = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
