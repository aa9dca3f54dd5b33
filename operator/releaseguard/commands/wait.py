"""Wait for a ReleaseVerification's verdict on a revision, printing progress as it goes.

Exit codes: 0 verified, 1 failed (or rolled back, or superseded), 2 timed out, 3 cannot reach the
cluster or the resource. Without --revision, waits for the target Deployment's current revision.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from . import EXIT_BROKEN, EXIT_FAILED, EXIT_OK

EXIT_TIMEOUT = 2
POLL_SECONDS = 0.5


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the ReleaseVerification")
    parser.add_argument("-n", "--namespace", default=None, help="its namespace (default: the context's)")
    parser.add_argument("--revision", type=int, default=None, help="the Deployment revision to wait for")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before giving up (exit 2)")


def verdict_for(status: dict[str, Any], revision: int) -> tuple[str, dict[str, Any]] | None:
    """(verdict, run or history entry) once `revision` has a verdict; ('Superseded', {}) if it
    never will; None while it is pending."""
    run = status.get("lastRun") or {}
    if run.get("revision") == revision and run.get("verdict"):
        return str(run["verdict"]), run
    for entry in status.get("history") or []:
        if entry.get("revision") == revision:
            return str(entry.get("verdict")), entry
    if isinstance(run.get("revision"), int) and run["revision"] > revision:
        return "Superseded", {}
    return None


def progress_line(name: str, status: dict[str, Any]) -> str:
    verified = next((c for c in status.get("conditions") or [] if c.get("type") == "Verified"), None)
    found = next((c for c in status.get("conditions") or [] if c.get("type") == "TargetFound"), None)
    detail = ""
    if found is not None and found.get("status") == "False":
        detail = f" ({found.get('reason')}: {found.get('message')})"
    elif verified is not None:
        detail = f" ({verified.get('reason')}: {verified.get('message')})"
    revision = status.get("currentRevision")
    at = f" revision {revision}" if revision else ""
    return f"{name}:{at} {status.get('phase') or 'Pending'}{detail}"


def run(args: argparse.Namespace) -> int:
    from ..api import GROUP, PLURAL, VERSION
    from ..core.rollout import revision_of
    from ..errors import KubeError, NotFoundError
    from ..kube import Kube, load_config
    from .run import _current_namespace

    try:
        load_config()
    except Exception as exc:
        print(f"releaseguard wait: no cluster configuration: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    namespace = args.namespace or _current_namespace()
    kube = Kube()
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{args.name}"
    deadline = time.monotonic() + args.timeout
    revision: int | None = args.revision
    last_line = ""
    try:
        while True:
            try:
                rv = kube.call(f"reading ReleaseVerification {namespace}/{args.name}", "GET", path)
                status = rv.get("status") or {}
                if revision is None:
                    target = ((rv.get("spec") or {}).get("targetRef") or {}).get("name", "")
                    deployment = kube.call(
                        f"reading Deployment {namespace}/{target}",
                        "GET",
                        f"/apis/apps/v1/namespaces/{namespace}/deployments/{target}",
                    )
                    revision = revision_of(deployment)
                    if revision is not None:
                        print(f"{args.name}: waiting for the verdict on revision {revision} of Deployment {target}")
            except NotFoundError as exc:
                status, line = {}, f"{args.name}: {exc}"
                if line != last_line:
                    print(line, flush=True)
                    last_line = line
            except KubeError as exc:
                print(f"releaseguard wait: {exc}", file=sys.stderr)
                return EXIT_BROKEN
            else:
                line = progress_line(args.name, status)
                if line != last_line:
                    print(line, flush=True)
                    last_line = line
                found = verdict_for(status, revision) if revision is not None else None
                if found is not None:
                    return _report(args.name, revision or 0, status, *found)
            if time.monotonic() >= deadline:
                print(f"{args.name}: no verdict within {args.timeout:g}s", file=sys.stderr)
                return EXIT_TIMEOUT
            time.sleep(POLL_SECONDS)
    finally:
        kube.close()


def _report(name: str, revision: int, status: dict[str, Any], verdict: str, entry: dict[str, Any]) -> int:
    if verdict == "Superseded":
        print(f"{name}: revision {revision} was superseded before its verdict", file=sys.stderr)
        return EXIT_FAILED
    if verdict == "Passed":
        print(f"{name}: revision {revision} verified ({status.get('checks') or 'all checks passed'})")
        return EXIT_OK
    reason = entry.get("reason") or verdict
    print(f"{name}: revision {revision} {verdict} ({reason}): {entry.get('message') or ''}".rstrip(": "))
    for check in entry.get("checks") or []:
        if check.get("result") not in ("Passed", "Skipped"):
            critical = "critical" if check.get("critical", True) else "non-critical"
            print(f"  {check.get('name')} ({critical}): {check.get('result')}: {check.get('message') or ''}")
    if not entry.get("checks") and entry.get("failedChecks"):
        print(f"  failed checks: {', '.join(entry['failedChecks'])}")
    rolled_to = entry.get("rolledBackTo")
    if rolled_to is None and (status.get("lastRollback") or {}).get("fromRevision") == revision:
        rolled_to = (
            (status.get("lastRollback") or {}).get("toRevision") if status["lastRollback"].get("applied") else None
        )
    if rolled_to is not None:
        print(f"  rolled back to revision {rolled_to}")
    return EXIT_FAILED
