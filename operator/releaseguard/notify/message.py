"""Pure decisions about notifications: which events a finished run produced, which deliveries are
still due, and what each message says. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from .. import reasons
from ..api import CheckResultKind, ReleaseVerification, ReleaseVerificationStatus, RunStatus, Verdict
from ..api.notifications import NotificationRecord, NotificationSubscription, NotifyEvent
from ..api.spec import Check
from ..core.conditions import ROLLED_BACK, get_condition

# A verdict older than this that was never notified (say the rv subscribed later, or the operator
# was down for long) is not notified late.
MAX_AGE = timedelta(hours=1)
MAX_MESSAGE_CHECKS = 10
RECOMMENDED_REASONS = (reasons.MANUAL_POLICY, reasons.DRY_RUN)

NotifyType = Literal["info", "success", "warning", "failure"]


@dataclass(frozen=True)
class Release:
    """What shipped: the revision a run verified."""

    namespace: str
    name: str  # the rv
    deployment: str
    revision: int
    image: str


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    type: NotifyType


@dataclass(frozen=True)
class Delivery:
    """One event of one run for one channel."""

    channel: str
    event: NotifyEvent
    revision: int
    run_start: datetime | None


def run_events(status: ReleaseVerificationStatus) -> list[NotifyEvent]:
    """The events the current run produced, once it has a verdict (and what was done about it)."""
    run = status.last_run
    if run is None or run.verdict is None:
        return []
    events: list[NotifyEvent] = []
    if run.verdict is Verdict.PASSED:
        events.append(NotifyEvent.VERIFIED)
    elif run.verdict is Verdict.FAILED:
        events.append(NotifyEvent.FAILED)
    else:
        events.append(NotifyEvent.ERROR)
    if any(c.result is CheckResultKind.FLAKY for c in run.checks):
        events.append(NotifyEvent.FLAKY)
    rollback = status.last_rollback
    if run.verdict is Verdict.FAILED and rollback is not None and rollback.from_revision == run.revision:
        if rollback.applied:
            events.append(NotifyEvent.ROLLED_BACK)
        else:
            condition = get_condition(status.conditions, ROLLED_BACK)
            if condition is not None and condition.reason in RECOMMENDED_REASONS:
                events.append(NotifyEvent.ROLLBACK_RECOMMENDED)
    return events


def _same_run(record: NotificationRecord, run: RunStatus) -> bool:
    return record.revision == run.revision and record.run_start == run.start_time


def due_deliveries(
    status: ReleaseVerificationStatus,
    subscriptions: Sequence[NotificationSubscription],
    now: datetime,
    pending: Iterable[Delivery] = (),
) -> list[Delivery]:
    """Deliveries of the current run not yet recorded in the status nor already under way."""
    run = status.last_run
    if run is None or run.verdict is None or not subscriptions:
        return []
    if run.finish_time is not None and now - run.finish_time > MAX_AGE:
        return []
    happened = run_events(status)
    done = {(r.channel, r.event) for r in status.notifications or [] if _same_run(r, run)}
    done |= {(d.channel, d.event) for d in pending if d.revision == run.revision and d.run_start == run.start_time}
    due: list[Delivery] = []
    for subscription in subscriptions:
        for event in happened:
            key = (subscription.channel, event)
            if event in subscription.events and key not in done:
                done.add(key)
                due.append(Delivery(subscription.channel, event, run.revision, run.start_time))
    return due


def merge_records(
    status: ReleaseVerificationStatus, records: Iterable[NotificationRecord]
) -> list[NotificationRecord] | None:
    """The status's records with `records` added; only the current run's are kept (None: none)."""
    run = status.last_run
    if run is None:
        return None
    merged = {(r.channel, r.event): r for r in status.notifications or [] if _same_run(r, run)}
    for record in records:
        if _same_run(record, run):
            merged[(record.channel, record.event)] = record
    return list(merged.values()) or None


# --- what a message says ------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:g}"


def expected_of(check: Check) -> str:
    """What the check required, in a few words (the 'expected' beside a report's 'observed')."""
    config = check.config
    if check.http is not None:
        http = check.http
        parts = [f"{http.method} {http.url} -> HTTP {' or '.join(str(s) for s in http.expect_status)}"]
        if http.max_latency_ms is not None:
            parts.append(f"within {http.max_latency_ms} ms")
        if http.json_assertions:
            parts.append(f"{len(http.json_assertions)} JSON assertions")
        if http.json_schema is not None:
            parts.append("body matching its JSON Schema")
        return ", ".join(parts)
    if check.tcp is not None:
        return f"a TCP connection to {check.tcp.host}:{check.tcp.port}"
    if check.prometheus is not None:
        p = check.prometheus
        if p.less_than is not None:
            return f"{p.query} < {_number(p.less_than)}"
        if p.greater_than is not None:
            return f"{p.query} > {_number(p.greater_than)}"
        if p.between is not None:
            return f"{_number(p.between.min)} <= {p.query} <= {_number(p.between.max)}"
    if check.command is not None:
        c = check.command
        suffix = f", stdout matching {c.stdout_matches!r}" if c.stdout_matches else ""
        return f"exit code {c.expect_exit_code}{suffix}"
    if check.python is not None:
        return "imports, environment and config files as listed"
    if check.pytest is not None:
        return "every selected test passes"
    return type(config).__name__


def action_of(status: ReleaseVerificationStatus, target: str, namespace: str) -> str:
    """What the operator did about the current run, in one sentence."""
    run = status.last_run
    if run is None or run.verdict is None:
        return "nothing yet"
    rollback = status.last_rollback
    condition = get_condition(status.conditions, ROLLED_BACK)
    if run.verdict is Verdict.PASSED:
        if rollback is not None and rollback.applied and run.revision == rollback.from_revision + 1:
            return f"nothing: revision {run.revision} is the rollback to revision {rollback.to_revision}, now verified"
        return "nothing: the release is verified"
    if run.verdict is Verdict.ERROR:
        return "nothing: a verification that could not reach a verdict never rolls back"
    if rollback is not None and rollback.from_revision == run.revision:
        if rollback.applied:
            return f"rolled back Deployment {target} from revision {rollback.from_revision} to revision {rollback.to_revision}"
        if condition is not None and condition.reason in RECOMMENDED_REASONS:
            return (
                f"recommends a rollback to revision {rollback.to_revision} and changed nothing ({condition.reason}): "
                f"kubectl rollout undo deployment/{target} -n {namespace} --to-revision={rollback.to_revision}"
            )
    if condition is not None and condition.status == "False" and condition.message:
        return f"no rollback ({condition.reason}): {condition.message}"
    return "no rollback"


def links_for(templates: Mapping[str, str], release: Release) -> dict[str, str]:
    values = {
        "namespace": release.namespace,
        "name": release.name,
        "deployment": release.deployment,
        "revision": str(release.revision),
        "image": release.image,
    }
    return {name: template.format_map(values) for name, template in templates.items()}


TITLES: Mapping[NotifyEvent, str] = {
    NotifyEvent.VERIFIED: "verified",
    NotifyEvent.FAILED: "failed verification",
    NotifyEvent.ROLLED_BACK: "was rolled back",
    NotifyEvent.ROLLBACK_RECOMMENDED: "failed: rollback recommended",
    NotifyEvent.FLAKY: "has flaky checks",
    NotifyEvent.ERROR: "could not be verified",
}
TYPES: Mapping[NotifyEvent, NotifyType] = {
    NotifyEvent.VERIFIED: "success",
    NotifyEvent.FAILED: "failure",
    NotifyEvent.ROLLED_BACK: "failure",
    NotifyEvent.ROLLBACK_RECOMMENDED: "warning",
    NotifyEvent.FLAKY: "warning",
    NotifyEvent.ERROR: "failure",
}


def compose(
    rv: ReleaseVerification,
    status: ReleaseVerificationStatus,
    release: Release,
    event: NotifyEvent,
    link_templates: Mapping[str, str],
) -> Message:
    """The message for one event. Built only from the status and the spec: check messages were
    redacted by the probe runner, and header values from Secrets are never part of either."""
    run = status.last_run
    assert run is not None and run.verdict is not None
    title = f"[{event.value}] {release.namespace}/{release.deployment} revision {release.revision} {TITLES[event]}"
    specs = {c.name: c for c in rv.spec.checks}
    lines = [
        f"ReleaseVerification: {release.namespace}/{release.name}",
        f"Deployment: {release.deployment}, revision {release.revision}",
        f"Image: {release.image or 'unknown'}",
        f"Verdict: {run.verdict.value} ({run.reason or ''}): {run.message or ''}",
        f"Checks: {status.checks or 'none ran'}",
    ]
    wanted = (
        (CheckResultKind.FLAKY,)
        if event is NotifyEvent.FLAKY
        else (CheckResultKind.FAILED, CheckResultKind.ERROR, CheckResultKind.INCONCLUSIVE)
    )
    shown = [c for c in run.checks if c.result in wanted]
    if shown:
        lines.append("Failed checks:" if event is not NotifyEvent.FLAKY else "Flaky checks:")
        for check in shown[:MAX_MESSAGE_CHECKS]:
            spec = specs.get(check.name)
            expected = expected_of(spec) if spec is not None else "unknown"
            critical = "critical" if check.critical else "non-critical"
            lines.append(
                f"- {check.name} ({check.type or '?'}, {critical}, {check.result.value} after {check.attempts} "
                f"attempts): expected {expected}; observed {check.observed or 'n/a'}; {check.message}"
            )
        if len(shown) > MAX_MESSAGE_CHECKS:
            lines.append(f"- ... and {len(shown) - MAX_MESSAGE_CHECKS} more")
    lines.append(f"Operator action: {action_of(status, release.deployment, release.namespace)}")
    for name, url in links_for(link_templates, release).items():
        lines.append(f"{name}: {url}")
    return Message(title=title, body="\n".join(lines), type=TYPES[event])
