"""The state machine, driven step by step the way the operator drives it: each step's status is
written back into the RV body the next step reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from releaseguard.core.decide import Observed, Plan, Settings, decide
from releaseguard.core.jobs import REVISION_LABEL
from releaseguard.core.rollback import ROLLBACK_FROM_ANNOTATION
from support.driver import FAIL, PASS, SETTINGS, Driver
from support.factories import NOW, deployment, http_check, report, rv_body

Obj = dict[str, Any]


def reasons(plan: Plan, on: str = "rv") -> list[str]:
    return [e.reason for e in plan.events if e.on == on]


def test_invalid_spec_is_an_error_with_the_field_paths() -> None:
    body = rv_body()
    body["spec"]["checks"] = [{"name": "x", "http": {"url": "ftp://nope"}}]
    plan = Driver(body).step(deployment())
    status = plan.status.to_wire()
    assert status["phase"] == "Error"
    spec_valid = status["conditions"][0]
    assert (spec_valid["type"], spec_valid["status"], spec_valid["reason"]) == ("SpecValid", "False", "InvalidSpec")
    assert "spec.checks[0].http.url" in spec_valid["message"]
    assert not plan.create_jobs


def test_missing_deployment_is_pending_with_target_found_false() -> None:
    driver = Driver(rv_body())
    plan = driver.step(None)
    assert driver.status["phase"] == "Pending"
    found = driver.condition("TargetFound")
    assert (found["status"], found["reason"]) == ("False", "DeploymentNotFound")
    assert "Deployment shop not found in namespace default" in found["message"]
    assert plan.log
    # it picks up as soon as the Deployment appears
    plan = driver.step(deployment())
    assert driver.condition("TargetFound")["status"] == "True"
    assert driver.status["phase"] == "Verifying"
    assert len(plan.create_jobs) == 1


def test_waits_for_the_rollout_then_launches_jobs() -> None:
    driver = Driver(rv_body())
    plan = driver.step(deployment(complete=False))
    assert driver.status["phase"] == "Waiting"
    assert driver.condition("Verified")["reason"] == "RolloutInProgress"
    assert not plan.create_jobs
    plan = driver.step(deployment())
    assert driver.status["phase"] == "Verifying"
    assert [j["metadata"]["name"] for j in plan.create_jobs] == driver.status["lastRun"]["jobs"]
    assert reasons(plan) == ["VerificationStarted"]
    assert reasons(plan, "deployment") == ["VerificationStarted"]
    assert plan.requeue_after == SETTINGS.pod_poll_seconds  # not only when a Job event comes


def test_paused_rollout_waits() -> None:
    driver = Driver(rv_body())
    driver.step(deployment(complete=False, paused=True))
    assert driver.condition("Verified")["reason"] == "RolloutPaused"
    assert driver.status["phase"] == "Waiting"


def test_delay_seconds_requeues_then_launches() -> None:
    driver = Driver(rv_body(delay=30))
    plan = driver.step(deployment())
    assert driver.status["phase"] == "Waiting"
    assert driver.condition("Verified")["reason"] == "Delaying"
    assert plan.requeue_after == 30
    assert not plan.create_jobs
    plan = driver.step(deployment(), NOW + timedelta(seconds=10))
    assert plan.requeue_after == 20
    plan = driver.step(deployment(), NOW + timedelta(seconds=30))
    assert len(plan.create_jobs) == 1


def test_passed_verdict() -> None:
    driver = Driver(rv_body())
    plan = driver.verify(deployment(), PASS)
    status = driver.status
    assert status["phase"] == "Verified"
    assert status["lastGoodRevision"] == 1
    assert status["lastVerifiedRevision"] == 1
    assert status["checks"] == "1/1"
    assert status["lastRun"]["verdict"] == "Passed"
    assert status["lastRun"]["checks"][0]["name"] == "home"
    assert status["history"][0]["verdict"] == "Passed"
    verified = driver.condition("Verified")
    assert (verified["status"], verified["reason"]) == ("True", "ChecksPassed")
    assert reasons(plan) == ["VerificationSucceeded"]
    assert plan.verdict is not None and plan.verdict.verdict == "Passed"
    assert plan.rollback is None


def test_a_verdict_is_recorded_once() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    again = driver.step(deployment())
    assert again.verdict is None
    assert not again.events and not again.create_jobs


def test_scale_pause_and_metadata_changes_start_nothing() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    for dep in (
        deployment(replicas=5, generation=2),
        deployment(paused=True, generation=3),
        deployment(annotations={"team": "x"}),
    ):
        plan = driver.step(dep)
        assert not plan.create_jobs and not plan.events and plan.verdict is None
        assert driver.status["phase"] == "Verified"
        assert len(driver.status["history"]) == 1


def test_critical_failure_rolls_back_to_last_good() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    plan = driver.verify(deployment(revision=2, image="shop:2.0"), FAIL)
    status = driver.status
    assert status["phase"] == "RolledBack"
    assert plan.rollback is not None
    assert (plan.rollback.from_revision, plan.rollback.to_revision) == (2, 1)
    assert not plan.rollback.reapply
    assert status["lastRollback"]["applied"] is True
    assert status["lastRollback"]["fromRevision"] == 2
    assert status["history"][0]["rolledBackTo"] == 1
    assert status["history"][0]["failedChecks"] == ["home"]
    assert "home" in status["history"][0]["message"]
    rolled = driver.condition("RolledBack")
    assert (rolled["status"], rolled["reason"]) == ("True", "CriticalChecksFailed")
    assert driver.condition("Verified")["status"] == "False"
    assert reasons(plan) == ["VerificationFailed", "RolledBack"]
    assert reasons(plan, "deployment") == ["VerificationFailed", "RolledBack"]


def _rolled_back(revision: int) -> Obj:
    return deployment(revision=revision, image="shop:1.0", annotations={ROLLBACK_FROM_ANNOTATION: "2"})


def test_the_rollback_result_is_verified_and_never_rolled_back() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    driver.verify(deployment(revision=2, image="shop:2.0"), FAIL)
    # the controller re-uses revision 1's ReplicaSet as revision 3
    plan = driver.verify(_rolled_back(3), FAIL)
    assert plan.rollback is None
    assert driver.condition("RolledBack")["reason"] == "RollbackResultFailed"
    assert driver.status["phase"] == "Failed"
    assert "RollbackSkipped" in reasons(plan)


def test_the_rollback_result_passing_becomes_last_good() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    driver.verify(deployment(revision=2, image="shop:2.0"), FAIL)
    driver.verify(_rolled_back(3), PASS)
    assert driver.status["phase"] == "Verified"
    assert driver.status["lastGoodRevision"] == 3
    assert driver.condition("RolledBack")["status"] == "True"  # the last rollback still stands
    # a later bad release is rolled back again, to the rollback result
    plan = driver.verify(deployment(revision=4, image="shop:4.0", annotations={ROLLBACK_FROM_ANNOTATION: "2"}), FAIL)
    assert plan.rollback is not None and plan.rollback.to_revision == 3


def test_a_new_release_before_the_rollback_result_is_verified_is_rolled_back_too() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    driver.verify(deployment(revision=2, image="shop:2.0"), FAIL)
    # the rollback produced revision 3; before its verdict, the user pushes another bad release
    driver.step(_rolled_back(3))
    plan = driver.verify(deployment(revision=4, image="shop:4.0", annotations={ROLLBACK_FROM_ANNOTATION: "2"}), FAIL)
    assert plan.rollback is not None and (plan.rollback.from_revision, plan.rollback.to_revision) == (4, 1)
    assert driver.status["phase"] == "RolledBack"


def test_one_failure_never_causes_two_rollbacks() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    driver.verify(deployment(revision=2, image="shop:2.0"), FAIL)
    # restarted before the Deployment moved: the recorded rollback is re-applied, not re-decided
    plan = driver.step(deployment(revision=2, image="shop:2.0"))
    assert plan.rollback is not None and plan.rollback.reapply
    assert plan.verdict is None and not plan.events
    assert len(driver.status["history"]) == 2
    # once our patch is on the Deployment (revision not bumped yet by the controller), nothing more
    patched = deployment(revision=2, image="shop:1.0", annotations={ROLLBACK_FROM_ANNOTATION: "2"})
    assert driver.step(patched).rollback is None


def test_first_deploy_failure_skips_the_rollback() -> None:
    driver = Driver(rv_body())
    plan = driver.verify(deployment(), FAIL)
    assert plan.rollback is None
    assert driver.status["phase"] == "Failed"
    rolled = driver.condition("RolledBack")
    assert (rolled["status"], rolled["reason"]) == ("False", "NoGoodRevision")
    assert reasons(plan) == ["VerificationFailed", "RollbackSkipped"]


def test_manual_policy_records_what_it_would_do() -> None:
    driver = Driver(rv_body(policy="Manual"))
    driver.verify(deployment(), PASS)
    plan = driver.verify(deployment(revision=2, image="b"), FAIL)
    assert plan.rollback is None
    assert driver.status["lastRollback"]["applied"] is False
    assert driver.status["lastRollback"]["toRevision"] == 1
    assert driver.condition("RolledBack")["reason"] == "ManualPolicy"
    assert "would roll back" in driver.condition("RolledBack")["message"]
    assert "RollbackSkipped" in reasons(plan)
    assert driver.status["phase"] == "Failed"


def test_never_policy_only_observes() -> None:
    driver = Driver(rv_body(policy="Never"))
    driver.verify(deployment(), PASS)
    plan = driver.verify(deployment(revision=2, image="b"), FAIL)
    assert plan.rollback is None
    assert "lastRollback" not in driver.status
    assert driver.condition("RolledBack")["reason"] == "PolicyNever"
    assert reasons(plan) == ["VerificationFailed"]


def test_dry_run_never_rolls_back() -> None:
    driver = Driver(rv_body(), Settings(runner_image="r", dry_run=True))
    driver.verify(deployment(), PASS)
    plan = driver.verify(deployment(revision=2, image="b"), FAIL)
    assert plan.rollback is None
    assert driver.condition("RolledBack")["reason"] == "DryRun"


def test_non_critical_failure_passes() -> None:
    driver = Driver(rv_body(checks=[http_check("home"), http_check("extra", critical=False)]))
    plan = driver.verify(deployment(), report([("home", "Passed", True), ("extra", "Failed", False)]))
    assert driver.status["phase"] == "Verified"
    assert driver.status["checks"] == "1/2"
    assert plan.rollback is None


def test_non_critical_failure_rolls_back_when_asked() -> None:
    checks = [http_check("home"), http_check("extra", critical=False)]
    driver = Driver(rv_body(checks=checks, extra_spec={"rollback": {"onNonCriticalFailure": True}}))
    driver.verify(deployment(), report([("home", "Passed", True), ("extra", "Passed", False)]))
    plan = driver.verify(
        deployment(revision=2, image="b"), report([("home", "Passed", True), ("extra", "Failed", False)])
    )
    assert driver.condition("Verified")["reason"] == "NonCriticalChecksFailed"
    assert plan.rollback is not None


def test_stalled_rollout_fails_without_running_checks() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    plan = driver.step(deployment(revision=2, image="b", complete=False, stalled=True))
    assert not plan.create_jobs
    assert driver.condition("Verified")["reason"] == "RolloutStalled"
    assert "timed out progressing" in driver.condition("Verified")["message"]
    assert plan.rollback is not None and plan.rollback.to_revision == 1
    assert reasons(plan) == ["RolloutStalled", "VerificationFailed", "RolledBack"]


def test_newer_rollout_supersedes_a_running_verification() -> None:
    driver = Driver(rv_body())
    driver.step(deployment())
    old_jobs = list(driver.jobs)
    plan = driver.step(deployment(revision=2, image="b"))
    assert plan.delete_jobs == old_jobs
    assert "VerificationSuperseded" in reasons(plan)
    assert driver.status["lastRun"]["revision"] == 2
    assert driver.status["currentRevision"] == 2
    assert len(plan.create_jobs) == 1
    assert plan.create_jobs[0]["metadata"]["labels"][REVISION_LABEL] == "2"


def test_restart_recreates_jobs_named_in_status_but_missing() -> None:
    driver = Driver(rv_body())
    first = driver.step(deployment())
    driver.jobs.clear()  # crashed after writing the status, before creating the Job
    plan = driver.step(deployment())
    assert [j["metadata"]["name"] for j in plan.create_jobs] == [j["metadata"]["name"] for j in first.create_jobs]
    assert not plan.events


def test_restart_with_jobs_present_creates_nothing() -> None:
    driver = Driver(rv_body())
    driver.step(deployment())
    plan = driver.step(deployment())
    assert not plan.create_jobs and not plan.events and plan.verdict is None


def test_job_without_report_falls_back_to_its_outcome() -> None:
    driver = Driver(rv_body())
    driver.step(deployment())
    driver.finish_all(None, succeeded=False)
    plan = driver.step(deployment())
    assert driver.status["lastRun"]["verdict"] == "Error"
    assert driver.status["phase"] == "Error"
    assert "DeadlineExceeded" in driver.status["lastRun"]["checks"][0]["message"]
    assert plan.rollback is None


def test_job_succeeding_without_report_is_an_error_not_a_pass() -> None:
    driver = Driver(rv_body())
    driver.step(deployment())
    driver.finish_all(None, succeeded=True)
    plan = driver.step(deployment())
    assert driver.status["lastRun"]["verdict"] == "Error"
    assert driver.status["lastRun"]["checks"][0]["result"] == "Error"
    assert plan.rollback is None


def test_garbage_termination_message_falls_back() -> None:
    driver = Driver(rv_body())
    driver.step(deployment())
    driver.finish_all("Traceback (most recent call last): boom", succeeded=False)
    driver.step(deployment())
    message = driver.status["lastRun"]["checks"][0]["message"]
    assert "not JSON" in message


def test_timeout_is_an_error_and_deletes_the_jobs() -> None:
    driver = Driver(rv_body(timeout=10))
    driver.step(deployment())
    names = list(driver.jobs)
    plan = driver.step(deployment(), NOW + timedelta(seconds=10 + SETTINGS.timeout_grace_seconds))
    assert plan.delete_jobs == names
    assert driver.condition("Verified")["reason"] == "Timeout"
    assert driver.status["phase"] == "Error"


def test_history_is_bounded() -> None:
    driver = Driver(rv_body(extra_spec={"historyLimit": 3}))
    for revision in range(1, 7):
        driver.verify(deployment(revision=revision, image=f"v{revision}"), PASS)
    assert [h["revision"] for h in driver.status["history"]] == [6, 5, 4]


def test_deployment_deleted_mid_run_deletes_the_jobs() -> None:
    driver = Driver(rv_body())
    driver.step(deployment())
    plan = driver.step(None)
    assert plan.delete_jobs
    assert driver.status["phase"] == "Pending"


def test_rollback_refused_records_why() -> None:
    """The Deployment refuses the rollback (paused): one decision records why, in place of the
    rollback (phase Failed, RolledBack=False with kubectl's reason, no RolledBack Event)."""
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    paused = deployment(revision=2, image="b")
    paused["spec"]["paused"] = True
    driver.step(paused)
    driver.finish_all(FAIL)
    observed = Observed(driver.body, paused, dict(driver.jobs), dict(driver.messages), NOW)
    first = decide(observed, SETTINGS)
    assert first.needs_replicasets and first.rollback is not None
    plan = decide(replace(observed, replicasets=[]), SETTINGS)
    assert plan.rollback is None and not plan.needs_replicasets
    wire = plan.status.to_wire()
    assert wire["phase"] == "Failed"
    assert wire["lastRollback"]["applied"] is False
    assert "rolledBackTo" not in wire["history"][0]
    rolled = next(c for c in wire["conditions"] if c["type"] == "RolledBack")
    assert (rolled["status"], rolled["reason"]) == ("False", "DeploymentPaused")
    assert "RolledBack" not in reasons(plan) and reasons(plan).count("RollbackSkipped") == 1
    assert "paused" in rolled["message"]
    # and a refused rollback is not re-applied
    driver.body["status"] = wire
    assert driver.step(paused).rollback is None


def test_a_rollback_patch_the_api_refused_is_recorded_by_the_next_decision() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    bad = deployment(revision=2, image="b")
    driver.step(bad)
    driver.finish_all(FAIL)
    rolling = driver.step(bad)
    assert rolling.rollback is not None and driver.status["phase"] == "RolledBack"
    observed = Observed(
        driver.body, bad, dict(driver.jobs), dict(driver.messages), NOW, rollback_failure="422 test failed"
    )
    plan = decide(observed, SETTINGS)
    assert plan.rollback is None
    rolled = next(c for c in plan.status.to_wire()["conditions"] if c["type"] == "RolledBack")
    assert (rolled["status"], rolled["reason"]) == ("False", "DeploymentChanged")
    assert "422 test failed" in rolled["message"]


def test_the_patch_comes_with_the_replicasets() -> None:
    driver = Driver(rv_body())
    good = deployment()
    driver.verify(good, PASS)
    bad = deployment(revision=2, image="b")
    driver.step(bad)
    driver.finish_all(FAIL)
    observed = Observed(driver.body, bad, dict(driver.jobs), dict(driver.messages), NOW)
    replicaset = {
        "metadata": {
            "name": "shop-1",
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [{"kind": "Deployment", "uid": bad["metadata"]["uid"], "controller": True}],
        },
        "spec": {"template": good["spec"]["template"]},
    }
    plan = decide(replace(observed, replicasets=[replicaset]), SETTINGS)
    assert plan.rollback is not None and plan.rollback.patch is not None
    ops = [op["op"] for op in plan.rollback.patch]
    assert ops == ["test", "replace", "replace"]
    assert [e.reason for e in plan.events if e.if_rolled_back] == ["RolledBack", "RolledBack"]


def test_transition_times_survive_repeated_steps() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    before = driver.condition("Verified")["lastTransitionTime"]
    driver.step(deployment(), NOW + timedelta(hours=1))
    assert driver.condition("Verified")["lastTransitionTime"] == before


def test_verdict_record_times() -> None:
    driver = Driver(rv_body(delay=5))
    driver.step(deployment())
    driver.step(deployment(), NOW + timedelta(seconds=5))
    driver.now = NOW + timedelta(seconds=8)
    driver.finish_all(PASS)
    plan = driver.step(deployment())
    assert plan.verdict is not None
    assert plan.verdict.rollout_to_verdict_seconds == 8
    assert plan.verdict.duration_seconds == 3


def test_the_stall_of_the_rolled_back_release_does_not_fail_the_rollback() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    stalled = deployment(revision=2, image="b", complete=False, stalled=True)
    stalled["status"]["conditions"][0]["lastUpdateTime"] = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    plan = driver.step(stalled)
    assert plan.rollback is not None
    # the controller shows revision 3 (the rollback) with revision 2's timeout still on it
    lingering = _rolled_back(3)
    lingering["status"] = {**stalled["status"], "replicas": 3}
    driver.step(lingering, NOW + timedelta(milliseconds=20))
    assert driver.status["phase"] == "Waiting"
    assert driver.status["lastRun"]["revision"] == 3
    plan = driver.step(_rolled_back(3))
    assert driver.status["phase"] == "Verifying"


def test_a_recorded_verdict_sets_the_phase_whatever_was_written_meanwhile() -> None:
    # a restarted operator that once saw the RV before its Deployment wrote Pending; the recorded
    # run alone decides the phase and the Verified condition from then on
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    driver.step(None)
    assert driver.status["phase"] == "Pending"
    plan = driver.step(deployment())
    assert driver.status["phase"] == "Verified"
    assert driver.condition("Verified")["status"] == "True"
    assert not plan.events and not plan.create_jobs and plan.verdict is None
    failed = Driver(rv_body())
    failed.verify(deployment(), PASS)
    failed.verify(deployment(revision=2, image="shop:2.0"), FAIL)
    failed.body["status"]["phase"] = "Pending"
    plan = failed.step(deployment(revision=2, image="shop:2.0", annotations={ROLLBACK_FROM_ANNOTATION: "2"}))
    assert failed.status["phase"] == "RolledBack"
    assert plan.rollback is None and not plan.events


def test_the_target_changed_by_others_during_a_verification_starts_no_fight() -> None:
    # scaled to zero and paused mid-run: the same revision, the run goes on and ends once
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    driver.step(deployment(revision=2, image="shop:2.0"))
    running = list(driver.jobs)
    for dep in (
        deployment(revision=2, image="shop:2.0", replicas=0, generation=2),
        deployment(revision=2, image="shop:2.0", paused=True, generation=3),
    ):
        plan = driver.step(dep)
        assert not plan.delete_jobs and not plan.create_jobs and plan.rollback is None
        assert driver.status["lastRun"]["revision"] == 2 and driver.status["lastRun"]["jobs"] == running[-1:]
    driver.finish_all(FAIL)
    plan = driver.step(deployment(revision=2, image="shop:2.0", paused=True, generation=3))
    assert plan.rollback is not None and (plan.rollback.from_revision, plan.rollback.to_revision) == (2, 1)
    # deleted mid-run: Pending, its Jobs stopped, no rollback, no crash; back again: a fresh start
    started = driver.step(deployment(revision=3, image="shop:3.0"))
    assert started.create_jobs
    plan = driver.step(None)
    assert driver.status["phase"] == "Pending" and plan.rollback is None
    assert plan.delete_jobs == [j["metadata"]["name"] for j in started.create_jobs]


def test_someone_else_rolling_out_during_our_rollback_wins_without_a_second_rollback() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    first = driver.verify(deployment(revision=2, image="shop:2.0"), FAIL)
    assert first.rollback is not None
    # our patch did not land yet; someone rolled out revision 3 meanwhile: verified on its own, no reapply
    plan = driver.step(deployment(revision=3, image="shop:3.0"))
    assert plan.rollback is None
    driver.finish_all(PASS)
    plan = driver.step(deployment(revision=3, image="shop:3.0"))
    assert plan.rollback is None and driver.status["phase"] == "Verified"
    assert [h.get("rolledBackTo") for h in driver.status["history"]].count(1) == 1


def test_checks_failing_on_a_target_scaled_to_zero_are_an_error_not_a_rollback() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    driver.step(deployment(revision=2, image="b"))
    driver.finish_all(FAIL)
    plan = driver.step(deployment(revision=2, image="b", replicas=0))
    assert plan.rollback is None and "RolledBack" not in reasons(plan)
    run = driver.status["lastRun"]
    assert (run["verdict"], run["reason"]) == ("Error", "TargetScaledToZero")
    assert "0 replicas" in run["message"]
