"""The operator's state machine as one pure function.

`decide(observed, settings)` looks at a ReleaseVerification (with its status), its Deployment and
its Jobs, and returns a Plan: the status to write, the Jobs to create or delete, the Events to
post, an optional rollback, and when to look again. Every step re-derives what to do from the
status and the Jobs, so the operator can be restarted between any two steps.

A run of revision N goes through: rollout in progress (no startTime) -> rollout complete
(startTime set) -> after delaySeconds the Jobs are named in the status and created -> the Jobs
finish -> verdict (finishTime, verdict, checks) -> maybe a rollback, recorded in lastRollback
before the Deployment is patched.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from .. import reasons
from ..api import (
    CheckResultKind,
    CheckStatus,
    Phase,
    ReleaseVerification,
    ReleaseVerificationStatus,
    RollbackPolicy,
    RollbackStatus,
    RunStatus,
    RunSummary,
    Verdict,
    parse_release_verification,
)
from ..api.spec import RejectedTemplatePolicy
from ..api.status import EarlyRun, RejectedTemplate, TargetPod, status_from_wire
from ..errors import SpecInvalidError
from ..report import ProbeReport
from .approve import approval_value, approved_rollback
from .baseline import Samples
from .conditions import (
    REJECTED_TEMPLATE,
    ROLLED_BACK,
    SPEC_VALID,
    TARGET_FOUND,
    VERIFIED,
    Status,
    get_condition,
    set_condition,
    summary_message,
)
from .early import (
    EARLY_RERUN_KEY,
    early_rv,
    new_replicaset,
    rejected,
    remember,
    template_hash_label,
    uses_pods,
)
from .jobs import (
    DEFAULT_RUNNER_IMAGE,
    DEFAULT_TTL_SECONDS,
    build_jobs,
    checks_digest,
    job_finished,
    jobs_of_run,
    refused_checks,
    run_key,
    script_configmap,
    template_hash,
    uses_script,
)
from .outcome import (
    JobOutcome,
    cap,
    check_statuses,
    in_spec_order,
    job_outcome,
    merged_outcome,
    non_critical_failures,
    passed_of_total,
)
from .own_records import shows_rejection
from .policy import Policy, policy_problems
from .record import record_name
from .revision_values import needs_revisions, revision_values
from .rollback import (
    RollbackPlan,
    RollbackRefused,
    pause_patch,
    paused_by,
    plan_rollback,
    resume_patch,
    rolled_back_from,
    undo_command,
)
from .rollout import RolloutState, desired_replicas, revision_of, rollout_state
from .sampled import attach_comparisons, baselines_from_records, judge_baselines
from .trust import controller_uid

Obj = dict[str, Any]
RUN_MESSAGE_LIMIT = 1024  # a run's message, in lastRun, history, conditions and Events
HISTORY_NAMES_LIMIT = 16  # check names kept per list in a history entry (lastRun has them all)


@dataclass(frozen=True)
class Settings:
    runner_image: str = DEFAULT_RUNNER_IMAGE
    dry_run: bool = False
    job_ttl_seconds: int = DEFAULT_TTL_SECONDS
    timeout_grace_seconds: float = 30.0
    policy: Policy = field(default_factory=Policy)
    pod_poll_seconds: float = 2.0  # how often a running verification's probe pods are looked at
    # how long a finished Job's pod may take to show its termination message (pod status can
    # trail the Job's) before the Job's own outcome stands in for the report
    message_grace_seconds: float = 2.0


@dataclass(frozen=True)
class Observed:
    body: Obj  # the RV as read from the API: metadata, spec, status
    deployment: Obj | None
    jobs: Mapping[str, Obj]  # this RV's Jobs, by name
    messages: Mapping[str, str | None]  # termination messages of finished Jobs (None: there is none)
    now: datetime
    problems: Mapping[str, str] = field(default_factory=dict)  # Jobs whose pod cannot report (core.trust)
    rollback_owner: str | None = None  # the rv that rolls this Deployment back (see rollback_owner)
    # Jobs of the current run that can never finish on their own (their pod cannot start, or the
    # API refused to create them), with the pod's or the server's own message
    stuck_jobs: Mapping[str, str] = field(default_factory=dict)
    # why the new revision's containers fail (core.pods.container_trouble), read on a stalled rollout
    rollout_trouble: tuple[str, ...] = ()
    # the Deployment's new revision is someone's by-hand rollback to the recommended revision
    rolled_back_by_hand: bool = False
    # the Deployment's ReplicaSets, read only when a plan asks for them (Plan.needs_replicasets)
    replicasets: Sequence[Obj] | None = None
    # the API server's refusal (422) of this rv's last rollback patch, which then did not happen
    rollback_failure: str | None = None
    # finished Jobs whose pod shows no termination message yet, with when they were first seen finished
    unreported_since: Mapping[str, datetime] = field(default_factory=dict)
    # the ready pods of the new revision, observed when a check names a pod ({{ .PodIP }})
    new_pods: Sequence[TargetPod] | None = None
    # issue 15: the current run's samples per sampled http check (from the trusted probe pod's
    # log), and this rv's VerificationRuns (read when a run with baseline checks is finishing)
    samples: Mapping[str, Samples] = field(default_factory=dict)
    # this rv's own VerificationRuns (controlled by its uid); None: not read (Plan.wants_records)
    records: Sequence[Obj] | None = None


@dataclass(frozen=True)
class Event:
    on: Literal["rv", "deployment"]
    reason: str
    message: str
    type: Literal["Normal", "Warning"] = "Normal"
    if_rolled_back: bool = False  # posted only when the plan's rollback patch lands
    # the run it belongs to ("revision/start"), when that is not the plan's last run (core.events)
    run: str | None = None


@dataclass(frozen=True)
class RollbackRequest:
    from_revision: int
    to_revision: int
    reason: str
    reapply: bool = False  # a rollback already recorded; "template already matches" means done
    unpause: bool = False  # the operator paused the Deployment first: the patch resumes it
    patch: tuple[Obj, ...] | None = None  # the JSON patch, once the ReplicaSets were observed


@dataclass(frozen=True)
class VerdictRecord:
    """What metrics need to know about a verdict reached by this plan."""

    revision: int
    verdict: Verdict
    reason: str
    duration_seconds: float | None  # from the Jobs' launch to the verdict
    rollout_to_verdict_seconds: float | None  # from the rollout's completion to the verdict
    checks: list[CheckStatus]


@dataclass
class Plan:
    status: ReleaseVerificationStatus
    create_jobs: list[Obj] = field(default_factory=list)
    create_configmaps: list[Obj] = field(default_factory=list)  # created (content-named, immutable) before the Jobs
    delete_jobs: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    rollback: RollbackRequest | None = None
    requeue_after: float | None = None
    log: list[str] = field(default_factory=list)
    verdict: VerdictRecord | None = None
    # JSON patches of the Deployment: `pause` right after the status write, before the rollback (and
    # only with a rollback patch that resumes it); `resume` a pause of ours whose rollback was refused
    pause: tuple[Obj, ...] | None = None
    resume: tuple[Obj, ...] | None = None
    # the plan launches Jobs whose queries name revisions (core.revision_values), unknown without them
    wants_replicasets: bool = False
    # the decision rests on this rv's own records (a rejected template's run): decide again with them
    wants_records: bool = False

    @property
    def needs_replicasets(self) -> bool:
        """The plan rolls back, and only the ReplicaSets can say how; or it launches Jobs that need
        the revisions' pod-template hashes: decide again with them."""
        return (self.rollback is not None and self.rollback.patch is None) or self.wants_replicasets


class _Run:
    """Helpers bound to one decision: the status being built and the plan."""

    def __init__(self, observed: Observed, status: ReleaseVerificationStatus, plan: Plan) -> None:
        self.observed = observed
        self.status = status
        self.plan = plan
        self.now = observed.now
        meta = observed.body.get("metadata") or {}
        self.name = str(meta.get("name", ""))
        self.namespace = str(meta.get("namespace", ""))
        generation = meta.get("generation")
        self.generation = generation if isinstance(generation, int) else None

    def condition(self, type_: str, status: Status, reason: str, message: str) -> None:
        self.status.conditions = set_condition(
            self.status.conditions, type_, status, reason, message, self.now, self.generation
        )

    def log(self, line: str) -> None:
        self.plan.log.append(f"{self.namespace}/{self.name}: {line}")

    def event(
        self, reason: str, message: str, type_: Literal["Normal", "Warning"] = "Normal", if_rolled_back: bool = False
    ) -> None:
        self.plan.events.append(Event("rv", reason, message, type_, if_rolled_back))
        if self.observed.deployment is not None:
            self.plan.events.append(Event("deployment", reason, f"{self.name}: {message}", type_, if_rolled_back))

    def delete_active_jobs(self, keep: Collection[str] = ()) -> None:
        """Stop every running Job of this rv that is not one of `keep` (the current run's)."""
        for name, job in sorted(self.observed.jobs.items()):
            if name not in keep and not job_finished(job) and name not in self.plan.delete_jobs:
                self.plan.delete_jobs.append(name)


def rollback_owner(rvs: Collection[Obj], settings: Settings) -> str | None:
    """Of the rvs targeting one Deployment, the one that rolls it back on its own: the oldest (by
    creationTimestamp, then name) of those that are valid, within the operator's policy and under
    rollback.policy Automatic. The others verify and report; one failure never causes two
    rollbacks racing each other, and an invalid, Manual or Never rv never takes the rollbacks away
    from the one that may do them."""
    candidates = [body for body in rvs if _rolls_back_on_its_own(body, settings)]
    if not candidates:
        return None

    def age(body: Obj) -> tuple[str, str]:
        meta = body.get("metadata") or {}
        return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")

    return age(min(candidates, key=age))[1]


def _rolls_back_on_its_own(body: Obj, settings: Settings) -> bool:
    try:
        rv = parse_release_verification({k: v for k, v in body.items() if k != "status"})
    except SpecInvalidError:
        return False
    if policy_problems(rv, settings.policy, settings.runner_image):
        return False
    return rv.spec.rollback.policy is RollbackPolicy.AUTOMATIC


RERUN_ANNOTATION = "releaseguard.io/rerun"
RERUN_TOKEN_LIMIT = 128  # characters of the annotation's value kept (status.lastRun.rerun)


def decide(observed: Observed, settings: Settings) -> Plan:
    """The plan for what is observed. One that rolls back without the Deployment's ReplicaSets
    observed has `needs_replicasets`: decide again with them to get the patch, or the refusal."""
    plan = _decide(observed, settings)
    _plan_rollback(plan, observed)
    _resume_refused(plan, observed, settings)
    plan.status.message = _summary(plan.status)
    run = plan.status.last_run
    if run is not None and run.start_time is not None and run.record is None:
        run.record = record_name(str((observed.body.get("metadata") or {}).get("name") or ""), run)
    return plan


def _revisions(ctx: _Run, rv: ReleaseVerification, deployment: Obj, revision: int) -> dict[str, str] | None:
    """The template variables' values for the runner Job, when a check needs them; without the
    ReplicaSets observed, the plan asks for them (and is decided again)."""
    if not needs_revisions(rv.spec.checks):
        return None
    if ctx.observed.replicasets is None:
        ctx.plan.wants_replicasets = True
        return None
    return revision_values(deployment, ctx.observed.replicasets, revision, ctx.status.last_good_revision)


def _rerun_of(run: RunStatus) -> str | None:
    """The re-run request a run answers (its Jobs are named apart from the earlier runs')."""
    return run.rerun if run.trigger == "Rerun" else None


def _probe_jobs(
    settings: Settings,
    rv: ReleaseVerification,
    uid: str,
    deployment: Obj,
    revision: int,
    rerun: str | None,
    target_pods: Sequence[tuple[str, str]],
    revisions: Mapping[str, str | None] | None = None,
) -> list[Obj]:
    """build_jobs with the operator's settings: all of a run's Jobs (the caller picks those not there yet)."""
    return build_jobs(
        rv,
        uid,
        deployment,
        revision,
        settings.runner_image,
        settings.job_ttl_seconds,
        settings.policy.denied_networks,
        rerun,
        target_pods,
        revisions,
    )


def _run_jobs(
    ctx: _Run, settings: Settings, rv: ReleaseVerification, run: RunStatus, deployment: Obj, revision: int, uid: str
) -> list[Obj]:
    """The Jobs of `run`'s own checks on `revision`."""
    pods, revisions = _pods_of(rv, ctx.observed), _revisions(ctx, rv, deployment, revision)
    return _probe_jobs(settings, rv, uid, deployment, revision, _rerun_of(run), pods, revisions)


def _rerun_token(body: Obj) -> str | None:
    value = ((body.get("metadata") or {}).get("annotations") or {}).get(RERUN_ANNOTATION)
    return str(value)[:RERUN_TOKEN_LIMIT] if value else None


def _summary(status: ReleaseVerificationStatus) -> str | None:
    last = status.last_rollback
    concerns = last is not None and last.from_revision == status.current_revision
    return summary_message(status.conditions, concerns)


def _decide(observed: Observed, settings: Settings) -> Plan:
    status = status_from_wire(observed.body.get("status")).model_copy(deep=True)
    plan = Plan(status=status)
    ctx = _Run(observed, status, plan)
    status.observed_generation = ctx.generation

    try:
        rv = parse_release_verification({k: v for k, v in observed.body.items() if k != "status"})
    except SpecInvalidError as exc:
        message = "; ".join(str(e) for e in exc.errors)
        previous = get_condition(status.conditions, SPEC_VALID)
        if previous is None or previous.status != "False" or previous.message != message:
            ctx.log(f"invalid spec: {message}")
            ctx.event(reasons.INVALID_SPEC, f"invalid spec: {message}", "Warning")
        ctx.condition(SPEC_VALID, "False", reasons.INVALID_SPEC, message)
        status.phase = Phase.ERROR
        ctx.delete_active_jobs()
        return plan
    refused = policy_problems(rv, settings.policy, settings.runner_image)
    if refused:
        message = "; ".join(str(e) for e in refused)
        if get_condition(status.conditions, SPEC_VALID) is None or status.phase is not Phase.ERROR:
            ctx.log(f"refused by the operator's policy: {message}")
        ctx.condition(SPEC_VALID, "False", reasons.POLICY_VIOLATION, message)
        status.phase = Phase.ERROR
        ctx.delete_active_jobs()
        return plan
    ctx.condition(SPEC_VALID, "True", "Valid", f"{len(rv.spec.checks)} checks")

    deployment = observed.deployment
    target = rv.spec.target_ref.name
    if deployment is None:
        if get_condition(status.conditions, TARGET_FOUND) is None or status.phase is not Phase.PENDING:
            ctx.log(f"Deployment {target} not found; waiting for it")
        ctx.condition(
            TARGET_FOUND,
            "False",
            reasons.DEPLOYMENT_NOT_FOUND,
            f"Deployment {target} not found in namespace {rv.namespace}; verification starts when it appears",
        )
        verified = get_condition(status.conditions, VERIFIED)
        if verified is not None and verified.status != "Unknown":
            ctx.condition(VERIFIED, "Unknown", reasons.DEPLOYMENT_NOT_FOUND, f"Deployment {target} does not exist")
        status.phase = Phase.PENDING
        ctx.delete_active_jobs()
        return plan

    revision = revision_of(deployment)
    if revision is None:
        ctx.condition(TARGET_FOUND, "True", reasons.DEPLOYMENT_FOUND, f"Deployment {target} has no revision yet")
        status.phase = status.phase or Phase.PENDING
        return plan
    ctx.condition(TARGET_FOUND, "True", reasons.DEPLOYMENT_FOUND, f"Deployment {target} is at revision {revision}")

    dep_uid = str((deployment.get("metadata") or {}).get("uid") or "") or None
    if status.target_uid is not None and dep_uid is not None and status.target_uid != dep_uid:
        ctx.log(f"Deployment {target} was replaced (uid {status.target_uid} -> {dep_uid}); its history starts fresh")
        _forget_target(ctx)
        replaced = True
    else:
        replaced = False
    status.target_uid = dep_uid or status.target_uid
    digest = checks_digest(rv.spec.checks)
    run = status.last_run
    trigger = reasons.TARGET_REPLACED if replaced else _trigger(run, revision, dep_uid, digest)
    rerun = _rerun_token(observed.body)
    if trigger is None and run is not None and run.verdict is not None and rerun != run.rerun:
        trigger = "Rerun"  # someone asked for it (releaseguard rerun, or the annotation by hand)
    if run is None or trigger is not None:
        if run is not None and run.verdict is None:
            ctx.log(f"the run of revision {run.revision} is superseded ({trigger}); stopping its checks")
            ctx.plan.events.append(
                Event(
                    "rv",
                    reasons.VERIFICATION_SUPERSEDED,
                    f"revision {revision} ({trigger}) superseded revision {run.revision}",
                )
            )
        run = RunStatus(
            revision=revision,
            target_uid=dep_uid,
            checks_digest=digest,
            trigger=trigger or reasons.NEW_REVISION,
            rerun=rerun,
            template_digest=template_hash(deployment),
        )
        status.last_run = run
        status.current_revision = revision
        status.checks = None
        if not _is_rollback_result(revision, deployment, status):
            rolled = get_condition(status.conditions, ROLLED_BACK)
            if rolled is not None and rolled.status == "True":
                ctx.condition(ROLLED_BACK, "False", reasons.NEW_REVISION, f"revision {revision} replaced the rollback")
        ctx.log(f"revision {revision} of Deployment {target}: a new run ({run.trigger}); waiting for its rollout")
        _record_rollback_by_hand(ctx, target, revision)
        if _recognise_rejected(ctx, rv, run, deployment, settings):
            return plan
    ctx.delete_active_jobs(keep=[*run.jobs, *(run.early.jobs if run.early else [])])

    if run.verdict is not None:
        _settle(ctx, run)
        _carry_out_approval(ctx, rv, revision, settings)
        last = status.last_rollback
        if (
            plan.rollback is None  # not the approval just carried out
            and last is not None
            and rolled_back_from(deployment) != revision  # our patch has not landed yet
            and not settings.dry_run
            and _ours_to_reapply(ctx, rv, revision)
        ):
            uid = str((observed.body.get("metadata") or {}).get("uid", ""))
            plan.rollback = RollbackRequest(
                revision, last.to_revision, last.reason, reapply=True, unpause=paused_by(deployment, uid)
            )
        return plan

    if not run.jobs:
        if run.start_time is None:
            last = status.last_rollback
            started = last.time if last is not None and _is_rollback_result(revision, deployment, status) else None
            state, why = rollout_state(deployment, started)
            if state is RolloutState.STALLED:
                trouble = "".join(f"; {line}" for line in observed.rollout_trouble)
                message = f"rollout stalled: {why}{trouble}"
                _finish(ctx, rv, run, settings, Verdict.FAILED, reasons.ROLLOUT_STALLED, message, None)
                return plan
            if _early_step(ctx, rv, run, deployment, settings, state is RolloutState.COMPLETE):
                return plan
            if state is not RolloutState.COMPLETE:
                status.phase = Phase.WAITING
                reason = reasons.ROLLOUT_PAUSED if state is RolloutState.PAUSED else reasons.ROLLOUT_IN_PROGRESS
                ctx.condition(VERIFIED, "Unknown", reason, f"revision {revision}: {why}")
                return plan
            run.start_time = observed.now
            ctx.log(f"revision {revision} rolled out ({why}); checks start in {rv.spec.delay_seconds}s")
        launch_at = run.start_time + timedelta(seconds=rv.spec.delay_seconds)
        if observed.now < launch_at:
            status.phase = Phase.WAITING
            ctx.condition(VERIFIED, "Unknown", "Delaying", f"revision {revision}: checks start at {launch_at:%H:%M:%S}")
            plan.requeue_after = (launch_at - observed.now).total_seconds()
            return plan
        uid = str((observed.body.get("metadata") or {}).get("uid", ""))
        jobs = _run_jobs(ctx, settings, rv, run, deployment, revision, uid)
        if not jobs:  # every check was refused before it could run
            report = merged_outcome(_refused_outcomes(rv, deployment, observed.now))
            _finish_with_report(ctx, rv, run, settings, report)
            return plan
        run.jobs = [j["metadata"]["name"] for j in jobs]
        plan.create_jobs = [j for j in jobs if j["metadata"]["name"] not in observed.jobs]
        plan.create_configmaps = _configmaps_for(rv, uid, plan.create_jobs)
        status.phase = Phase.VERIFYING
        message = f"running {len(rv.spec.checks)} checks on revision {revision} in {len(jobs)} Jobs"
        ctx.condition(VERIFIED, "Unknown", "ChecksRunning", message)
        ctx.event(reasons.VERIFICATION_STARTED, message)
        ctx.log(message)
        # looked at again soon even without a Job event: a Job whose pod ended is read again then
        # (the Job's watch may be cut or relisting); later looks keep this pace until the deadline
        plan.requeue_after = min(settings.pod_poll_seconds, rv.spec.timeout_seconds + settings.timeout_grace_seconds)
        return plan

    rv_uid = str((observed.body.get("metadata") or {}).get("uid", ""))
    stale, foreign = _unfit_jobs(observed, run, rv_uid)
    plan.delete_jobs += [n for n in stale if n not in plan.delete_jobs]
    stuck = {n: observed.stuck_jobs[n] for n in run.jobs if n in observed.stuck_jobs}
    stuck = {n: why for n, why in stuck.items() if n not in observed.jobs or not job_finished(observed.jobs[n])}
    if stuck:
        message = "; ".join(f"Job {n}: {why}" for n, why in sorted(stuck.items()))
        plan.delete_jobs += [n for n in run.jobs if n in observed.jobs and not job_finished(observed.jobs[n])]
        report = _stuck_report(rv, run, observed, deployment, stuck, message)
        if report.verdict is Verdict.FAILED:  # a check that did run and fail still counts
            _finish_with_report(ctx, rv, run, settings, report)
        else:
            _finish(ctx, rv, run, settings, Verdict.ERROR, reasons.PROBE_CANNOT_START, message, report)
        return plan
    missing = [n for n in run.jobs if n not in observed.jobs]
    if missing:
        jobs = _run_jobs(ctx, settings, rv, run, deployment, revision, rv_uid)
        plan.create_jobs = [j for j in jobs if j["metadata"]["name"] in missing]
        plan.create_configmaps = _configmaps_for(rv, rv_uid, plan.create_jobs)
    launched = (run.start_time or observed.now) + timedelta(seconds=rv.spec.delay_seconds)
    deadline = launched + timedelta(seconds=rv.spec.timeout_seconds + settings.timeout_grace_seconds)
    problems = dict(observed.problems)
    for name in foreign:
        problems[name] = f"Job {name} exists but is not controlled by this ReleaseVerification; no report trusted"
    awaited = {
        n: grace
        for n, since in observed.unreported_since.items()
        if n not in problems and (grace := settings.message_grace_seconds - (observed.now - since).total_seconds()) > 0
    }
    done = {
        n: job
        for n in run.jobs
        if (job := observed.jobs.get(n)) is not None
        and n not in stale
        and n not in awaited
        and (n in problems or job_finished(job))
    }
    if len(done) == len(run.jobs):
        groups = jobs_of_run(rv, revision, run_key(deployment, rv.spec.checks, _rerun_of(run)))
        outcomes = [
            job_outcome(
                done[n],
                observed.messages.get(n),
                groups[n].checks if n in groups else (),
                in_runner=n in groups and groups[n].is_runner,
                problem=problems.get(n),
                now=observed.now,
            )
            for n in run.jobs
        ]
        outcomes += _refused_outcomes(rv, deployment, observed.now)
        report = in_spec_order(merged_outcome(outcomes), rv.spec.checks)
        baselines = baselines_from_records(
            rv.spec.checks, observed.records or (), current=run.record, target_uid=run.target_uid or dep_uid
        )
        report, comparisons = judge_baselines(report, rv.spec.checks, observed.samples, baselines)
        _finish_with_report(ctx, rv, run, settings, report)
        attach_comparisons(run.checks, comparisons)
        return plan
    if observed.now >= deadline:
        message = f"the checks did not finish within {rv.spec.timeout_seconds}s"
        plan.delete_jobs += [n for n in run.jobs if n in observed.jobs and n not in done]
        _finish(ctx, rv, run, settings, Verdict.ERROR, "Timeout", message, None)
        return plan
    status.phase = Phase.VERIFYING
    plan.requeue_after = min(
        (deadline - observed.now).total_seconds(), settings.pod_poll_seconds, *(min(g, 0.25) for g in awaited.values())
    )
    return plan


def _ours_to_reapply(ctx: _Run, rv: ReleaseVerification, revision: int) -> bool:
    """Whether the recorded rollback is one this operator decided, so that its patch (lost to a
    crash or a cut connection) may be applied again: the failed run of this revision rolled back
    to lastGoodRevision under Automatic, or an approval under Manual that the rv still carries. A
    status claiming anything else is not acted on: the status is an output, never an instruction."""
    status = ctx.status
    last, run = status.last_rollback, status.last_run
    if last is None or not last.applied or last.from_revision != revision:
        return False
    if run is None or run.revision != revision or run.verdict is not Verdict.FAILED:
        return False
    policy = rv.spec.rollback.policy
    if last.applied_by == "releaseguard":
        return policy is RollbackPolicy.AUTOMATIC and last.to_revision == status.last_good_revision
    if (last.applied_by or "").startswith("approved:"):
        return (
            policy is RollbackPolicy.MANUAL
            and run.record is not None
            and approval_value(ctx.observed.body) == run.record
            and last.to_revision == status.last_good_revision
        )
    return False


def _by_operator(applied_by: str | None) -> bool:
    """Whether the operator itself carried the rollback out (on its own, or approved)."""
    return applied_by == "releaseguard" or (applied_by or "").startswith("approved:")


def _settle(ctx: _Run, run: RunStatus) -> None:
    """Phase and Verified condition of a run that has its verdict, derived from the recorded run
    alone: whatever an earlier decision wrote meanwhile (say Pending, before a restarted
    operator's caches were filled), a verified revision reads Verified."""
    status = ctx.status
    last = status.last_rollback
    if run.verdict is Verdict.PASSED:
        status.phase = Phase.VERIFIED
    elif run.verdict is Verdict.ERROR:
        status.phase = Phase.ERROR
    elif last is not None and last.applied and _by_operator(last.applied_by) and last.from_revision == run.revision:
        status.phase = Phase.ROLLED_BACK
    else:
        status.phase = Phase.FAILED
    verdict = run.verdict or Verdict.ERROR
    want: Status = "True" if verdict is Verdict.PASSED else "False"
    verified = get_condition(status.conditions, VERIFIED)
    if verified is None or verified.status != want:
        ctx.condition(VERIFIED, want, run.reason or verdict.value, f"revision {run.revision}: {run.message or ''}")


def _trigger(run: RunStatus | None, revision: int, dep_uid: str | None, digest: str) -> str | None:
    """Why a new run must start, or None when `run` still verifies the target as it is."""
    if run is None or run.revision != revision:
        return reasons.NEW_REVISION
    if run.target_uid is not None and dep_uid is not None and run.target_uid != dep_uid:
        return reasons.TARGET_REPLACED
    if run.checks_digest is not None and run.checks_digest != digest:
        return reasons.CHECKS_CHANGED
    return None


def _forget_target(ctx: _Run) -> None:
    """A new Deployment under the old name: its revisions are not the old one's."""
    status = ctx.status
    status.last_good_revision = None
    status.last_rollback = None
    status.last_run = None
    status.last_verified_revision = None
    status.last_verified_time = None
    status.current_revision = None
    status.checks = None
    rolled = get_condition(status.conditions, ROLLED_BACK)
    if rolled is not None and rolled.status == "True":
        ctx.condition(ROLLED_BACK, "False", reasons.TARGET_REPLACED, "the Deployment was replaced")


def _unfit_jobs(observed: Observed, run: RunStatus, rv_uid: str) -> tuple[list[str], list[str]]:
    """The current run's Job names whose Job cannot count: `stale` ones are this rv's but were
    created before the run began (deleted and made again), `foreign` ones are not this rv's."""
    stale: list[str] = []
    foreign: list[str] = []
    began = run.start_time.replace(microsecond=0) if run.start_time is not None else None
    for name in run.jobs:
        job = observed.jobs.get(name)
        if job is None:
            continue
        if controller_uid(job) != rv_uid:
            foreign.append(name)
            continue
        created = _timestamp((job.get("metadata") or {}).get("creationTimestamp"))
        if began is not None and created is not None and created < began:
            stale.append(name)
    return stale, foreign


def _timestamp(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def _refused_outcomes(rv: ReleaseVerification, deployment: Obj, now: datetime) -> list[JobOutcome]:
    """Checks whose pod could not be built under the restricted profile: Error, naming the field."""
    refused = refused_checks(rv, deployment)
    by_name = {c.name: c for c in rv.spec.checks}
    stand_in: Obj = {"metadata": {"name": "pod-security"}, "status": {"completionTime": now.isoformat()}}
    return [
        job_outcome(
            stand_in,
            None,
            (by_name[name],),
            in_runner=False,
            problem=f"PodSecurityRestricted: {exc} (the probe pod must satisfy the restricted Pod Security profile)",
            now=now,
        )
        for name, exc in refused.items()
    ]


def _stuck_report(
    rv: ReleaseVerification, run: RunStatus, observed: Observed, deployment: Obj, stuck: Mapping[str, str], why: str
) -> ProbeReport:
    """The run ended early because some Jobs can never start: their checks are Error with the pod's
    own words, those of Jobs cut short are Error too, and those that finished keep their results."""
    groups = jobs_of_run(rv, run.revision, run_key(deployment, rv.spec.checks, _rerun_of(run)))
    outcomes = []
    for name in run.jobs:
        job = observed.jobs.get(name)
        finished = job is not None and name not in stuck and job_finished(job)
        problem = stuck.get(name) or (None if finished else f"stopped before it finished: {why}")
        stand_in: Obj = {"metadata": {"name": name}, "status": {"completionTime": observed.now.isoformat()}}
        outcomes.append(
            job_outcome(
                job if finished and job is not None else stand_in,
                observed.messages.get(name) if finished else None,
                groups[name].checks if name in groups else (),
                in_runner=name in groups and groups[name].is_runner,
                problem=problem,
                now=observed.now,
            )
        )
    outcomes += _refused_outcomes(rv, deployment, observed.now)
    return in_spec_order(merged_outcome(outcomes), rv.spec.checks)


def _configmaps_for(rv: ReleaseVerification, uid: str, jobs: list[Obj]) -> list[Obj]:
    """The check-script ConfigMap, when a Job in the target's image is about to be created."""
    return [script_configmap(rv, uid)] if any(uses_script(j) for j in jobs) else []


def _finish_with_report(
    ctx: _Run, rv: ReleaseVerification, run: RunStatus, settings: Settings, report: ProbeReport
) -> None:
    verdict, reason = report.verdict, "ChecksPassed"
    soft = non_critical_failures(report)
    if verdict is Verdict.FAILED:
        reason = reasons.CRITICAL_CHECKS_FAILED
    elif verdict is Verdict.ERROR:
        reason = reasons.RUNNER_ERROR
    elif soft and rv.spec.rollback.on_non_critical_failure:
        verdict, reason = Verdict.FAILED, reasons.NON_CRITICAL_CHECKS_FAILED
    message = report.message
    if verdict is Verdict.FAILED and reason == reasons.NON_CRITICAL_CHECKS_FAILED:
        message = f"non-critical checks failed (rollback.onNonCriticalFailure is set): {', '.join(soft)}"
    deployment = ctx.observed.deployment
    if verdict is Verdict.FAILED and deployment is not None and desired_replicas(deployment) == 0:
        # No pod to judge: the failure says nothing about the release, so it never rolls back.
        verdict, reason = Verdict.ERROR, reasons.TARGET_SCALED_TO_ZERO
        message = (
            f"Deployment {rv.spec.target_ref.name} has 0 replicas, so the checks judged no pod of revision "
            f"{run.revision} ({message})"
        )
    _finish(ctx, rv, run, settings, verdict, reason, message, report)


def _finish(
    ctx: _Run,
    rv: ReleaseVerification,
    run: RunStatus,
    settings: Settings,
    verdict: Verdict,
    reason: str,
    message: str,
    report: ProbeReport | None,
) -> None:
    status, now = ctx.status, ctx.now
    message = cap(message, RUN_MESSAGE_LIMIT)
    checks = check_statuses(report) if report is not None else []
    was_rollback = _is_rollback_result(run.revision, ctx.observed.deployment or {}, status)
    run.finish_time = now
    run.start_time = run.start_time or now
    run.verdict = verdict
    run.reason = reason
    run.message = message
    run.checks = checks
    if report is not None:
        passed, total = passed_of_total(report)
        status.checks = f"{passed}/{total}"
    status.last_verified_revision = run.revision
    status.last_verified_time = now
    failed = [c.name for c in checks if c.result in (CheckResultKind.FAILED, CheckResultKind.ERROR)]
    critical = [c.name for c in checks if c.name in failed and c.critical]
    summary = RunSummary(
        revision=run.revision,
        verdict=verdict,
        reason=reason,
        message=message,
        finish_time=now,
        failed_checks=failed[:HISTORY_NAMES_LIMIT],
        failed_critical_checks=critical[:HISTORY_NAMES_LIMIT],
    )
    revision = run.revision

    if verdict is Verdict.PASSED:
        if run.template_digest is not None:  # verified now: no longer a rejected template
            status.rejected_templates = [
                r for r in status.rejected_templates if r.template_digest != run.template_digest
            ]
        status.last_good_revision = revision
        status.phase = Phase.VERIFIED
        ctx.condition(VERIFIED, "True", reason, f"revision {revision}: {message}")
        ctx.event(reasons.VERIFICATION_SUCCEEDED, f"revision {revision} verified: {message}")
        ctx.log(f"revision {revision} verified: {message}")
    else:
        status.phase = Phase.ERROR if verdict is Verdict.ERROR else Phase.FAILED
        ctx.condition(VERIFIED, "False", reason, f"revision {revision}: {message}")
        if reason == reasons.ROLLOUT_STALLED:
            ctx.event(reasons.ROLLOUT_STALLED, f"revision {revision}: {message}", "Warning")
        ctx.event(
            reasons.VERIFICATION_FAILED, f"revision {revision} failed verification ({reason}): {message}", "Warning"
        )
        ctx.log(f"revision {revision} failed verification ({reason}): {message}")
        if verdict is Verdict.FAILED:
            summary.rolled_back_to = _decide_rollback(ctx, rv, revision, reason, message, settings, was_rollback)

    status.history = [summary, *status.history][: rv.spec.history_limit]
    start = run.start_time
    launched = start + timedelta(seconds=rv.spec.delay_seconds) if start else None
    ctx.plan.verdict = VerdictRecord(
        revision=revision,
        verdict=verdict,
        reason=reason,
        duration_seconds=max((now - launched).total_seconds(), 0.0) if launched and run.jobs else None,
        rollout_to_verdict_seconds=(now - start).total_seconds() if start else None,
        checks=checks,
    )


def _decide_rollback(
    ctx: _Run,
    rv: ReleaseVerification,
    revision: int,
    reason: str,
    message: str,
    settings: Settings,
    was_rollback: bool,
) -> int | None:
    status = ctx.status
    policy = rv.spec.rollback.policy
    good = status.last_good_revision
    target = rv.spec.target_ref.name

    def skip(why: str, text: str, event: bool = True) -> None:
        ctx.condition(ROLLED_BACK, "False", why, text)
        if event:
            ctx.event(reasons.ROLLBACK_SKIPPED, text, "Warning")
        ctx.log(f"rollback skipped ({why}): {text}")

    if was_rollback:
        to = status.last_rollback.to_revision if status.last_rollback else good
        skip(
            reasons.ROLLBACK_RESULT_FAILED,
            f"revision {revision} is the rollback to revision {to}; it is not rolled back again",
        )
        return None
    if policy is RollbackPolicy.NEVER:
        skip(reasons.POLICY_NEVER, "rollback policy is Never: the failure is recorded, nothing is changed", event=False)
        return None
    owner = ctx.observed.rollback_owner
    if owner is not None and owner != ctx.name:
        skip(
            reasons.ROLLBACK_OWNED_ELSEWHERE,
            f"ReleaseVerification {owner} also targets Deployment {target} and owns its rollbacks "
            "(the oldest one does); this one reports only",
        )
        return None
    run = status.last_run
    if run is not None and run.trigger == "Rerun":
        skip(
            "Rerun",
            f"revision {revision} failed a re-run; a re-run reports and recommends, it does not roll back: "
            f"to roll back, run: {undo_command(target, good, rv.namespace)}"
            if good is not None and good < revision
            else f"revision {revision} failed a re-run; a re-run reports, it does not roll back",
        )
        return None
    if run is not None and run.trigger == reasons.CHECKS_CHANGED:
        skip(
            reasons.CHECKS_CHANGED,
            f"revision {revision} was re-verified because the checks changed; a release already judged "
            "under the old checks is reported, not rolled back",
        )
        return None
    if good is None or good >= revision:
        skip(
            reasons.NO_GOOD_REVISION,
            f"no earlier revision of Deployment {target} passed verification; nothing to roll back to",
        )
        return None
    record = RollbackStatus(from_revision=revision, to_revision=good, time=ctx.now, reason=reason, applied=False)
    if policy is RollbackPolicy.MANUAL or settings.dry_run:
        why = reasons.MANUAL_POLICY if policy is RollbackPolicy.MANUAL else reasons.DRY_RUN
        status.last_rollback = record
        command = undo_command(target, good, rv.namespace)
        skip(
            why,
            f"would roll back Deployment {target} from revision {revision} to revision {good} ({why}); "
            f"to roll back, run: {command}",
        )
        return None
    record.applied, record.applied_by = True, "releaseguard"
    status.last_rollback = record
    status.phase = Phase.ROLLED_BACK
    text = f"rolled back Deployment {target} from revision {revision} to revision {good}: {message}"
    ctx.condition(ROLLED_BACK, "True", reason, text)
    ctx.event(reasons.ROLLED_BACK, text, "Warning", if_rolled_back=True)
    ctx.log(text)
    ctx.plan.rollback = RollbackRequest(revision, good, reason)
    _remember_rejected(ctx, rv, revision, reason)
    return good


def _carry_out_approval(ctx: _Run, rv: ReleaseVerification, revision: int, settings: Settings) -> None:
    """A recommended rollback someone approved (releaseguard approve): do it, once."""
    approval = approved_rollback(ctx.observed.body, ctx.status, revision)
    last = ctx.status.last_rollback
    if approval is None or settings.dry_run or last is None:
        return
    if rv.spec.rollback.policy is not RollbackPolicy.MANUAL:
        # the policy at the moment of approval decides: under Never nothing is changed, under
        # Automatic the operator itself decides its rollbacks
        ctx.log(
            f"approval of the rollback after {approval.from_revision} ignored: rollback.policy is {rv.spec.rollback.policy}"
        )
        return
    status, target = ctx.status, rv.spec.target_ref.name
    last.applied, last.applied_by, last.time = True, f"approved:{approval.by}", ctx.now
    for entry in status.history:
        if entry.revision == approval.from_revision and entry.rolled_back_to is None:
            entry.rolled_back_to = approval.to_revision
            break
    status.phase = Phase.ROLLED_BACK
    text = (
        f"rolled back Deployment {target} from revision {approval.from_revision} to revision "
        f"{approval.to_revision}, approved by {approval.by}"
    )
    ctx.condition(ROLLED_BACK, "True", reasons.ROLLBACK_APPROVED, text)
    ctx.event(reasons.ROLLED_BACK, text, "Warning", if_rolled_back=True)
    ctx.log(text)
    ctx.plan.rollback = RollbackRequest(approval.from_revision, approval.to_revision, approval.reason)


def _record_rollback_by_hand(ctx: _Run, target: str, revision: int) -> None:
    """A recommended rollback (Manual, --dry-run) that someone then did: record it as done."""
    status, last = ctx.status, ctx.status.last_rollback
    if not ctx.observed.rolled_back_by_hand or last is None or last.applied or revision <= last.from_revision:
        return
    last.applied, last.applied_by, last.time = True, "user", ctx.now
    for entry in status.history:
        if entry.revision == last.from_revision and entry.rolled_back_to is None:
            entry.rolled_back_to = last.to_revision
            break
    text = (
        f"Deployment {target} was rolled back by hand from revision {last.from_revision} to revision "
        f"{last.to_revision} (now revision {revision})"
    )
    ctx.condition(ROLLED_BACK, "True", reasons.ROLLED_BACK_BY_HAND, text)
    ctx.event(reasons.ROLLED_BACK_BY_HAND, text)
    ctx.log(text)


def _is_rollback_result(revision: int, deployment: Obj, status: ReleaseVerificationStatus) -> bool:
    """Whether `revision` is the one our last rollback produced (it is verified, never rolled back).

    Our patch only lands while the failed revision is the Deployment's newest (its JSON patch tests
    the revision annotation), and the deployment controller numbers the re-used ReplicaSet max+1:
    so the rollback's result is exactly `from_revision + 1`, and any later release is newer still.
    Also required: the Deployment carries our rollback annotation naming that revision, and the last
    recorded verdict was the failure we rolled back from.
    """
    last = status.last_rollback
    if last is None or not last.applied or revision != last.from_revision + 1:
        return False
    if rolled_back_from(deployment) != last.from_revision:
        return False
    previous = status.history[0] if status.history else None
    return previous is not None and previous.revision == last.from_revision and previous.rolled_back_to is not None


def _plan_rollback(plan: Plan, observed: Observed) -> None:
    """Turn the plan's rollback into its JSON patch, kubectl's way (core.rollback), once the
    ReplicaSets are observed; or, when the Deployment refuses it, into the refusal's status and
    Events in place of the rollback's. A recorded rollback applied again (reapply) that finds its
    work done (the template matches, or the re-used ReplicaSet was renumbered) is simply done."""
    request, deployment = plan.rollback, observed.deployment
    if request is None or deployment is None:
        plan.rollback = None
        return
    if observed.rollback_failure is not None:
        dep_name = str((deployment.get("metadata") or {}).get("name", ""))
        refusal = RollbackRefused(
            reasons.DEPLOYMENT_CHANGED, f"Deployment {dep_name} changed meanwhile ({observed.rollback_failure})"
        )
    elif observed.replicasets is None:
        return
    else:
        outcome = plan_rollback(
            deployment, list(observed.replicasets), request.to_revision, request.reason, unpause=request.unpause
        )
        if isinstance(outcome, RollbackPlan):
            plan.rollback = replace(request, patch=tuple(outcome.patch))
            _name_rejected_hash(plan, deployment, observed.replicasets)
            return
        refusal = outcome
        if request.reapply and refusal.reason in (reasons.TEMPLATE_ALREADY_MATCHES, reasons.REVISION_NOT_FOUND):
            plan.rollback = None
            return
    plan.rollback = None
    plan.pause = None  # never pause for a rollback that will not happen
    generation = (observed.body.get("metadata") or {}).get("generation")
    plan.status, refused_events, text = rollback_refused(
        plan.status, refusal, observed.now, generation if isinstance(generation, int) else None
    )
    plan.events = [e for e in plan.events if not e.if_rolled_back] + refused_events
    name = (observed.body.get("metadata") or {}).get("name", "")
    plan.log.append(f"{(observed.body.get('metadata') or {}).get('namespace', '')}/{name}: {text}")


def _resume_refused(plan: Plan, observed: Observed, settings: Settings) -> None:
    """A Deployment the operator paused for this rv, with no rollback of ours to resume it (the
    rollback was refused after the pause landed, or will not happen): resume it. Only the
    operator's own pause, as the Deployment's marker shows, is ever lifted."""
    deployment = observed.deployment
    uid = str((observed.body.get("metadata") or {}).get("uid", ""))
    if deployment is None or plan.rollback is not None or plan.pause is not None or settings.dry_run:
        return
    if not paused_by(deployment, uid):
        return
    plan.resume = tuple(resume_patch(deployment, uid))
    meta = observed.body.get("metadata") or {}
    target = str((deployment.get("metadata") or {}).get("name", ""))
    text = f"resumed Deployment {target}: it was paused to roll it back, and the rollback did not happen"
    plan.log.append(f"{meta.get('namespace', '')}/{meta.get('name', '')}: {text}")
    plan.events += [
        Event("rv", reasons.RESUMED, text, "Warning"),
        Event("deployment", reasons.RESUMED, text, "Warning"),
    ]


def rollback_refused(
    status: ReleaseVerificationStatus, refusal: RollbackRefused, now: datetime, generation: int | None
) -> tuple[ReleaseVerificationStatus, list[Event], str]:
    """The status after a recorded rollback could not be applied: RolledBack=False with kubectl's
    reason, lastRollback.applied=false, phase Failed."""
    status = status.model_copy(deep=True)
    if status.last_rollback is not None:
        status.last_rollback.applied = False
    if status.history:
        status.history[0].rolled_back_to = None
    status.phase = Phase.FAILED
    status.conditions = set_condition(
        status.conditions,
        ROLLED_BACK,
        "False",
        refusal.reason,
        f"rollback not applied: {refusal.message}",
        now,
        generation,
    )
    text = f"rollback not applied: {refusal.message}"
    return (
        status,
        [
            Event("rv", reasons.ROLLBACK_SKIPPED, text, "Warning"),
            Event("deployment", reasons.ROLLBACK_SKIPPED, text, "Warning"),
        ],
        text,
    )


# --- early verification (spec.early) and remembered templates: see core.early -----------------


def _pods_of(rv: ReleaseVerification, observed: Observed) -> list[tuple[str, str]]:
    """The new revision's ready pods, for the checks naming one ({{ .PodIP }})."""
    if not uses_pods(rv):
        return []
    return [(p.name, p.ip) for p in observed.new_pods or ()]


def _early_step(
    ctx: _Run, rv: ReleaseVerification, run: RunStatus, deployment: Obj, settings: Settings, complete: bool
) -> bool:
    """The early checks of a run whose rollout is in progress: launch them once minReadyPods of the
    new revision are ready, wait for them, and end the run on a critical failure (pausing the
    Deployment before the rollback). True when this step decided the plan; False lets the run go on
    as usual (early checks off, not due, passed, or overtaken by the complete rollout)."""
    observed, status, plan = ctx.observed, ctx.status, ctx.plan
    if not rv.spec.early.enabled or not uses_pods(rv) or run.trigger == "Rerun":
        return False
    revision = run.revision
    early = run.early
    if early is None:
        if complete or _is_rollback_result(revision, deployment, status):
            return False
        pods = list(observed.new_pods or ())
        if len(pods) < rv.spec.early.min_ready_pods:
            return False
        uid = str((observed.body.get("metadata") or {}).get("uid", ""))
        jobs = _probe_jobs(
            settings, early_rv(rv), uid, deployment, revision, EARLY_RERUN_KEY, [(p.name, p.ip) for p in pods]
        )
        run.early = EarlyRun(pods=pods, jobs=[j["metadata"]["name"] for j in jobs], start_time=observed.now)
        plan.create_jobs = [j for j in jobs if j["metadata"]["name"] not in observed.jobs]
        status.phase = Phase.VERIFYING
        names = ", ".join(p.name for p in pods)
        message = f"running {len(early_rv(rv).spec.checks)} early checks on revision {revision}'s ready pods {names}"
        ctx.condition(VERIFIED, "Unknown", reasons.EARLY_CHECKS_RUNNING, message)
        ctx.event(reasons.VERIFICATION_STARTED, message)
        ctx.log(message)
        plan.requeue_after = min(settings.pod_poll_seconds, rv.spec.timeout_seconds + settings.timeout_grace_seconds)
        return True
    if early.verdict is not None:
        return False
    erv = early_rv(rv)
    groups = jobs_of_run(erv, revision, run_key(deployment, erv.spec.checks, EARLY_RERUN_KEY))
    done = {n: j for n in early.jobs if (j := observed.jobs.get(n)) is not None and job_finished(j)}
    if len(done) < len(early.jobs):
        timed_out = early.start_time is not None and observed.now >= early.start_time + timedelta(
            seconds=rv.spec.timeout_seconds
        )
        if complete or timed_out:  # the run's own checks (the pod-naming ones included) take over
            early.verdict, early.message = Verdict.ERROR, "did not finish before the rollout completed"
            plan.delete_jobs += [n for n in early.jobs if n in observed.jobs and n not in done]
            return False
        missing = [n for n in early.jobs if n not in observed.jobs]
        if missing:
            uid = str((observed.body.get("metadata") or {}).get("uid", ""))
            jobs = _probe_jobs(
                settings, erv, uid, deployment, revision, EARLY_RERUN_KEY, [(p.name, p.ip) for p in early.pods]
            )
            plan.create_jobs = [j for j in jobs if j["metadata"]["name"] in missing]
        status.phase = Phase.VERIFYING
        plan.requeue_after = settings.pod_poll_seconds
        return True
    outcomes = [
        job_outcome(
            done[n],
            observed.messages.get(n),
            groups[n].checks if n in groups else (),
            in_runner=n in groups and groups[n].is_runner,
            problem=observed.problems.get(n),
            now=observed.now,
        )
        for n in early.jobs
    ]
    report = in_spec_order(merged_outcome(outcomes), erv.spec.checks)
    early.verdict, early.message = report.verdict, cap(report.message, RUN_MESSAGE_LIMIT)
    if report.verdict is not Verdict.FAILED:
        ctx.log(f"revision {revision}: early checks {report.verdict.value}: {report.message}")
        return False
    names = ", ".join(p.name for p in early.pods)
    message = f"early checks on pods {names}: {report.message}"
    _finish(ctx, rv, run, settings, Verdict.FAILED, reasons.EARLY_CHECKS_FAILED, message, report)
    uid = str((observed.body.get("metadata") or {}).get("uid", ""))
    ours = paused_by(deployment, uid)
    owners_pause = bool((deployment.get("spec") or {}).get("paused")) and not ours
    if plan.rollback is not None and status.last_rollback is not None and not owners_pause:
        # A pause its owner made is theirs: it is neither taken over nor lifted, and the rollback is
        # refused as kubectl refuses it (DeploymentPaused).
        if not ours:
            plan.pause = tuple(pause_patch(deployment, uid))
        plan.rollback = replace(plan.rollback, unpause=True)
        status.last_rollback.paused = True
        target = rv.spec.target_ref.name
        ctx.event(
            reasons.PAUSED_FOR_ROLLBACK,
            f"paused Deployment {target} at revision {revision} (no more old pods replaced) to roll it back",
            "Warning",
            if_rolled_back=True,
        )
    return True


def _remember_rejected(ctx: _Run, rv: ReleaseVerification, revision: int, reason: str) -> None:
    """Record the pod template just rolled back (status.rejectedTemplates, newest first)."""
    run = ctx.status.last_run
    digest = run.template_digest if run is not None and run.revision == revision else None
    if digest is None:
        digest = template_hash(ctx.observed.deployment or {})
    entry = RejectedTemplate(
        template_digest=digest,
        revision=revision,
        run=record_name(ctx.name, run) if run is not None else None,
        time=ctx.now,
        reason=reason,
    )
    ctx.status.rejected_templates = remember(ctx.status.rejected_templates, entry)


def _name_rejected_hash(plan: Plan, deployment: Obj, replicasets: Sequence[Obj]) -> None:
    """Fill in the pod-template-hash of the template being rolled back, from its ReplicaSet."""
    entries = plan.status.rejected_templates
    request = plan.rollback
    if not entries or request is None or entries[0].revision != request.from_revision:
        return
    if entries[0].pod_template_hash is None:
        entries[0].pod_template_hash = template_hash_label(new_replicaset(deployment, replicasets))


def _recognise_rejected(
    ctx: _Run, rv: ReleaseVerification, run: RunStatus, deployment: Obj, settings: Settings
) -> bool:
    """A new run's pod template is one this rv rolled back before: say so at once (condition
    RejectedTemplate, a Warning Event naming the run that rejected it) and, with
    rollback.onRejectedTemplate RollBack, fail the run now (rolled back through the usual rules).
    True when the run ended here."""
    status = ctx.status
    known = rejected(status.rejected_templates, run.template_digest)
    if known is None or _is_rollback_result(run.revision, deployment, status):
        previous = get_condition(status.conditions, REJECTED_TEMPLATE)
        if previous is not None and previous.status == "True":
            ctx.condition(
                REJECTED_TEMPLATE, "False", reasons.NEW_TEMPLATE, f"revision {run.revision} was never rolled back"
            )
        return False
    text = (
        f"revision {run.revision} deploys again the pod template rolled back from revision {known.revision} "
        f"({known.reason}, run {known.run})"
    )
    ctx.condition(REJECTED_TEMPLATE, "True", reasons.REJECTED_TEMPLATE_REDEPLOYED, text)
    ctx.event(reasons.REJECTED_TEMPLATE_REDEPLOYED, text, "Warning")
    ctx.log(text)
    if rv.spec.rollback.on_rejected_template is not RejectedTemplatePolicy.ROLL_BACK:
        return False
    # acting on it needs more than the status's word: the rv's own record of the rejecting run
    if ctx.observed.records is None:
        ctx.plan.wants_records = True
        return False
    rv_uid = str((ctx.observed.body.get("metadata") or {}).get("uid", ""))
    if not shows_rejection(ctx.observed.records, known, rv_uid):
        ctx.log(f"{text}; not rolled back at once: no record of this rv shows run {known.run} rolled back")
        return False
    message = f"{text}; rollback.onRejectedTemplate is RollBack"
    _finish(ctx, rv, run, settings, Verdict.FAILED, reasons.REJECTED_TEMPLATE_REDEPLOYED, message, None)
    return True
