"""The record's pure decisions: names, what changed and who changed it, the verdict as recorded,
retention, flakiness, the history table and the report, and re-runs in the state machine."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from releaseguard.api import RunStatus, parse_spec
from releaseguard.api.spec import RetentionSpec
from releaseguard.api.status import FlakyCheck, status_from_wire
from releaseguard.core.decide import RERUN_ANNOTATION
from releaseguard.core.history import history_document, history_table, report_text
from releaseguard.core.record import (
    changed_by,
    container_images,
    flakiness,
    format_duration,
    newly_flaky,
    record_name,
    record_spec,
    record_status,
    retention_victims,
    template_changes,
)
from support.driver import PASS, Driver
from support.factories import NOW, deployment, http_check, replicaset, report, rv_body

Obj = dict[str, Any]


def test_record_name_is_stable_and_distinguishes_runs() -> None:
    run = RunStatus(revision=2, target_uid="u", checks_digest="d", trigger="NewRevision", start_time=NOW)
    same = RunStatus(revision=2, target_uid="u", checks_digest="d", trigger="NewRevision", start_time=NOW)
    rerun = RunStatus(revision=2, target_uid="u", checks_digest="d", trigger="Rerun", rerun="x", start_time=NOW)
    assert record_name("shop", run) == record_name("shop", same)
    assert record_name("shop", run).startswith("shop-r2-")
    assert record_name("shop", rerun) != record_name("shop", run)
    assert len(record_name("a" * 253, run)) == 253


def test_template_changes_name_images_env_and_fields_never_values() -> None:
    old = replicaset(1, "shop:1.0")["spec"]["template"]
    new = replicaset(2, "shop:1.1")["spec"]["template"]
    new["spec"]["containers"][0]["env"] = [{"name": "PORT", "value": "9090"}, {"name": "TOKEN", "value": "s3cret"}]
    new["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    new["spec"]["serviceAccountName"] = "shop"
    changes = template_changes(old, new, 1)
    assert changes.images == ["shop: shop:1.0 -> shop:1.1"]
    assert changes.env == ["shop: PORT", "shop: TOKEN"]
    assert changes.fields == ["containers[shop].resources", "serviceAccountName"]
    assert "s3cret" not in str(changes.to_wire()) and "9090" not in str(changes.to_wire())
    assert template_changes(None, new, None).to_wire() == {"images": [], "env": [], "fields": []}


def test_changed_by_reads_the_template_writer_from_managed_fields_and_the_change_cause() -> None:
    dep = deployment(revision=2)
    dep["metadata"]["annotations"]["kubernetes.io/change-cause"] = "ship 1.1"
    dep["metadata"]["managedFields"] = [
        {"manager": "kube-controller-manager", "operation": "Update", "time": "2026-11-24T21:05:00Z",
         "fieldsV1": {"f:metadata": {"f:annotations": {}}}},
        {"manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-11-24T20:00:00Z",
         "fieldsV1": {"f:spec": {"f:template": {}}}},
        {"manager": "ci-bot", "operation": "Apply", "time": "2026-11-24T20:30:00Z",
         "fieldsV1": {"f:spec": {"f:template": {}}}},
    ]  # fmt: skip
    who = changed_by(dep)
    assert (who.manager, who.operation, who.change_cause) == ("ci-bot", "Apply", "ship 1.1")
    assert changed_by(deployment()).to_wire() == {}


def test_images_carry_the_digest_of_running_pods_only() -> None:
    tpl = replicaset(1, "shop:1.0")["spec"]["template"]
    waiting = {"status": {"containerStatuses": [{"name": "shop", "imageID": "", "state": {"waiting": {}}}]}}
    running = {
        "status": {"containerStatuses": [{"name": "shop", "imageID": "shop@sha256:ab", "state": {"running": {}}}]}
    }
    assert container_images(tpl, [waiting])[0].digest is None
    assert container_images(tpl, [waiting, running])[0].to_wire() == {
        "container": "shop",
        "image": "shop:1.0",
        "digest": "shop@sha256:ab",
    }


def _verified_status(text: str = PASS) -> tuple[Obj, Driver]:
    driver = Driver(rv_body(checks=[http_check("home")]))
    driver.verify(deployment(), text)
    return driver.status, driver


def test_the_run_points_to_its_record_and_the_verdict_is_recorded() -> None:
    status, driver = _verified_status()
    run = status["lastRun"]
    assert run["record"].startswith("shop-r1-")
    spec = parse_spec(driver.body["spec"])
    parsed = status_from_wire(status)
    recorded = record_status(parsed, spec.checks, driver.messages)
    assert recorded is not None
    wire = recorded.to_wire()
    assert (wire["verdict"], wire["reason"], wire["checksSummary"], wire["phase"]) == (
        "Passed",
        "ChecksPassed",
        "1/1",
        "Finished",
    )
    assert wire["checks"][0]["expected"] == "HTTP 200"
    dep = deployment()
    rs = replicaset(1, "shop:1.0")
    made = record_spec(driver.body, spec.checks, parsed.last_run, dep, [rs], []).to_wire()  # type: ignore[arg-type]
    assert (made["revision"], made["podTemplateHash"], made["image"], made["trigger"]) == (
        1,
        "hash1",
        "shop:1.0",
        "NewRevision",
    )
    assert made["checks"] == [http_check("home")]


def test_a_rerun_annotation_starts_one_new_run_with_trigger_rerun() -> None:
    status, driver = _verified_status()
    first = status["lastRun"]["record"]
    driver.body["metadata"]["annotations"] = {RERUN_ANNOTATION: "2026-11-24T21:10:00Z"}
    plan = driver.step(deployment())
    run = driver.status["lastRun"]
    assert run["trigger"] == "Rerun" and run["rerun"] == "2026-11-24T21:10:00Z"
    assert run["record"] != first
    assert plan.create_jobs or plan.delete_jobs  # the old Jobs are stale for the new run
    driver.finish_all(PASS)
    for _ in range(3):
        driver.step(deployment())
        driver.finish_all(PASS)
    assert driver.status["lastRun"]["verdict"] == "Passed"
    again = driver.step(deployment())  # the same annotation: nothing more
    assert again.verdict is None and not again.create_jobs
    assert driver.status["lastRun"]["trigger"] == "Rerun"


def test_a_failed_rerun_recommends_and_never_rolls_back() -> None:
    _, driver = _verified_status()
    dep2 = deployment(revision=2, image="shop:1.1")
    driver.verify(dep2, PASS)
    driver.body["metadata"]["annotations"] = {RERUN_ANNOTATION: "now"}
    driver.step(dep2)
    fail = report([("home", "Failed", True)])
    plan = None
    for _ in range(4):
        driver.finish_all(fail)
        plan = driver.step(dep2)
        if driver.status["lastRun"].get("verdict"):
            break
    assert plan is not None and plan.rollback is None
    assert driver.status["lastRun"]["verdict"] == "Failed"
    rolled = driver.condition("RolledBack")
    assert rolled["reason"] == "Rerun" and "does not roll back" in rolled["message"]


def _record(name: str, minutes_ago: int, verdict: str | None, checks: list[tuple[str, str]] = ()) -> Obj:  # type: ignore[assignment]
    when = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status: Obj = {"finishTime": when, "checks": [{"name": n, "result": r} for n, r in checks]}
    if verdict:
        status["verdict"] = verdict
    return {"metadata": {"name": name, "creationTimestamp": when}, "spec": {"revision": 1}, "status": status}


def test_retention_by_count_and_age_keeps_the_last_verified_and_failed() -> None:
    records = [
        _record("r6", 1, "Passed"),
        _record("r5", 2, "Passed"),
        _record("r4", 3, "Error"),
        _record("r3", 4, "Failed"),
        _record("r2", 5, "Passed"),
        _record("r1", 6, None),  # still running: never deleted
    ]
    assert retention_victims(records, RetentionSpec(count=2), NOW, keep="r6") == ["r4", "r2"]
    old = [_record("new", 10, "Error"), _record("pass", 60 * 24 * 40, "Passed"), _record("fail", 60 * 24 * 41, "Failed"),
           _record("gone", 60 * 24 * 42, "Passed")]  # fmt: skip
    assert retention_victims(old, RetentionSpec(count=10, max_age_hours=24), NOW, keep=None) == ["gone"]


def test_flakiness_counts_runs_that_passed_only_on_retry() -> None:
    records = [
        _record("a", 1, "Passed", [("home", "Flaky"), ("db", "Passed")]),
        _record("b", 2, "Passed", [("home", "Passed"), ("db", "Passed")]),
        _record("c", 3, "Passed", [("home", "Flaky"), ("db", "Skipped")]),
        _record("d", 4, None, [("home", "Flaky")]),
    ]
    flaky = flakiness(records)
    assert [f.to_wire() for f in flaky] == [{"name": "home", "flakyRuns": 2, "runs": 3, "rate": 0.667}]
    assert newly_flaky([], flaky) == flaky
    assert newly_flaky(flaky, flaky) == []
    few = [FlakyCheck(name="home", flaky_runs=1, runs=2, rate=0.5)]
    assert newly_flaky([], few) == []  # too few runs to call it


def test_history_table_and_report() -> None:
    records = [
        _record("shop-r1-a", 5, "Passed", [("home", "Passed")]),
        _record("shop-r2-b", 1, "Failed", [("home", "Failed")]),
    ]
    records[1]["spec"] = {"revision": 2, "image": "shop:1.1", "trigger": "NewRevision"}
    records[1]["status"].update({"duration": "3.2s", "checks": [
        {"name": "home", "result": "Failed", "critical": True, "expected": "HTTP 200", "observed": "HTTP 500",
         "attempts": 2, "attemptDetails": [{"result": "Failed", "observed": "HTTP 500"}, {"result": "Failed"}]}]})  # fmt: skip
    document = history_document("shop", "default", records)
    assert [r["run"] for r in document["runs"]] == ["shop-r2-b", "shop-r1-a"]
    lines = history_table(document)
    assert lines[0].split()[:5] == ["RUN", "REVISION", "IMAGE", "VERDICT", "FAILED"]
    assert lines[1].split()[:6] == ["shop-r2-b", "2", "shop:1.1", "Failed", "home", "3.2s"]
    text = "\n".join(report_text(records[1]))
    assert "expected: HTTP 200" in text and "observed: HTTP 500" in text and "attempt 2: Failed" in text
    assert format_duration(3.21) == "3.2s" and format_duration(125) == "2m5s" and format_duration(7300) == "2h1m"


def test_approve_refuses_stale_or_done_and_the_operator_acts_once() -> None:
    from releaseguard.core.approve import APPROVE_ANNOTATION, APPROVED_BY_ANNOTATION, approval_problem

    _, driver = _verified_status()
    dep2 = deployment(revision=2, image="shop:1.1")
    driver.body["spec"]["rollback"] = {"policy": "Manual"}
    driver.verify(dep2, report([("home", "Failed", True)]))
    assert driver.status["lastRollback"]["applied"] is False
    assert approval_problem(driver.body, 2) is None
    assert "stale" in (approval_problem(driver.body, 3) or "")
    driver.body["metadata"]["annotations"] = {APPROVE_ANNOTATION: "shop-r2-other", APPROVED_BY_ANNOTATION: "alice"}
    assert driver.step(dep2).rollback is None  # names another run: nothing
    driver.body["metadata"]["annotations"][APPROVE_ANNOTATION] = driver.status["lastRun"]["record"]
    plan = driver.step(dep2)
    assert plan.rollback is not None and (plan.rollback.to_revision, plan.rollback.reapply) == (1, False)
    assert driver.status["lastRollback"]["appliedBy"] == "approved:alice"
    assert driver.status["history"][0]["rolledBackTo"] == 1
    assert "already done" in (approval_problem(driver.body, 2) or "")
    again = driver.step(dep2)  # the patch has not landed: re-applied, never a second decision
    assert again.rollback is not None and again.rollback.reapply
    assert "RolledBack" not in [e.reason for e in again.events]
