"""Issue 20 through the pure state machine: the operator touches a Deployment only for a decision
it made itself or an approval the admission policy authenticated. Forged status (lastRollback,
rejectedTemplates), a squatting rv, an owner's pause and forged records change nothing; each test
also shows the genuine case doing what it should, so none passes because something is broken."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from releaseguard.api import RunStatus, Verdict, parse_spec
from releaseguard.core.approve import APPROVE_ANNOTATION, APPROVED_BY_ANNOTATION
from releaseguard.core.decide import RERUN_ANNOTATION, RERUN_TOKEN_LIMIT, Observed, Plan, decide, rollback_owner
from releaseguard.core.own_records import foreign_record
from releaseguard.core.rollback import PAUSED_BY_ANNOTATION
from releaseguard.core.sampled import baselines_from_records
from support.driver import FAIL, PASS, SETTINGS, Driver
from support.factories import DEP_UID, NOW, RV_UID, deployment, replicaset, rv_body

Obj = dict[str, Any]
REPLICASETS = [replicaset(1, "shop:1.0"), replicaset(2, "shop:2.0")]


def decided(driver: Driver, dep: Obj, replicasets: list[Obj] | None = None, **observed: Any) -> Plan:
    """One look, as the reconciler takes it: decided again with the ReplicaSets when the plan asks."""
    seen = Observed(driver.body, dep, dict(driver.jobs), dict(driver.messages), driver.now, **observed)
    plan = decide(seen, driver.settings)
    if plan.needs_replicasets or plan.wants_records:
        seen = dataclasses.replace(seen, replicasets=replicasets or REPLICASETS, records=seen.records or [])
        plan = decide(seen, driver.settings)
    driver.body["status"] = plan.status.to_wire()
    return plan


def failed_v2(policy: str = "Automatic") -> Driver:
    """v1 verified, v2 failed its checks (and, under Automatic, rolled back: the patch not landed)."""
    driver = Driver(rv_body(policy=policy))
    driver.verify(deployment(), PASS)
    driver.jobs.clear()
    driver.messages.clear()
    driver.step(deployment(revision=2, image="shop:2.0"))
    driver.finish_all(FAIL)
    decided(driver, deployment(revision=2, image="shop:2.0"))
    return driver


# --- status.lastRollback is an output, never an instruction -----------------------------------


def test_a_lost_rollback_patch_of_the_operator_s_own_decision_is_applied_again() -> None:
    driver = failed_v2()
    assert driver.status["lastRollback"]["appliedBy"] == "releaseguard"
    plan = decided(driver, deployment(revision=2, image="shop:2.0"))
    assert plan.rollback is not None and plan.rollback.reapply and plan.rollback.to_revision == 1


@pytest.mark.parametrize(
    ("policy", "forged"),
    [
        ("Never", {"appliedBy": "releaseguard"}),
        ("Automatic", {"appliedBy": "releaseguard", "toRevision": 7}),
        ("Automatic", {"appliedBy": "user"}),
        ("Automatic", {"appliedBy": "approved:mallory"}),
        ("Manual", {"appliedBy": "approved:mallory"}),
    ],
    ids=["policy-never", "not-last-good", "by-hand", "approval-under-automatic", "approval-without-annotation"],
)
def test_a_forged_last_rollback_moves_no_deployment(policy: str, forged: Obj) -> None:
    driver = failed_v2(policy)
    last = {"fromRevision": 2, "toRevision": 1, "reason": "x", "time": "2026-01-01T00:00:00Z", "applied": True}
    driver.body["status"]["lastRollback"] = {**last, "paused": True, **forged}
    paused = deployment(revision=2, image="shop:2.0", paused=True)
    plan = decided(driver, paused)
    assert plan.rollback is None and plan.pause is None and plan.resume is None


def test_a_forged_pause_claim_in_the_status_never_un_pauses_the_owner_s_pause() -> None:
    driver = failed_v2()
    driver.body["status"]["lastRollback"]["paused"] = True
    owners = deployment(revision=2, image="shop:2.0", paused=True)  # paused by its owner: no marker
    plan = decided(driver, owners)
    assert plan.rollback is None and plan.resume is None  # kubectl's refusal: resume it first
    assert driver.condition("RolledBack")["reason"] == "DeploymentPaused"
    ours = deployment(revision=2, image="shop:2.0", paused=True, annotations={PAUSED_BY_ANNOTATION: f"{RV_UID}/2"})
    driver = failed_v2()
    plan = decided(driver, ours)
    assert plan.rollback is not None and plan.rollback.unpause


# --- approvals ------------------------------------------------------------------------------


def manual_failed_and_approved(by: str | None = "alice") -> Driver:
    driver = failed_v2("Manual")
    assert driver.status["lastRollback"]["applied"] is False
    notes = {APPROVE_ANNOTATION: driver.status["lastRun"]["record"]}
    if by is not None:
        notes[APPROVED_BY_ANNOTATION] = by
    driver.body["metadata"]["annotations"] = notes
    return driver


def test_an_approval_rolls_back_under_manual_in_the_approver_s_name() -> None:
    driver = manual_failed_and_approved()
    plan = decided(driver, deployment(revision=2, image="shop:2.0"))
    assert plan.rollback is not None and driver.status["lastRollback"]["appliedBy"] == "approved:alice"


@pytest.mark.parametrize("policy_now", ["Never", "Automatic"])
def test_an_approval_is_checked_against_the_policy_at_the_moment_it_is_acted_on(policy_now: str) -> None:
    driver = manual_failed_and_approved()
    driver.body["spec"]["rollback"]["policy"] = policy_now
    plan = decided(driver, deployment(revision=2, image="shop:2.0"))
    assert plan.rollback is None and driver.status["lastRollback"]["applied"] is False


def test_an_approval_without_the_approver_s_name_is_no_approval() -> None:
    driver = manual_failed_and_approved(by=None)
    plan = decided(driver, deployment(revision=2, image="shop:2.0"))
    assert plan.rollback is None and driver.status["lastRollback"]["applied"] is False


# --- who owns the rollbacks -----------------------------------------------------------------


def aged(body: Obj, name: str, when: str) -> Obj:
    body = copy.deepcopy(body)
    body["metadata"].update(name=name, creationTimestamp=when)
    return body


def test_no_squatting_rv_takes_the_rollbacks_away() -> None:
    team = aged(rv_body(), "team", "2026-03-01T00:00:00Z")
    squatters = [
        aged(rv_body(policy="Never"), "never", "2026-01-01T00:00:00Z"),
        aged(rv_body(policy="Manual"), "manual", "2026-01-02T00:00:00Z"),
        aged(rv_body(checks=[{"name": "x"}]), "invalid", "2026-01-03T00:00:00Z"),
        aged(rv_body(), "excluded", "2026-01-04T00:00:00Z")
        | {
            "metadata": {
                "name": "excluded",
                "namespace": "kube-system",
                "uid": "u",
                "creationTimestamp": "2026-01-04T00:00:00Z",
            }
        },
    ]
    assert rollback_owner([*squatters, team], SETTINGS) == "team"
    older_team = aged(rv_body(), "older", "2026-02-01T00:00:00Z")
    assert rollback_owner([*squatters, team, older_team], SETTINGS) == "older"  # two that may: the oldest
    assert rollback_owner(squatters[:3], SETTINGS) is None  # Manual ones then each recommend


# --- records the operator did not write ------------------------------------------------------


def samples_record(name: str, created: str, finish: str, target_uid: str | None, latency: float) -> Obj:
    check = {
        "name": "home",
        "result": "Passed",
        "samples": {"target": "TARGET", "count": 20, "latenciesMs": [latency] * 20, "outcomes": "." * 20},
    }
    spec: Obj = {"revision": 1}
    if target_uid is not None:
        spec["targetUID"] = target_uid
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "spec": spec,
        "status": {"verdict": "Passed", "finishTime": finish, "checks": [check]},
    }


def test_a_baseline_comes_from_the_newest_created_record_that_names_the_deployment() -> None:
    from releaseguard.core.sampled import compared_checks, target_digest

    spec = parse_spec(
        rv_body(checks=[{"name": "home", "http": {"url": "http://shop/", "samples": {"count": 20}, "baseline": {}}}])[
            "spec"
        ]
    )
    [check] = compared_checks(spec.checks)
    genuine = samples_record("genuine", "2026-01-02T00:00:00Z", "2026-01-02T00:00:10Z", DEP_UID, 10.0)
    forged = samples_record("forged", "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z", None, 5000.0)
    forged_uid = samples_record("forged-2", "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z", DEP_UID, 5000.0)
    for record in (genuine, forged, forged_uid):
        record["status"]["checks"][0]["samples"]["target"] = target_digest(check)
    found = baselines_from_records(spec.checks, [forged, forged_uid, genuine], current=None, target_uid=DEP_UID)
    assert found["home"].samples.latencies_ms[0] == 10.0  # a future finishTime does not make it newest
    found = baselines_from_records(spec.checks, [forged], current=None, target_uid=DEP_UID)
    assert "home" not in found  # no targetUID: not a record the operator wrote


def test_an_object_under_a_record_s_name_is_adopted_only_when_it_is_the_operator_s() -> None:
    run = RunStatus(revision=2, target_uid=DEP_UID, checks_digest="abc", trigger="NewRevision", start_time=NOW)
    ours = {
        "metadata": {"ownerReferences": [{"uid": RV_UID, "controller": True}]},
        "spec": {"targetUID": DEP_UID, "revision": 2, "checksDigest": "abc"},
    }
    assert foreign_record(ours, RV_UID, run) is None
    assert foreign_record({**ours, "metadata": {}}, RV_UID, run) is not None
    assert foreign_record({**ours, "spec": {**ours["spec"], "targetUID": None}}, RV_UID, run) is not None
    assert (
        foreign_record({**ours, "status": {"verdict": "Failed"}}, RV_UID, run) is not None
    )  # verdict ahead of the run
    done = run.model_copy(update={"verdict": Verdict.FAILED})
    assert foreign_record({**ours, "status": {"verdict": "Failed"}}, RV_UID, done) is None


def test_the_rerun_token_is_capped_in_the_status() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    driver.body["metadata"]["annotations"] = {RERUN_ANNOTATION: "x" * 100_000}
    driver.step(deployment())
    assert driver.status["lastRun"]["trigger"] == "Rerun"
    assert len(driver.status["lastRun"]["rerun"]) == RERUN_TOKEN_LIMIT
    driver.step(deployment())
    assert driver.status["lastRun"]["trigger"] == "Rerun"  # the capped token is the same request: one re-run


# --- pause ----------------------------------------------------------------------------------

POD_CHECK = {"name": "pod-health", "http": {"url": "http://{{ .PodIP }}:8080/healthz"}}


def early_failure(dep: Obj, replicasets: list[Obj], **observed: Any) -> tuple[Driver, Plan]:
    from releaseguard.api.status import TargetPod
    from support.factories import report

    body = rv_body(checks=[POD_CHECK], extra_spec={"early": {"enabled": True}})
    driver = Driver(body)
    pods = [TargetPod(name="shop-a", ip="127.0.0.9")]
    driver.verify(deployment(), report([("pod-health", "Passed", True)]))
    driver.jobs.clear()
    driver.messages.clear()
    seen = Observed(driver.body, dep, {}, {}, driver.now, new_pods=pods)
    plan = decide(seen, driver.settings)
    driver.body["status"] = plan.status.to_wire()
    driver.jobs.update({j["metadata"]["name"]: j for j in plan.create_jobs})
    driver.finish_all(report([("pod-health", "Failed", True)]))
    return driver, decided(driver, dep, replicasets, new_pods=pods, **observed)


def test_an_early_failure_pauses_only_together_with_a_rollback_that_resumes_it() -> None:
    rolling = deployment(revision=2, image="shop:2.0", complete=False, replicas=4)
    _, plan = early_failure(rolling, REPLICASETS)
    assert plan.pause is not None and plan.rollback is not None and plan.rollback.unpause
    driver, plan = early_failure(rolling, [replicaset(2, "shop:2.0")])  # the good revision's ReplicaSet is gone
    assert plan.pause is None and plan.rollback is None and plan.resume is None
    assert driver.condition("RolledBack")["reason"] == "RevisionNotFound"
    assert "PausedForRollback" not in [e.reason for e in plan.events]


def test_a_pause_whose_rollback_the_server_refused_is_lifted() -> None:
    rolling = deployment(revision=2, image="shop:2.0", complete=False, replicas=4)
    driver, plan = early_failure(rolling, REPLICASETS)
    assert plan.pause is not None
    ours = copy.deepcopy(rolling)
    ours["spec"]["paused"] = True
    ours["metadata"]["annotations"][PAUSED_BY_ANNOTATION] = f"{RV_UID}/2"
    plan = decided(driver, ours, rollback_failure="the server said 422")
    assert plan.rollback is None and plan.resume is not None
    assert plan.resume[0] == {
        "op": "test",
        "path": "/metadata/annotations/releaseguard.io~1paused-by",
        "value": f"{RV_UID}/2",
    }
    assert {"op": "replace", "path": "/spec/paused", "value": False} in plan.resume
    assert "ResumedAfterRefusedRollback" in [e.reason for e in plan.events]


def test_an_early_failure_leaves_a_pause_its_owner_made_alone() -> None:
    owners = deployment(revision=2, image="shop:2.0", complete=False, replicas=4, paused=True)
    driver, plan = early_failure(owners, REPLICASETS)
    assert driver.status["lastRun"]["verdict"] == "Failed"
    assert plan.pause is None and plan.rollback is None and plan.resume is None
    assert driver.condition("RolledBack")["reason"] == "DeploymentPaused"
    stale = copy.deepcopy(owners)  # a marker of ours from an earlier revision proves nothing now
    stale["metadata"]["annotations"][PAUSED_BY_ANNOTATION] = f"{RV_UID}/1"
    _, plan = early_failure(stale, REPLICASETS)
    assert plan.pause is None and plan.rollback is None and plan.resume is None


def test_releaseguard_approve_refuses_when_the_policy_is_no_longer_manual() -> None:
    from releaseguard.core.approve import approval_problem

    driver = failed_v2("Manual")
    assert approval_problem(driver.body, 2) is None
    driver.body["spec"]["rollback"]["policy"] = "Never"
    assert "rollback.policy is Never, not Manual" in (approval_problem(driver.body, 2) or "")
