"""Reports are trusted only from their own pod, filtered to their Job's checks, capped; a verdict
belongs to its run (target uid, pod template, checks)."""

from __future__ import annotations

import json
import re
from typing import Any

from releaseguard.api import CheckResultKind, Verdict, parse_release_verification
from releaseguard.core.jobs import build_jobs, group_checks, label_value, labels_for
from releaseguard.core.outcome import job_outcome
from releaseguard.core.trust import pod_report
from support.driver import FAIL, PASS, SETTINGS, Driver
from support.factories import NOW, RV_UID, deployment, finished_job, http_check, report, rv_body

Obj = dict[str, Any]
JOB_UID = "job-uid-1"


def _job(name: str = "rv-shop-r1-abc") -> Obj:
    return {
        "metadata": {"name": name, "uid": JOB_UID},
        "status": {"conditions": [{"type": "Complete", "status": "True"}]},
    }


def _pod(name: str, owner_uid: str | None, state: Obj, job: str = "rv-shop-r1-abc", **status: Any) -> Obj:
    refs = [{"kind": "Job", "name": job, "uid": owner_uid, "controller": True}] if owner_uid else []
    return {
        "metadata": {"name": name, "labels": {"batch.kubernetes.io/job-name": job}, "ownerReferences": refs},
        "status": {"containerStatuses": [{"name": "probe", "state": state}], **status},
    }


DONE = {"terminated": {"exitCode": 0, "reason": "Completed", "message": PASS}}


def test_only_the_pod_the_job_controls_reports() -> None:
    assert pod_report(_job(), [_pod("p", JOB_UID, DONE)]).message == PASS
    impostor = _pod("fake", None, DONE)
    got = pod_report(_job(), [impostor])
    assert got.message is None and got.problem is not None and "fake" in got.problem
    got = pod_report(_job(), [_pod("p", JOB_UID, DONE), impostor])
    assert got.message is None and "not controlled by Job" in (got.problem or "")
    other_uid = _pod("old", "another-job-uid", DONE)
    assert pod_report(_job(), [other_uid]).problem is not None
    two = pod_report(_job(), [_pod("a", JOB_UID, DONE), _pod("b", JOB_UID, DONE)])
    assert two.message is None and "2 pods" in (two.problem or "")


def test_a_pod_that_never_ran_its_container_is_a_problem() -> None:
    cases = [
        _pod("p", JOB_UID, {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}),
        _pod("p", JOB_UID, {"waiting": {"reason": "CreateContainerConfigError"}}),
        _pod("p", JOB_UID, {"terminated": {"exitCode": 128, "reason": "StartError"}}),
        _pod("p", JOB_UID, DONE, reason="Evicted", message="The node was low on resource: memory."),
        {
            "metadata": {"name": "p", "ownerReferences": [{"kind": "Job", "uid": JOB_UID, "controller": True}]},
            "status": {
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
            },
        },
    ]
    for pod in cases:
        got = pod_report(_job(), [pod])
        assert got.message is None and got.problem, pod
    assert "Unschedulable" in (pod_report(_job(), [cases[-1]]).problem or "")
    assert pod_report(_job(), []).problem is not None


def test_a_job_whose_pod_is_gone_says_why_the_job_failed_not_that_nothing_ran() -> None:
    failed = _job()
    failed["status"]["conditions"] = [
        {
            "type": "Failed",
            "status": "True",
            "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit",
        }
    ]
    problem = pod_report(failed, []).problem or ""
    assert (
        "has no pod left (the Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit)" in problem
    )
    assert "never ran" not in problem
    pending = _job()
    pending["status"] = {}
    assert "never created, or deleted or evicted before it reported" in (pod_report(pending, []).problem or "")


def _checks(*checks: Obj) -> Any:
    return parse_release_verification(rv_body(checks=list(checks))).spec.checks


def test_a_problem_makes_the_jobs_checks_error_never_failed() -> None:
    out = job_outcome(
        finished_job(_job(), succeeded=False), None, _checks(http_check("a")), False, "never ran", now=NOW
    )
    assert out.broken
    assert [c.result for c in out.report.checks] == [CheckResultKind.ERROR]
    assert out.report.verdict is Verdict.ERROR


def test_a_report_is_filtered_to_its_checks_and_critical_comes_from_the_spec() -> None:
    text = json.loads(report([("a", "Failed", False), ("intruder", "Failed", True)]))
    out = job_outcome(_job(), json.dumps(text), _checks(http_check("a", critical=True)), in_runner=True, now=NOW)
    assert [c.name for c in out.report.checks] == ["a"]
    assert out.report.checks[0].critical is True
    assert out.report.verdict is Verdict.FAILED and out.report.failed_critical == ["a"]
    assert not out.broken


def test_a_check_missing_from_its_report_is_an_error() -> None:
    out = job_outcome(_job(), report([("a", "Passed", True)]), _checks(http_check("a"), http_check("b")), True, now=NOW)
    assert out.broken
    assert {c.name: c.result for c in out.report.checks} == {"a": CheckResultKind.PASSED, "b": CheckResultKind.ERROR}


def test_strings_from_a_report_are_capped() -> None:
    doc = json.loads(report([("a", "Failed", True)]))
    doc["checks"][0].update(message="m" * 100_000, observed="o" * 100_000, type="x" * 10_000)
    doc["checks"][0]["attempts"] = [{"result": "Failed", "message": "z" * 10_000}] * 1000
    out = job_outcome(_job(), json.dumps(doc), _checks(http_check("a")), True, now=NOW)
    [check] = out.report.checks
    assert len(check.message) <= 512 and len(check.observed) <= 256 and check.type == "http"
    assert len(check.attempts) == 1 and check.attempts[0].message == ""
    assert len(out.report.message) < 1024


def test_a_job_not_controlled_by_the_rv_is_never_counted() -> None:
    driver = Driver(rv_body())
    driver.step(deployment())
    [name] = driver.jobs
    hostile = finished_job(driver.jobs[name])
    hostile["metadata"]["ownerReferences"] = []
    driver.jobs[name] = hostile
    driver.messages[name] = PASS
    plan = driver.step(deployment())
    assert driver.status["lastRun"]["verdict"] == "Error"
    assert "not controlled" in driver.status["lastRun"]["checks"][0]["message"]
    assert plan.rollback is None


def test_a_job_created_before_its_run_began_is_deleted_not_counted() -> None:
    driver = Driver(rv_body())
    driver.step(deployment())
    [name] = driver.jobs
    old = finished_job(driver.jobs[name])
    old["metadata"]["creationTimestamp"] = "2026-11-24T20:00:00Z"  # an hour before the run began
    driver.jobs[name] = old
    driver.messages[name] = PASS
    plan = driver.step(deployment())
    assert "verdict" not in driver.status["lastRun"]
    assert name in plan.delete_jobs


def test_a_recreated_deployment_meets_none_of_the_old_runs_jobs_and_starts_fresh() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    old_jobs = set(driver.jobs)
    assert driver.status["lastGoodRevision"] == 1 and driver.status["targetUID"] == "dep-uid-1"
    new = deployment()
    new["metadata"]["uid"] = "dep-uid-2"
    plan = driver.step(new)
    status = driver.status
    assert status["targetUID"] == "dep-uid-2" and "lastGoodRevision" not in status
    assert status["lastRun"]["trigger"] == "TargetReplaced" and status["lastRun"]["targetUID"] == "dep-uid-2"
    created = {j["metadata"]["name"] for j in plan.create_jobs}
    assert created and not created & old_jobs  # same revision number, different Jobs
    driver.finish_all(FAIL)
    plan = driver.step(new)
    assert driver.status["lastRun"]["verdict"] == "Failed"
    assert plan.rollback is None  # nothing of the new Deployment ever passed


def test_verified_does_not_outlive_the_deployment() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    assert driver.condition("Verified")["status"] == "True"
    driver.step(None)
    assert driver.condition("Verified")["status"] == "Unknown"
    assert driver.condition("Verified")["reason"] == "DeploymentNotFound"


def test_changed_checks_reverify_the_current_revision_and_do_not_roll_back() -> None:
    driver = Driver(rv_body())
    driver.verify(deployment(revision=1), PASS)
    driver.verify(deployment(revision=2, image="b"), PASS)
    first_jobs = set(driver.jobs)
    driver.body["spec"]["checks"] = [http_check("home"), http_check("new-check")]
    driver.step(deployment(revision=2, image="b"))
    assert driver.status["lastRun"]["trigger"] == "ChecksChanged"
    assert set(driver.jobs) - first_jobs  # new Jobs, new names
    driver.finish_all(report([("home", "Passed", True), ("new-check", "Failed", True)]))
    plan = driver.step(deployment(revision=2, image="b"))
    assert driver.status["lastRun"]["verdict"] == "Failed"
    assert plan.rollback is None
    assert driver.condition("RolledBack")["reason"] == "ChecksChanged"


def test_a_target_that_cannot_run_restricted_ends_error_naming_the_field() -> None:
    dep = deployment(revision=2, image="b")
    dep["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"runAsUser": 0}
    smoke = {"name": "smoke", "command": {"command": ["true"]}}
    driver = Driver(rv_body(checks=[http_check("home"), smoke]))
    driver.verify(deployment(), report([("home", "Passed", True), ("smoke", "Passed", True)]))
    plan = driver.step(dep)
    assert len(plan.create_jobs) == 1  # only the runner
    driver.finish_all(PASS)
    plan = driver.step(dep)
    run = driver.status["lastRun"]
    assert run["verdict"] == "Error" and plan.rollback is None
    smoke_status = next(c for c in run["checks"] if c["name"] == "smoke")
    assert smoke_status["result"] == "Error"
    assert "spec.template.spec.containers[0].securityContext.runAsUser" in smoke_status["message"]


def test_a_check_named_runner_and_long_names_make_valid_distinct_jobs() -> None:
    name = "a" * 62 + "-b"
    body = rv_body(checks=[http_check("home"), {"name": "runner", "command": {"command": ["true"]}}], timeout=86400)
    body["metadata"]["name"] = name
    rv = parse_release_verification(body)
    jobs = build_jobs(rv, RV_UID, deployment(), 7, ttl_seconds=60)
    names = [j["metadata"]["name"] for j in jobs]
    assert len(set(names)) == 2 and all(len(n) <= 63 for n in names)
    assert [g.is_runner for g in group_checks(rv.spec.checks)] == [True, False]
    label = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
    for value in labels_for("x" * 62 + "-y" + "z" * 100, 1).values():
        assert len(value) <= 63 and label.match(value), value
    assert label_value("a" * 62 + "-") != label_value("a" * 62 + "--")
    assert all(j["spec"]["ttlSecondsAfterFinished"] >= 86400 for j in jobs)


def test_status_stays_bounded_for_the_largest_spec_with_every_check_failing() -> None:
    long = "x" * 4000
    checks = [
        {"name": f"{i:02d}" + "c" * 61, "http": {"url": f"http://s.default.svc/{'p' * 2000}"}, "retries": 10}
        for i in range(64)
    ]
    body = rv_body(checks=checks, policy="Never", extra_spec={"historyLimit": 50})
    body["metadata"]["name"] = "n" * 253
    driver = Driver(body)
    failing = json.loads(report([(c["name"], "Failed", True) for c in checks]))
    for c in failing["checks"]:
        c.update(message=long, observed=long, attempts=[{"result": "Failed", "message": long}] * 11)
    failing["message"] = long
    text = json.dumps(failing)
    for revision in range(1, 60):
        driver.verify(deployment(revision=revision, image=f"i{revision}"), text)
    status = json.dumps(driver.status)
    assert len(driver.status["history"]) == 50
    assert len(status.encode()) < 512 * 1024, len(status)
    for condition in driver.status["conditions"]:
        assert len(condition["message"]) <= 32 * 1024
    print(f"status of the largest spec after 59 failing runs: {len(status.encode())} bytes")


def test_of_two_rvs_on_one_deployment_only_the_oldest_rolls_back() -> None:
    from releaseguard.core.decide import Observed, decide, rollback_owner

    older = rv_body()
    older["metadata"].update(name="a-late-name", creationTimestamp="2026-01-01T00:00:00Z")
    newer = rv_body()
    newer["metadata"].update(name="b", creationTimestamp="2026-02-01T00:00:00Z")
    assert rollback_owner([newer, older], SETTINGS) == "a-late-name"
    assert rollback_owner([], SETTINGS) is None

    driver = Driver(rv_body())
    driver.verify(deployment(), PASS)
    driver.step(deployment(revision=2, image="b"))
    driver.finish_all(FAIL)
    observed = Observed(
        driver.body,
        deployment(revision=2, image="b"),
        dict(driver.jobs),
        dict(driver.messages),
        driver.now,
        rollback_owner="a-late-name",
    )
    plan = decide(observed, driver.settings)
    assert plan.rollback is None
    rolled = next(c for c in plan.status.to_wire()["conditions"] if c["type"] == "RolledBack")
    assert rolled["reason"] == "RollbackOwnedElsewhere" and "a-late-name" in rolled["message"]
    observed = Observed(
        driver.body, observed.deployment, observed.jobs, observed.messages, driver.now, rollback_owner="shop"
    )
    assert decide(observed, driver.settings).rollback is not None
