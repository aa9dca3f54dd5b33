"""The `releaseguard` command: one CLI, one subcommand per module in `releaseguard.commands`.

Each command module has `configure(parser)` and `run(args) -> int` and imports its heavy
dependencies inside `run`, so `releaseguard probe` (the start of every probe Job) stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from . import __version__
from .jsondepth import decode_what_the_api_server_stores

# name -> (module, one-line help). Add a line here to add a subcommand.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("releaseguard.commands.run", "run the operator: verify every rollout, roll back failures"),
    "wait": ("releaseguard.commands.wait", "wait for the verdict on a revision (exit 0 verified, 1 failed, 2 timeout)"),
    "history": ("releaseguard.commands.history", "list an rv's runs (VerificationRuns) and its flaky checks"),
    "report": ("releaseguard.commands.report", "show one VerificationRun in full"),
    "rerun": ("releaseguard.commands.rerun", "verify the current revision again (a new run, trigger Rerun)"),
    "approve": ("releaseguard.commands.approve", "carry out the rollback recommended under rollback.policy Manual"),
    "crd": ("releaseguard.commands.crd", "print the ReleaseVerification CRD (YAML)"),
    "probe": ("releaseguard.commands.probe", "run release checks and print a probe report"),
    "validate": (
        "releaseguard.commands.validate",
        "validate ReleaseVerification manifests without a cluster",
    ),
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The command's docstring as written, and every option's default (unless the help already
    says it, or there is none: a flag that is off, an option that is unset)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        unset = default is None or default is False or default == [] or default is argparse.SUPPRESS
        if "default" in text or unset or not action.option_strings:
            return text
        return f"{text} (default: {default})"


class CommandModule(Protocol):
    def configure(self, parser: argparse.ArgumentParser) -> None: ...
    def run(self, args: argparse.Namespace) -> int: ...


def build_parser(prog: str = "releaseguard") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Verify every rollout of a Kubernetes Deployment and roll back what breaks.",
    )
    parser.add_argument("--version", action="version", version=f"releaseguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = cast(CommandModule, importlib.import_module(module_name))
        command = sub.add_parser(
            name, help=help_text, description=module.__doc__ or help_text, formatter_class=HelpFormatter
        )
        module.configure(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    decode_what_the_api_server_stores()
    code: int = args.run(args)
    return code


def plugin_main(argv: Sequence[str] | None = None) -> int:
    """`kubectl releaseguard ...`: kubectl runs the executable kubectl-releaseguard found on PATH
    with the arguments after the plugin's name (its own flags: -n, --context, --kubeconfig)."""
    args = build_parser("kubectl releaseguard").parse_args(argv)
    decode_what_the_api_server_stores()
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
