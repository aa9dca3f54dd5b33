"""The pure decisions behind issue 14: what keeps a probe pod from ever starting, why a stalled
rollout's containers fail, which message a user reads first, and a rollback done by hand."""

from __future__ import annotations

from typing import Any

from releaseguard.api import Verdict
from releaseguard.api.status import Condition
from releaseguard.core.conditions import summary_message
from releaseguard.core.decide import Observed, Settings, decide
from releaseguard.core.outcome import in_spec_order
from releaseguard.core.pods import container_trouble, permanent_failure, silent_crashes
from releaseguard.core.rollback import rolled_back_by_hand
from releaseguard.probe.checks.local import localize, parse_host_map
from releaseguard.report import CheckReport, build_report
from support.factories import NOW, deployment, http_check, replicaset, rv_body

Obj = dict[str, Any]
SETTINGS = Settings(runner_image="runner:test")


def pod(name: str, waiting: Obj | None = None, terminated: Obj | None = None, last: Obj | None = None) -> Obj:
    state: Obj = {}
    if waiting is not None:
        state["waiting"] = waiting
    if terminated is not None:
        state["terminated"] = terminated
    status: Obj = {"name": "probe", "state": state}
    if last is not None:
        status["lastState"] = {"terminated": last}
    return {"metadata": {"name": name}, "status": {"containerStatuses": [status]}}


def test_permanent_failures_are_config_and_image_errors_only() -> None:
    missing = pod("p", {"reason": "CreateContainerConfigError", "message": 'secret "tok" not found'})
    assert (
        permanent_failure(missing)
        == 'pod p cannot start container probe: CreateContainerConfigError: secret "tok" not found'
    )
    assert "ImagePullBackOff" in (permanent_failure(pod("p", {"reason": "ImagePullBackOff"})) or "")
    assert "ErrImagePull: nope" in (permanent_failure(pod("p", {"reason": "ErrImagePull", "message": "nope"})) or "")
    for transient in ("ContainerCreating", "PodInitializing", "CrashLoopBackOff"):
        assert permanent_failure(pod("p", {"reason": transient})) is None
    assert permanent_failure(pod("p", terminated={"exitCode": 1})) is None
    deleted = {**missing, "metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert permanent_failure(deleted) is None


def test_container_trouble_reads_waiting_and_last_termination_with_the_log_as_fallback() -> None:
    crashing = pod(
        "shop-1",
        {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container=shop"},
        last={"exitCode": 1, "reason": "Error"},
    )
    healthy = {
        "metadata": {"name": "shop-0"},
        "status": {"containerStatuses": [{"name": "shop", "state": {"running": {}}}]},
    }
    assert silent_crashes([healthy, crashing]) == [("shop-1", "probe", True)]
    logs = {("shop-1", "probe"): "Traceback ...\nModuleNotFoundError: No module named 'httpbin.cor'\n"}
    assert container_trouble([healthy, crashing, crashing], logs, crash_log=True) == [
        "container probe: CrashLoopBackOff: back-off 10s restarting failed container=shop; "
        "last exit 1 (Error): ModuleNotFoundError: No module named 'httpbin.cor'"
    ]
    said = pod("x", terminated={"exitCode": 2, "reason": "Error", "message": "bad config"})
    assert container_trouble([said], crash_log=True) == ["container probe: last exit 2 (Error): bad config"]
    # without the rv's opt-in (spec.diagnostics.crashLog), only the kubelet's words
    assert container_trouble([said]) == ["container probe: last exit 2 (Error)"]


def launched(checks: list[Obj]) -> tuple[Obj, Obj]:
    body = rv_body(checks=checks, timeout=600)
    plan = decide(Observed(body, deployment(), {}, {}, NOW), SETTINGS)
    body["status"] = plan.status.to_wire()
    return body, {j["metadata"]["name"]: j for j in plan.create_jobs}


def test_a_stuck_job_ends_the_run_as_error_at_once_and_is_deleted() -> None:
    body, jobs = launched([http_check()])
    [name] = jobs
    waiting = decide(Observed(body, deployment(), jobs, {}, NOW), SETTINGS)
    assert waiting.status.phase == "Verifying" and waiting.requeue_after == SETTINGS.pod_poll_seconds
    stuck = {name: 'pod p cannot start container probe: CreateContainerConfigError: secret "tok" not found'}
    plan = decide(Observed(body, deployment(), jobs, {}, NOW, stuck_jobs=stuck), SETTINGS)
    run = plan.status.last_run
    assert run is not None and (run.verdict, run.reason) == (Verdict.ERROR, "ProbeCannotStart")
    assert 'secret "tok" not found' in (run.message or "")
    assert plan.delete_jobs == [name]
    assert plan.rollback is None
    assert [e.reason for e in plan.events if e.on == "rv"] == ["VerificationFailed"]


def test_the_message_column_prefers_an_invalid_spec_then_a_missing_target() -> None:
    def cond(type_: str, status: str, message: str) -> Condition:
        return Condition(type=type_, status=status, reason="R", message=message, last_transition_time=NOW)

    verified = cond("Verified", "False", "revision 2: failed")
    rolled = cond("RolledBack", "False", "would roll back; run: kubectl rollout undo ...")
    assert summary_message([cond("SpecValid", "False", "bad regex"), verified], False) == "bad regex"
    assert summary_message([cond("SpecValid", "True", "2 checks"), verified], False) == "revision 2: failed"
    assert (
        summary_message([verified, rolled], True)
        == "revision 2: failed; would roll back; run: kubectl rollout undo ..."
    )
    assert summary_message([cond("TargetFound", "False", "no Deployment"), verified], True) == "no Deployment"


def test_failures_are_reported_in_the_specs_order() -> None:
    def failed(name: str, critical: bool = True) -> CheckReport:
        return CheckReport(name=name, type="http", critical=critical, result="Failed", message=f"{name} broke")

    report = build_report([failed("c"), failed("soft", critical=False), failed("a")], NOW, NOW)
    ordered = in_spec_order(report, [_check(n) for n in ("a", "soft", "c")])
    assert [c.name for c in ordered.checks] == ["a", "soft", "c"]
    assert ordered.failed_critical == ["a", "c"]
    assert ordered.message == "2 critical checks failed (a, c), 1 non-critical (soft): a: a broke"


def _check(name: str) -> Any:
    from releaseguard.api import parse_checks

    return parse_checks({"checks": [http_check(name)]})[0]


def test_a_rollback_by_hand_is_recognised_from_the_reused_replicaset() -> None:
    dep = deployment(revision=3)
    reused = replicaset(3, "shop:1.0", annotations={"deployment.kubernetes.io/revision-history": "1"})
    assert rolled_back_by_hand(dep, [replicaset(2, "shop:1.1"), reused], to_revision=1)
    assert not rolled_back_by_hand(dep, [replicaset(2, "shop:1.1"), replicaset(3, "shop:1.2")], to_revision=1)
    ours = deployment(revision=3, annotations={"releaseguard.io/rolled-back-from-revision": "2"})
    assert not rolled_back_by_hand(ours, [reused], to_revision=1)


def test_local_runs_map_cluster_names_and_interpreters() -> None:
    hosts = parse_host_map(["shop.demo.svc:8080=127.0.0.1:18080", "postgres.demo.svc=127.0.0.1"])
    checks = [
        {"name": "a", "http": {"url": "http://shop.demo.svc:8080/healthz?x=1"}},
        {"name": "b", "tcp": {"host": "postgres.demo.svc", "port": 5432}},
        {"name": "c", "prometheus": {"address": "http://shop.demo.svc:8080", "query": "up", "lessThan": 1}},
        {"name": "d", "python": {"imports": ["shop"]}},
        {"name": "e", "http": {"url": "http://other.svc/x"}},
    ]
    out = localize(checks, hosts, python="/app/venv/bin/python")
    assert out[0]["http"]["url"] == "http://127.0.0.1:18080/healthz?x=1"
    assert out[1]["tcp"] == {"host": "127.0.0.1", "port": 5432}
    assert out[2]["prometheus"]["address"] == "http://127.0.0.1:18080"
    assert out[3]["python"]["python"] == "/app/venv/bin/python"
    assert out[4]["http"]["url"] == "http://other.svc/x"
    assert checks[0]["http"]["url"] == "http://shop.demo.svc:8080/healthz?x=1"  # the input is left alone
    rebased = localize(checks, base_url="http://127.0.0.1:9000/prefix/")
    assert rebased[0]["http"]["url"] == "http://127.0.0.1:9000/prefix/healthz?x=1"
