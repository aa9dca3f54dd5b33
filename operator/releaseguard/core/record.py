"""What goes on the record: the VerificationRun of a run, built from what the operator saw.

Pure functions only; recorder.py reads the inputs and writes the results through kube.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from .. import reasons
from ..api import API_VERSION, KIND, Check, RunStatus, Verdict
from ..api.spec import RetentionSpec
from ..api.status import CheckResultKind, FlakyCheck, ReleaseVerificationStatus
from ..api.vrun import (
    RUN_KIND,
    RV_NAME_LABEL,
    AttemptRecord,
    ChangedBy,
    CheckRecord,
    ContainerImage,
    MeasurementRecord,
    RollbackRecord,
    TemplateChanges,
    VerificationRunSpec,
    VerificationRunStatus,
)
from ..errors import ReportError
from ..report import ProbeReport, parse_report
from .baseline import Samples
from .jobs import label_value
from .own_records import newest_first as newest_first  # re-exported: history and reports order by it
from .rollback import owned_by, template_without_hash
from .rollout import TEMPLATE_HASH_LABEL, revision_of
from .sampled import sampled_checks, samples_record

Obj = dict[str, Any]
CHANGE_CAUSE: Final = "kubernetes.io/change-cause"
NAME_LIMIT: Final = 253
FLAKY_THRESHOLD: Final = 0.3  # a check Flaky in at least this share of the retained runs gets a Warning
FLAKY_MIN_RUNS: Final = 3  # ... once it has run at least this often


def record_name(rv_name: str, run: RunStatus) -> str:
    """The VerificationRun's name: deterministic from the run, so a restarted operator finds it."""
    identity = "|".join(
        str(part)
        for part in (run.revision, run.target_uid, run.checks_digest, run.trigger, run.rerun, _iso(run.start_time))
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    suffix = f"-r{run.revision}-{digest}"
    return rv_name[: NAME_LIMIT - len(suffix)].rstrip("-.") + suffix


def _iso(value: datetime | None) -> str:
    return value.replace(microsecond=0).isoformat() if value is not None else ""


def revision_replicaset(deployment: Obj, replicasets: Sequence[Obj], revision: int) -> Obj | None:
    owned = [rs for rs in replicasets if owned_by(rs, deployment)]
    return next((rs for rs in owned if revision_of(rs) == revision), None)


def template_hash_of(replicaset: Obj | None) -> str | None:
    if not replicaset:
        return None
    for labels in (
        (replicaset.get("metadata") or {}).get("labels"),
        (((replicaset.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels"),
    ):
        if isinstance(labels, dict) and labels.get(TEMPLATE_HASH_LABEL):
            return str(labels[TEMPLATE_HASH_LABEL])
    return None


def previous_replicaset(deployment: Obj, replicasets: Sequence[Obj], revision: int) -> Obj | None:
    owned = [rs for rs in replicasets if owned_by(rs, deployment) and (revision_of(rs) or 0) < revision]
    return max(owned, key=lambda rs: revision_of(rs) or 0, default=None)


def _containers(template: Obj) -> list[Obj]:
    return [c for c in ((template.get("spec") or {}).get("containers") or []) if isinstance(c, dict)]


def template_changes(previous: Obj | None, current: Obj, previous_revision: int | None) -> TemplateChanges:
    """Names of what changed between two pod templates: images, env variable names, other fields."""
    if previous is None:
        return TemplateChanges()
    old, new = template_without_hash(previous), template_without_hash(current)
    images: list[str] = []
    env: list[str] = []
    fields: list[str] = []
    old_containers = {str(c.get("name")): c for c in _containers(old)}
    new_containers = {str(c.get("name")): c for c in _containers(new)}
    for name in sorted(old_containers.keys() | new_containers.keys()):
        a, b = old_containers.get(name), new_containers.get(name)
        if a is None or b is None:
            fields.append(f"containers[{name}] {'added' if a is None else 'removed'}")
            continue
        if a.get("image") != b.get("image"):
            images.append(f"{name}: {a.get('image')} -> {b.get('image')}")
        old_env = {str(e.get("name")): e for e in a.get("env") or [] if isinstance(e, dict)}
        new_env = {str(e.get("name")): e for e in b.get("env") or [] if isinstance(e, dict)}
        for var in sorted(old_env.keys() | new_env.keys()):
            if old_env.get(var) != new_env.get(var):
                env.append(f"{name}: {var}")
        for key in sorted((a.keys() | b.keys()) - {"name", "image", "env"}):
            if a.get(key) != b.get(key):
                fields.append(f"containers[{name}].{key}")
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    for key in sorted((old_spec.keys() | new_spec.keys()) - {"containers"}):
        if old_spec.get(key) != new_spec.get(key):
            fields.append(key)
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    for key in ("labels", "annotations"):
        if old_meta.get(key) != new_meta.get(key):
            fields.append(f"metadata.{key}")
    return TemplateChanges(previous_revision=previous_revision, images=images, env=env, fields=fields)


def changed_by(deployment: Obj) -> ChangedBy:
    """The field manager that last wrote the pod template (managedFields), and the change-cause."""
    meta = deployment.get("metadata") or {}
    cause = (meta.get("annotations") or {}).get(CHANGE_CAUSE)
    writers = []
    for entry in meta.get("managedFields") or []:
        if not isinstance(entry, dict):
            continue
        spec = (entry.get("fieldsV1") or {}).get("f:spec") or {}
        if isinstance(spec, dict) and "f:template" in spec:
            writers.append(entry)
    latest = max(writers, key=lambda e: str(e.get("time") or ""), default=None)
    if latest is None:
        return ChangedBy(change_cause=str(cause) if cause else None)
    return ChangedBy(
        manager=str(latest.get("manager") or "") or None,
        operation=str(latest.get("operation") or "") or None,
        time=_timestamp(latest.get("time")),
        change_cause=str(cause) if cause else None,
    )


def _timestamp(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def container_images(template: Obj, pods: Sequence[Obj]) -> list[ContainerImage]:
    """Each container's image, with the imageID the revision's running pods report for it."""
    digests: dict[str, str] = {}
    for pod in pods:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            image_id = cs.get("imageID")
            if cs.get("name") and image_id and (cs.get("state") or {}).get("running") is not None:
                digests.setdefault(str(cs["name"]), str(image_id))
    return [
        ContainerImage(
            container=str(c.get("name")), image=str(c.get("image") or ""), digest=digests.get(str(c.get("name")))
        )
        for c in _containers(template)
    ]


def record_spec(
    rv_body: Obj,
    checks: Sequence[Check],
    run: RunStatus,
    deployment: Obj | None,
    replicasets: Sequence[Obj],
    pods: Sequence[Obj],
) -> VerificationRunSpec:
    meta = rv_body.get("metadata") or {}
    target = str(((rv_body.get("spec") or {}).get("targetRef") or {}).get("name") or "")
    current = revision_replicaset(deployment, replicasets, run.revision) if deployment else None
    template = (
        (current or {}).get("spec", {}).get("template") or (deployment or {}).get("spec", {}).get("template") or {}
    )
    previous = previous_replicaset(deployment, replicasets, run.revision) if deployment else None
    images = container_images(template, pods)
    return VerificationRunSpec(
        release_verification=str(meta.get("name") or ""),
        target=target,
        target_uid=run.target_uid,
        revision=run.revision,
        pod_template_hash=template_hash_of(current),
        trigger=run.trigger or reasons.NEW_REVISION,
        image=",".join(i.image for i in images),
        images=images,
        changes=template_changes(
            (previous or {}).get("spec", {}).get("template") if previous else None,
            template,
            revision_of(previous),
        ),
        changed_by=changed_by(deployment or {}),
        checks_digest=run.checks_digest or "",
        checks=[c.to_wire() for c in checks],
        start_time=run.start_time,
        rollback_of=_rollback_of(rv_body, run),
    )


def _rollback_of(rv_body: Obj, run: RunStatus) -> RollbackRecord | None:
    """The applied rollback whose result is this run's revision (the deployment controller numbers
    the re-used ReplicaSet max+1, so the result of rolling back revision N is N+1)."""
    last = ReleaseVerificationStatus.model_validate(rv_body.get("status") or {}).last_rollback
    if last is None or not last.applied or run.revision != last.from_revision + 1:
        return None
    return RollbackRecord(
        from_revision=last.from_revision,
        to_revision=last.to_revision,
        reason=last.reason,
        applied=True,
        applied_by=last.applied_by,
    )


def record_object(rv_body: Obj, name: str, spec: VerificationRunSpec) -> Obj:
    meta = rv_body.get("metadata") or {}
    return {
        "apiVersion": API_VERSION,
        "kind": RUN_KIND,
        "metadata": {
            "name": name,
            "namespace": meta.get("namespace"),
            "labels": {
                RV_NAME_LABEL: label_value(str(meta.get("name") or "")),
                "app.kubernetes.io/name": "releaseguard",
                "app.kubernetes.io/component": "verification-record",
                "app.kubernetes.io/managed-by": "releaseguard",
                "releaseguard.io/revision": str(spec.revision),
            },
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": KIND,
                    "name": meta.get("name"),
                    "uid": meta.get("uid"),
                    "controller": True,
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "spec": spec.to_wire(),
    }


def expected_of(check: Check | None) -> str | None:
    """What a check expects, in a few words (for a report's expected vs observed)."""
    if check is None:
        return None
    if check.http is not None:
        text = f"HTTP {' or '.join(str(s) for s in check.http.expect_status)}"
        if check.http.max_latency_ms is not None:
            text += f" within {check.http.max_latency_ms} ms"
        if check.http.json_assertions:
            text += f", {len(check.http.json_assertions)} JSON assertions"
        if check.http.json_schema is not None:
            text += ", body matching its JSON Schema"
        return text
    if check.tcp is not None:
        return f"a TCP connection to {check.tcp.host}:{check.tcp.port}"
    if check.prometheus is not None:
        p = check.prometheus
        parts = []
        if p.less_than is not None:
            parts.append(f"a value < {p.less_than:g}")
        if p.greater_than is not None:
            parts.append(f"a value > {p.greater_than:g}")
        if p.between is not None:
            parts.append(f"a value between {p.between.min:g} and {p.between.max:g}")
        if p.baseline is not None:
            parts.append("no regression against the last verified revision")
        if parts:
            text = " and ".join(parts)
            return f"{text} (more than {p.failure_limit} of {p.count} failing fails)" if p.repeated else text
    if check.command is not None:
        return f"exit {check.command.expect_exit_code}"
    if check.python is not None:
        return "imports, env, config files and pip check all fine"
    if check.pytest is not None:
        return "every selected test passes"
    return None


def _measurements(messages: Mapping[str, str | None]) -> dict[str, list[MeasurementRecord]]:
    """Every measurement of every repeated or compared prometheus check, from the Jobs' reports."""
    out: dict[str, list[MeasurementRecord]] = {}
    for text in messages.values():
        try:
            report: ProbeReport = parse_report(text or "")
        except ReportError:
            continue
        for check in report.checks:
            m = check.measurements
            if m is None:
                continue
            out[check.name] = [
                MeasurementRecord(
                    time=m.start_time + timedelta(seconds=offset) if m.start_time is not None else None,
                    value=m.value_of(i),
                    baseline_value=m.value_of(i, baseline=True),
                    result=m.result_of(i).value,
                )
                for i, offset in enumerate(m.offsets[:100])
            ]
    return out


def _attempts(messages: Mapping[str, str | None]) -> dict[str, list[AttemptRecord]]:
    """Every attempt of every check, from the Jobs' reports (a compact report may have dropped them)."""
    out: dict[str, list[AttemptRecord]] = {}
    for text in messages.values():
        if not text:
            continue
        try:
            report: ProbeReport = parse_report(text)
        except ReportError:
            continue
        for check in report.checks:
            out[check.name] = [
                AttemptRecord(
                    result=a.result.value,
                    duration_seconds=round(a.duration_seconds, 3),
                    observed=a.observed or None,
                    message=a.message[:512],
                )
                for a in check.attempts
            ]
    return out


def format_duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m"


def record_status(
    status: ReleaseVerificationStatus,
    checks: Sequence[Check],
    messages: Mapping[str, str | None],
    samples: Mapping[str, Samples] | None = None,
) -> VerificationRunStatus | None:
    """The verdict of the rv's lastRun as the record keeps it; None while the run has none.
    `samples`: the run's samples per sampled http check (issue 15), kept for later baselines."""
    run = status.last_run
    if run is None or run.verdict is None:
        return None
    by_name = {c.name: c for c in checks}
    attempts = _attempts(messages)
    measurements = _measurements(messages)
    sampled = {c.name for c in sampled_checks(checks)}
    kept = {name: samples_record(values, by_name[name]) for name, values in (samples or {}).items() if name in sampled}
    records = [
        CheckRecord(
            name=c.name,
            type=c.type,
            critical=c.critical,
            result=c.result,
            attempts=c.attempts,
            duration_seconds=c.duration_seconds,
            expected=expected_of(by_name.get(c.name)),
            observed=c.observed,
            message=c.message,
            attempt_details=attempts.get(c.name, []),
            measurements=measurements.get(c.name, []),
            samples=kept.get(c.name),
            baseline=c.baseline,
        )
        for c in run.checks
    ]
    duration = None
    if run.start_time is not None and run.finish_time is not None:
        duration = max((run.finish_time - run.start_time).total_seconds(), 0.0)
    rollback = None
    last = status.last_rollback
    if last is not None and last.from_revision == run.revision:
        rollback = RollbackRecord(
            from_revision=last.from_revision,
            to_revision=last.to_revision,
            reason=last.reason,
            applied=last.applied,
            applied_by=last.applied_by,
        )
    passed = sum(1 for c in run.checks if c.result in (CheckResultKind.PASSED, CheckResultKind.FLAKY))
    summary = f"revision {run.revision} {run.verdict.value} ({run.reason}): {run.message or ''}".rstrip(": ")
    if rollback is not None:
        done = "rolled back" if rollback.applied else "rollback recommended"
        summary += f"; {done} to revision {rollback.to_revision}"
    return VerificationRunStatus(
        phase="Finished",
        finish_time=run.finish_time,
        duration_seconds=round(duration, 3) if duration is not None else None,
        duration=format_duration(duration) if duration is not None else None,
        verdict=run.verdict,
        reason=run.reason,
        checks_summary=status.checks or (f"{passed}/{len(run.checks)}" if run.checks else "0/0"),
        checks=records,
        rollback=rollback,
        summary=summary[:1024],
    )


# --- retention and flakiness, over the rv's records -------------------------------------------


def _finished(record: Obj) -> datetime | None:
    status = record.get("status") or {}
    return _timestamp(status.get("finishTime")) or _timestamp((record.get("metadata") or {}).get("creationTimestamp"))


def _verdict(record: Obj) -> str | None:
    value = (record.get("status") or {}).get("verdict")
    return str(value) if value else None


def retention_victims(records: Sequence[Obj], retention: RetentionSpec, now: datetime, keep: str | None) -> list[str]:
    """The records to delete: beyond `count`, or finished longer than `maxAgeHours` ago. Never the
    newest Passed one, the newest Failed one, a run without a verdict, nor `keep` (the current run)."""
    ordered = newest_first(records)
    protected = {keep} if keep else set()
    for verdict in (Verdict.PASSED.value, Verdict.FAILED.value):
        found = next((r for r in ordered if _verdict(r) == verdict), None)
        if found is not None:
            protected.add(str(found["metadata"]["name"]))
    cutoff = now - timedelta(hours=retention.max_age_hours)
    victims = []
    for index, record in enumerate(ordered):
        name = str((record.get("metadata") or {}).get("name") or "")
        if name in protected or _verdict(record) is None:
            continue
        finished = _finished(record)
        if index >= retention.count or (finished is not None and finished < cutoff):
            victims.append(name)
    return victims


def flakiness(records: Sequence[Obj]) -> list[FlakyCheck]:
    """Per check, how many of the finished records show it Flaky (passed only on a retry)."""
    runs: dict[str, int] = {}
    flaky: dict[str, int] = {}
    for record in records:
        if _verdict(record) is None:
            continue
        for check in (record.get("status") or {}).get("checks") or []:
            name = str(check.get("name") or "")
            if not name or check.get("result") == CheckResultKind.SKIPPED.value:
                continue
            runs[name] = runs.get(name, 0) + 1
            if check.get("result") == CheckResultKind.FLAKY.value:
                flaky[name] = flaky.get(name, 0) + 1
    out = [
        FlakyCheck(name=name, flaky_runs=count, runs=runs[name], rate=round(count / runs[name], 3))
        for name, count in flaky.items()
    ]
    return sorted(out, key=lambda f: (-f.rate, f.name))[:64]


def newly_flaky(before: Sequence[FlakyCheck], after: Sequence[FlakyCheck]) -> list[FlakyCheck]:
    """Checks that crossed the threshold with this run (each is warned about once per crossing)."""

    def above(f: FlakyCheck) -> bool:
        return f.rate >= FLAKY_THRESHOLD and f.runs >= FLAKY_MIN_RUNS

    was = {f.name for f in before if above(f)}
    return [f for f in after if above(f) and f.name not in was]
