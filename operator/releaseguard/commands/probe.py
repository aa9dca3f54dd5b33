"""Run release checks and print a ProbeReport (JSON) on stdout.

Input: `-f FILE` (YAML or JSON holding a `checks:` list or a whole ReleaseVerification),
`--checks-json TEXT`, or stdin. With `--termination-log PATH` a compact report (at most 4096
bytes, verdict and failures first) is also written there, as a probe Job does for
/dev/termination-log. A table goes to stderr when it is a terminal (or with --table).

Run by hand on a laptop or in CI, an rv's in-cluster names do not resolve: `--map-host
shop.demo.svc:8080=127.0.0.1:18080` (repeatable; NAME or NAME:PORT, to HOST or HOST:PORT) sends
http URLs, tcp checks and prometheus addresses for that name elsewhere, and `--base-url
http://127.0.0.1:18080` sends every http check there (its path is kept). python, pytest and
command checks run here with this machine's environment: `--python /path/to/app/venv/bin/python`
runs them with the app's interpreter, and `--path DIR` (repeatable) puts DIR first on the PATH
their commands are found on. Header secrets: see RG_SECRET_<NAME>_<KEY> in the README.

Exit codes: 0 passed, 1 a critical check failed, 2 invalid configuration, 3 the runner broke.
With --termination-log, once the report is written there the exit code is 0 unless the runner
broke (3): the verdict is in the report, and a probe Job that reported has succeeded.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import TYPE_CHECKING, Any, TextIO

from ..terminal import safe
from . import EXIT_BROKEN, EXIT_FAILED, EXIT_INVALID, EXIT_OK

if TYPE_CHECKING:
    from ..api.spec import Check
    from ..errors import SpecInvalidError
    from ..report import ProbeReport


class InputError(Exception):
    """The input could not be read at all (no file, not YAML)."""


def configure(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("-f", "--file", metavar="FILE", help="YAML/JSON with `checks:` or a ReleaseVerification")
    source.add_argument("--checks-json", metavar="JSON", help='a JSON document {"checks": [...]}')
    parser.add_argument(
        "--parallelism", type=int, default=None, help="checks run at once (default: spec.parallelism or 4)"
    )
    parser.add_argument("--termination-log", metavar="PATH", help="also write the compact report here")
    parser.add_argument("--table", action="store_true", help="print the table on stderr even when not a terminal")
    parser.add_argument(
        "--report-schema", action="store_true", help="print the JSON Schema of the ProbeReport and exit"
    )
    local = parser.add_argument_group("running an rv's checks away from its cluster")
    local.add_argument(
        "--map-host",
        action="append",
        default=[],
        metavar="NAME[:PORT]=HOST[:PORT]",
        help="send checks for NAME (at PORT) to HOST (at PORT) instead (repeatable)",
    )
    local.add_argument(
        "--base-url", metavar="URL", help="send every http check to URL's scheme, host and port (its path prefixed)"
    )
    local.add_argument("--python", metavar="INTERPRETER", help="run python/pytest/command checks with this interpreter")
    local.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="DIR",
        help="put DIR first on the PATH that command checks' programs are found on (repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    if args.report_schema:
        import json

        from ..report import ProbeReport

        print(json.dumps(ProbeReport.model_json_schema(by_alias=True, mode="serialization"), indent=2))
        return EXIT_OK
    try:
        document, origin = _read_input(args)
    except InputError as exc:
        print(f"releaseguard probe: {exc}", file=sys.stderr)
        return EXIT_INVALID
    from ..errors import SpecInvalidError

    try:
        document = _localize(document, args)
        checks, parallelism, prefix = _parse(document)
        if args.parallelism is not None:
            if args.parallelism < 1:
                raise InputError("--parallelism: expected a number >= 1")
            parallelism = args.parallelism
        from ..probe.checks import prepare

        ctx = prepare(checks, parallelism=parallelism, prefix=prefix)
    except SpecInvalidError as exc:
        for error in exc.errors:
            print(f"{origin}: {error}", file=sys.stderr)
        if args.termination_log:  # in a probe Job: say why in a report (an Error, nothing ran)
            _write_termination_log(_invalid_report(exc), args.termination_log)
        return EXIT_INVALID
    except InputError as exc:
        print(f"releaseguard probe: {exc}", file=sys.stderr)
        return EXIT_INVALID

    try:
        import asyncio

        from ..probe.checks import run_prepared

        report = asyncio.run(run_prepared(checks, ctx))
    except Exception as exc:  # the runner itself broke: still say so in a report
        traceback.print_exc()
        report = _broken_report(exc)
    reported = _emit(report, args)
    if report.verdict.value == "Passed" or (reported and report.verdict.value == "Failed"):
        return EXIT_OK
    return EXIT_FAILED if report.verdict.value == "Failed" else EXIT_BROKEN


def _read_input(args: argparse.Namespace) -> tuple[Any, str]:
    import yaml

    if args.file:
        origin = args.file
        try:
            with open(args.file, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise InputError(f"cannot read {args.file}: {exc.strerror}") from None
    elif args.checks_json is not None:
        origin, text = "--checks-json", args.checks_json
    else:
        if sys.stdin.isatty():
            raise InputError("no checks given: use -f FILE, --checks-json or pipe them on stdin")
        origin, text = "stdin", sys.stdin.read()
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise InputError(f"{origin}: not valid YAML/JSON: {exc}") from None
    if len(documents) != 1:
        raise InputError(f"{origin}: expected one document, found {len(documents)}")
    return documents[0], origin


def _localize(document: Any, args: argparse.Namespace) -> Any:
    """The document with --map-host, --base-url, --python and --path applied."""
    import copy
    import os

    from ..probe.checks.local import localize, parse_host_map

    try:
        hosts = parse_host_map(args.map_host)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if args.base_url:
        from urllib.parse import urlsplit

        base = urlsplit(args.base_url)
        if base.scheme not in ("http", "https") or not base.hostname:
            raise InputError(f"--base-url: expected a URL with scheme http or https, got {args.base_url!r}")
    if args.path:
        os.environ["PATH"] = os.pathsep.join([*(os.path.abspath(p) for p in args.path), os.environ.get("PATH", "")])
    if not (hosts or args.base_url or args.python) or not isinstance(document, dict):
        return document
    out = copy.deepcopy(document)
    holder = out.get("spec") if out.get("kind") else out
    if isinstance(holder, dict) and "checks" in holder:
        holder["checks"] = localize(holder["checks"], hosts, args.base_url, args.python)
    return out


def _parse(document: Any) -> tuple[list[Check], int, str]:
    from ..api import KIND, parse_checks, parse_release_verification

    if isinstance(document, dict) and document.get("kind") == KIND:
        rv = parse_release_verification(document)
        return list(rv.spec.checks), rv.spec.parallelism, "spec.checks"
    return parse_checks(document), 4, "checks"


def _broken_report(exc: BaseException) -> ProbeReport:
    from datetime import UTC, datetime

    from ..api.status import Verdict
    from ..report import build_report

    now = datetime.now(UTC)
    message = " ".join(f"the probe runner broke: {type(exc).__name__}: {exc}".split())
    return build_report([], now, now, verdict=Verdict.ERROR, message=message)


def _invalid_report(exc: SpecInvalidError) -> ProbeReport:
    from datetime import UTC, datetime

    from ..api.status import Verdict
    from ..report import build_report

    now = datetime.now(UTC)
    message = "invalid configuration, nothing ran: " + "; ".join(str(e) for e in exc.errors)
    return build_report([], now, now, verdict=Verdict.ERROR, message=" ".join(message.split())[:2000])


def _write_termination_log(report: ProbeReport, path: str) -> bool:
    """Write the compact report where the kubelet reads it; whether that worked."""
    from ..report import compact_json

    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(compact_json(report))
    except OSError as exc:
        print(f"releaseguard probe: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return False
    return True


def _emit(report: ProbeReport, args: argparse.Namespace) -> bool:
    """Print the report (and the table); whether it was written to the termination log."""
    sys.stdout.write(report.to_json() + "\n")
    sys.stdout.flush()
    reported = bool(args.termination_log) and _write_termination_log(report, args.termination_log)
    if args.table or sys.stderr.isatty():
        print_table(report, sys.stderr)
    return reported


def print_table(report: ProbeReport, out: TextIO) -> None:
    rows = [("CHECK", "TYPE", "CRIT", "RESULT", "TRIES", "SECONDS", "MESSAGE")]
    for check in report.checks:
        rows.append(
            (
                check.name,
                check.type,
                "yes" if check.critical else "no",
                check.result.value,
                str(max(len(check.attempts), 1)),
                f"{check.duration_seconds:.2f}",
                check.message,
            )
        )
    shown = [tuple(safe(cell, newlines=False) for cell in row) for row in rows]  # command output: escaped
    widths = [max(len(row[i]) for row in shown) for i in range(6)]
    for row in shown:
        cells = [cell.ljust(width) for cell, width in zip(row[:6], widths, strict=True)]
        out.write("  ".join(cells) + "  " + row[6] + "\n")
    failed = f" ({', '.join(report.failed_critical)})" if report.failed_critical else ""
    out.write(safe(f"verdict: {report.verdict.value}{failed}: {report.message}", newlines=False) + "\n")
