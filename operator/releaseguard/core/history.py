"""The record read back: an rv's VerificationRuns as rows of `releaseguard history`, and one run
as the text of `releaseguard report` (pure). The commands print these lines through
terminal.lines, so nothing in a record reaches a terminal as a control character."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..terminal import safe
from .record import flakiness, newest_first

Obj = dict[str, Any]
FAILING = ("Failed", "Error")


def run_row(record: Obj) -> Obj:
    spec, status = record.get("spec") or {}, record.get("status") or {}
    failed = [str(c.get("name")) for c in status.get("checks") or [] if c.get("result") in FAILING]
    return {
        "run": str((record.get("metadata") or {}).get("name") or ""),
        "revision": spec.get("revision"),
        "image": spec.get("image") or "",
        "trigger": spec.get("trigger"),
        "verdict": status.get("verdict") or "Running",
        "reason": status.get("reason"),
        "checks": status.get("checksSummary"),
        "failedChecks": failed,
        "durationSeconds": status.get("durationSeconds"),
        "duration": status.get("duration"),
        "startTime": spec.get("startTime"),
        "finishTime": status.get("finishTime"),
    }


def history_document(rv_name: str, namespace: str, records: Sequence[Obj]) -> Obj:
    """What `history -o json|yaml` prints: the runs newest first, and each flaky check."""
    return {
        "releaseVerification": rv_name,
        "namespace": namespace,
        "runs": [run_row(r) for r in newest_first(records)],
        "flakiness": [f.to_wire() for f in flakiness(records)],
    }


def history_table(document: Obj) -> list[str]:
    rows = [["RUN", "REVISION", "IMAGE", "VERDICT", "FAILED", "DURATION", "FINISHED", "TRIGGER"]]
    for run in document["runs"]:
        rows.append(
            [
                run["run"],
                str(run["revision"]),
                run["image"] or "-",
                run["verdict"],
                ",".join(run["failedChecks"]) or "-",
                run["duration"] or "-",
                str(run["finishTime"] or "-"),
                str(run["trigger"] or "-"),
            ]
        )
    lines = _columns(rows)
    flaky = document["flakiness"]
    if flaky:
        lines.append("")
        lines += _columns(
            [["FLAKY CHECK", "FLAKY RUNS", "RATE"]]
            + [[f["name"], f"{f['flakyRuns']}/{f['runs']}", f"{f['rate']:.0%}"] for f in flaky]
        )
    return lines


def _columns(rows: list[list[str]]) -> list[str]:
    rows = [[safe(cell, newlines=False) for cell in row] for row in rows]  # widths as they will print
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def report_text(record: Obj) -> list[str]:
    """One run in full: what was verified, the verdict, every check with expected vs observed."""
    meta, spec, status = record.get("metadata") or {}, record.get("spec") or {}, record.get("status") or {}
    lines = [
        f"VerificationRun {meta.get('namespace')}/{meta.get('name')}",
        f"  release verification: {spec.get('releaseVerification')}",
        f"  target: Deployment {spec.get('target')} (uid {spec.get('targetUID')})",
        f"  revision: {spec.get('revision')} (pod-template-hash {spec.get('podTemplateHash') or '-'}), "
        f"trigger {spec.get('trigger')}",
    ]
    for image in spec.get("images") or []:
        lines.append(
            f"  image: {image.get('container')}: {image.get('image')} ({image.get('digest') or 'no digest seen'})"
        )
    changes = spec.get("changes") or {}
    if changes.get("previousRevision") is not None:
        changed = [
            *changes.get("images", []),
            *(f"env {e}" for e in changes.get("env", [])),
            *changes.get("fields", []),
        ]
        lines.append(
            f"  changed since revision {changes['previousRevision']}: {'; '.join(changed) or 'nothing in the pod template'}"
        )
    by = spec.get("changedBy") or {}
    if by.get("manager") or by.get("changeCause"):
        who = by.get("manager") or "unknown"
        cause = f", change-cause: {by['changeCause']}" if by.get("changeCause") else ""
        lines.append(f"  changed by: {who} ({by.get('operation') or '-'} at {by.get('time') or '-'}){cause}")
    rollback_of = spec.get("rollbackOf")
    if rollback_of:
        lines.append(
            f"  a rollback of revision {rollback_of.get('fromRevision')} to revision {rollback_of.get('toRevision')} "
            f"({rollback_of.get('reason')}), applied by {rollback_of.get('appliedBy') or '-'}"
        )
    lines.append(f"  checks digest: {spec.get('checksDigest')}")
    lines.append(
        f"  started: {spec.get('startTime') or '-'}  finished: {status.get('finishTime') or '-'}  "
        f"duration: {status.get('duration') or '-'}"
    )
    lines.append(
        f"  verdict: {status.get('verdict') or 'Running'} ({status.get('reason') or '-'}), "
        f"checks {status.get('checksSummary') or '-'}"
    )
    if status.get("summary"):
        lines.append(f"  summary: {status['summary']}")
    rollback = status.get("rollback")
    if rollback:
        done = "rolled back" if rollback.get("applied") else "rollback recommended"
        by_whom = f" by {rollback['appliedBy']}" if rollback.get("appliedBy") else ""
        lines.append(
            f"  {done}{by_whom}: revision {rollback.get('fromRevision')} -> {rollback.get('toRevision')} "
            f"({rollback.get('reason')})"
        )
    checks = status.get("checks") or []
    ordered = [c for c in checks if c.get("result") in FAILING] + [c for c in checks if c.get("result") not in FAILING]
    for check in ordered:
        critical = "critical" if check.get("critical", True) else "non-critical"
        lines.append(
            f"  check {check.get('name')} ({check.get('type') or '-'}, {critical}): {check.get('result')} "
            f"after {check.get('attempts')} attempt(s) in {check.get('durationSeconds')}s"
        )
        if check.get("result") in FAILING or check.get("result") == "Flaky":
            lines.append(f"    expected: {check.get('expected') or '-'}")
            lines.append(f"    observed: {check.get('observed') or '-'}")
        if check.get("message"):
            lines += [f"    {line}" for line in str(check["message"]).split("\n")]
        for index, attempt in enumerate(check.get("attemptDetails") or [], 1):
            lines.append(f"    attempt {index}: {attempt.get('result')} {attempt.get('observed') or ''}".rstrip())
    return lines
