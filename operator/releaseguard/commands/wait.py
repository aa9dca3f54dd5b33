"""Wait for a ReleaseVerification's verdict on a revision, printing progress as it goes.

Exit codes: 0 verified, 1 failed (or rolled back, or superseded), 2 timed out, 3 cannot reach the
cluster, or the ReleaseVerification does not exist (at once, as `kubectl wait` does). An API
server that answers but is busy (429, 5xx) is asked again, no sooner than its Retry-After, until the
timeout. Without
--revision, waits for the target Deployment's current revision. Watches the ReleaseVerification
and prints one line per change of the awaited revision's state, in order, then the verdict with
its failures, critical ones first. A ReleaseVerification deleted meanwhile is exit 3.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..terminal import safe
from . import EXIT_BROKEN, EXIT_FAILED, EXIT_OK

EXIT_TIMEOUT = 2
POLL_SECONDS = 0.5
T = TypeVar("T")


class OutOfTime(Exception):
    """The timeout passed while the API server kept answering that it was busy."""


def _emit(text: str, error: bool = False) -> None:
    """Print one line made of the rv's status: its control characters (a newline too) shown, never
    sent (terminal.safe)."""
    print(safe(text, newlines=False), file=sys.stderr if error else sys.stdout, flush=True)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the ReleaseVerification")
    parser.add_argument("-n", "--namespace", default=None, help="its namespace (default: the context's)")
    parser.add_argument(
        "--revision",
        type=int,
        default=None,
        metavar="N",
        help="the Deployment revision to wait for (default: the Deployment's current one)",
    )
    parser.add_argument("--timeout", type=float, default=600, metavar="S", help="seconds before giving up (exit 2)")


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


def concerns(status: dict[str, Any], revision: int | None) -> bool:
    """Whether the status's progress is about the awaited revision (a later revision's progress,
    e.g. the rollback's, is not printed before the awaited revision's verdict)."""
    current = status.get("currentRevision")
    return revision is None or current is None or current == revision


def run(args: argparse.Namespace) -> int:
    from ..api import GROUP, PLURAL, VERSION
    from ..core.rollout import revision_of
    from ..errors import KubeError, NotFoundError, TransientKubeError
    from ..operator.kube import Kube, load_config
    from .run import _current_namespace

    try:
        load_config()
    except Exception as exc:
        _emit(f"releaseguard wait: no cluster configuration: {exc}", error=True)
        return EXIT_BROKEN
    namespace = args.namespace or _current_namespace()
    kube = Kube()
    collection = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    what = f"ReleaseVerification {namespace}/{args.name}"
    deadline = time.monotonic() + args.timeout
    revision: int | None = args.revision
    last_line = ""

    def say(line: str) -> None:
        nonlocal last_line
        if line != last_line:
            _emit(line)
            last_line = line

    def patiently(action: Callable[[], T], connected: bool = True) -> T:
        """`action`, done again while the API server answers 429 or 5xx (or, once `connected`, while
        it cannot be reached), each time after its Retry-After and at least POLL_SECONDS."""
        while True:
            try:
                return action()
            except TransientKubeError as exc:
                if exc.status is None and not connected:
                    raise
                pause = max(POLL_SECONDS, exc.retry_after)
                if time.monotonic() + pause >= deadline:
                    raise OutOfTime(str(exc)) from None
                time.sleep(pause)

    def seen(rv: dict[str, Any]) -> int | None:
        """Print what changed in this version of the rv; the exit code once there is a verdict."""
        nonlocal revision
        status = rv.get("status") or {}
        if revision is None:
            target = ((rv.get("spec") or {}).get("targetRef") or {}).get("name", "")
            try:
                deployment = patiently(
                    lambda: kube.call(
                        f"reading Deployment {namespace}/{target}",
                        "GET",
                        f"/apis/apps/v1/namespaces/{namespace}/deployments/{target}",
                    )
                )
            except NotFoundError as exc:
                say(f"{args.name}: {exc}; waiting for it")
            else:
                revision = revision_of(deployment)
                if revision is not None:
                    say(f"{args.name}: waiting for the verdict on revision {revision} of Deployment {target}")
        found = verdict_for(status, revision) if revision is not None else None
        if found is not None:
            return _report(args.name, namespace, revision or 0, rv, *found)
        if concerns(status, revision):
            say(progress_line(args.name, status))
        return None

    def read(connected: bool = True) -> dict[str, Any]:
        rv: dict[str, Any] = patiently(
            lambda: kube.call(f"reading {what}", "GET", f"{collection}/{args.name}"), connected
        )
        return rv

    try:
        try:
            rv = read(connected=False)
        except NotFoundError:
            # as `kubectl wait` does: a resource that does not exist is an error at once
            _emit(
                f"releaseguard wait: ReleaseVerification {args.name!r} not found in namespace {namespace}",
                error=True,
            )
            return EXIT_BROKEN
        # every status write is a watch event, so each state change is printed, in order
        while True:
            code = seen(rv)
            if code is not None:
                return code
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _emit(f"{args.name}: no verdict within {args.timeout:g}s", error=True)
                return EXIT_TIMEOUT
            version = str((rv.get("metadata") or {}).get("resourceVersion") or "")
            query = [("fieldSelector", f"metadata.name={args.name}"), ("resourceVersion", version)]
            try:
                for event in kube.watch(f"watching {what}", collection, query, min(remaining, 60)):
                    if event.get("type") == "DELETED":
                        _emit(f"releaseguard wait: {what} was deleted", error=True)
                        return EXIT_BROKEN
                    if event.get("type") == "ERROR":  # e.g. 410 Gone: start again from a fresh read
                        rv = read()
                        break
                    rv = event.get("object") or rv
                    code = seen(rv)
                    if code is not None:
                        return code
                    if time.monotonic() >= deadline:
                        break
            except TransientKubeError as exc:
                time.sleep(max(POLL_SECONDS, exc.retry_after))
                rv = read()
    except OutOfTime as exc:
        _emit(f"{args.name}: no verdict within {args.timeout:g}s; the API server last answered: {exc}", error=True)
        return EXIT_TIMEOUT
    except NotFoundError:
        _emit(f"releaseguard wait: {what} was deleted", error=True)
        return EXIT_BROKEN
    except KubeError as exc:
        _emit(f"releaseguard wait: {exc}", error=True)
        return EXIT_BROKEN
    finally:
        kube.close()


def failure_summary(entry: dict[str, Any]) -> list[str]:
    """The failures of a run, the same way whether they come from lastRun (with each check's
    message) or from a history entry (names only): critical first, then non-critical, each in
    the spec's order."""
    checks = entry.get("checks") or []
    if checks:
        failing = [c for c in checks if c.get("result") in ("Failed", "Error")]
        critical = [str(c.get("name")) for c in failing if c.get("critical", True)]
        soft = [str(c.get("name")) for c in failing if not c.get("critical", True)]
    else:
        failed = [str(n) for n in entry.get("failedChecks") or []]
        critical = [n for n in failed if n in (entry.get("failedCriticalChecks") or [])]
        soft = [n for n in failed if n not in critical]
    details = {str(c.get("name")): c for c in checks}
    lines = []
    for names, title in ((critical, "critical"), (soft, "non-critical")):
        if names:
            lines.append(f"  {title} checks failed: {', '.join(names)}")
            for name in names:
                if name in details:
                    check = details[name]
                    lines.append(f"    {name}: {check.get('result')}: {check.get('message') or ''}".rstrip(": "))
    return lines


def _report(name: str, namespace: str, revision: int, rv: dict[str, Any], verdict: str, entry: dict[str, Any]) -> int:
    from ..core.rollback import undo_command

    status = rv.get("status") or {}
    if verdict == "Superseded":
        _emit(f"{name}: revision {revision} was superseded before its verdict", error=True)
        return EXIT_FAILED
    if verdict == "Passed":
        _emit(f"{name}: revision {revision} verified ({status.get('checks') or 'all checks passed'})")
        for line in failure_summary(entry):
            _emit(line)
        return EXIT_OK
    reason = entry.get("reason") or verdict
    _emit(f"{name}: revision {revision} {verdict} ({reason}): {entry.get('message') or ''}".rstrip(": "))
    for line in failure_summary(entry):
        _emit(line)
    last = status.get("lastRollback") or {}
    rolled_to = entry.get("rolledBackTo")
    if rolled_to is None and last.get("fromRevision") == revision and last.get("applied"):
        rolled_to = last.get("toRevision")
    if rolled_to is not None:
        _emit(f"  rolled back to revision {rolled_to}")
    elif last.get("fromRevision") == revision and not last.get("applied"):
        target = ((rv.get("spec") or {}).get("targetRef") or {}).get("name", "")
        command = undo_command(target, int(last.get("toRevision") or 0), namespace)
        _emit(f"  not rolled back (rollback.policy Manual, or --dry-run); to roll back, run: {command}")
    return EXIT_FAILED
