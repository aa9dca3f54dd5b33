"""spec.early and remembered templates (issue 15), through the pure state machine: early checks
start once minReadyPods new pods are ready, a critical early failure pauses and rolls back (one
JSON patch resumes the Deployment), a pass goes on to the run's own checks; a template rolled back
is remembered and recognised when deployed again, and by policy rolled back at once."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from releaseguard.api import parse_release_verification
from releaseguard.api.spec import expand_pod_template, validate_templated_url
from releaseguard.api.status import TargetPod
from releaseguard.core.decide import Observed, decide
from releaseguard.core.early import ready_pods, remember
from releaseguard.core.jobs import template_hash
from releaseguard.core.rollback import PAUSED_BY_ANNOTATION, plan_rollback
from releaseguard.errors import SpecInvalidError
from support.driver import FAIL, PASS, SETTINGS, Driver
from support.factories import DEP_UID, RV_UID, deployment, finished_job, replicaset, report, rv_body

Obj = dict[str, Any]
POD_CHECK = {"name": "pod-health", "http": {"url": "http://{{ .PodIP }}:8080/healthz"}}
SERVICE_CHECK = {"name": "home", "http": {"url": "http://shop.default.svc:8080/"}}
PODS = [TargetPod(name="shop-hash2-a", ip="10.0.0.7")]


def early_body(**extra: Any) -> Obj:
    return rv_body(checks=[POD_CHECK, SERVICE_CHECK], extra_spec={"early": {"enabled": True}, **extra})


class PodDriver(Driver):
    pods: list[TargetPod] | None = None
    records: list[Obj] | None = None  # this rv's VerificationRuns, as the reconciler reads them

    def step(self, dep: Obj | None, now: Any = None) -> Any:
        self.now = now or self.now
        observed = Observed(self.body, dep, dict(self.jobs), dict(self.messages), self.now, new_pods=self.pods)
        plan = decide(observed, self.settings)
        if plan.needs_replicasets or plan.wants_records:
            reps = [replicaset(1, "shop:1.0"), replicaset(2, "shop:2.0"), replicaset(3, "shop:1.0")]
            reps = [*reps, replicaset(4, "shop:2.0")]
            observed = dataclasses.replace(observed, replicasets=reps, records=self.records or [])
            plan = decide(observed, self.settings)
        self.body["status"] = plan.status.to_wire()
        for job in plan.create_jobs:
            self.jobs[job["metadata"]["name"]] = job
        for name in plan.delete_jobs:
            self.jobs.pop(name, None)
        self.last = plan
        return plan


def verified_v1(body: Obj) -> PodDriver:
    d = PodDriver(body, SETTINGS)
    d.pods = [TargetPod(name="shop-hash1-a", ip="10.0.0.1")]
    d.verify(deployment(), report([("pod-health", "Passed", True), ("home", "Passed", True)]))
    assert d.status["phase"] == "Verified"
    d.jobs.clear()
    d.messages.clear()
    return d


def test_the_url_template_is_validated_and_expanded() -> None:
    assert validate_templated_url("http://{{ .PodIP }}:8080/x?pod={{.PodName}}")
    assert expand_pod_template("http://{{ .PodIP }}:80/{{ .PodName }}", "p-1", "10.1.2.3") == "http://10.1.2.3:80/p-1"
    assert expand_pod_template("http://{{ .PodIP }}/", "p", "fd00::1") == "http://[fd00::1]/"
    with pytest.raises(ValueError, match="unknown template"):
        validate_templated_url("http://{{ .Host }}:8080/")
    with pytest.raises(SpecInvalidError):
        parse_release_verification(rv_body(checks=[{"name": "x", "tcp": {"host": "{{ .Nope }}", "port": 1}}]))


def test_early_checks_start_with_the_first_ready_new_pod_and_a_failure_pauses_then_rolls_back() -> None:
    d = verified_v1(early_body())
    d.pods = []
    rolling = deployment(revision=2, image="shop:2.0", complete=False, replicas=10)
    d.step(rolling)
    assert d.status["phase"] == "Waiting" and not d.jobs
    d.pods = PODS
    plan = d.step(rolling)
    assert d.condition("Verified")["reason"] == "EarlyChecksRunning"
    [job] = plan.create_jobs
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert json.loads(env["RG_TARGET_PODS"]) == [{"name": "shop-hash2-a", "ip": "10.0.0.7"}]
    assert d.status["lastRun"]["early"]["jobs"] == [job["metadata"]["name"]]
    assert d.status["lastRun"]["jobs"] == []
    d.finish_all(report([("pod-health", "Failed", True)]))
    plan = d.step(rolling)
    assert d.status["lastRun"]["reason"] == "EarlyChecksFailed"
    assert plan.pause is not None and plan.rollback is not None and plan.rollback.unpause
    marker = {"op": "add", "path": "/metadata/annotations/releaseguard.io~1paused-by", "value": f"{RV_UID}/2"}
    assert {"op": "add", "path": "/spec/paused", "value": True} in plan.pause and marker in plan.pause
    assert {"op": "add", "path": "/spec/paused", "value": False} in list(plan.rollback.patch or ())
    assert d.status["lastRollback"]["paused"] is True
    assert "PausedForRollback" in [e.reason for e in plan.events]
    [rejected] = d.status["rejectedTemplates"]
    assert rejected["revision"] == 2 and rejected["podTemplateHash"] == "hash2"
    assert rejected["run"] == d.status["lastRun"]["record"]


def test_a_recorded_rollback_of_a_paused_deployment_resumes_it_when_applied_again() -> None:
    d = verified_v1(early_body())
    d.pods = PODS
    rolling = deployment(revision=2, image="shop:2.0", complete=False, replicas=10)
    d.step(rolling)
    d.finish_all(report([("pod-health", "Failed", True)]))
    d.step(rolling)
    ours = {PAUSED_BY_ANNOTATION: f"{RV_UID}/2"}
    paused = deployment(revision=2, image="shop:2.0", complete=False, replicas=10, paused=True, annotations=ours)
    plan = d.step(paused)  # the pause landed, the rollback patch did not
    assert plan.rollback is not None and plan.rollback.reapply and plan.rollback.unpause
    assert plan.pause is None and plan.resume is None
    patch = list(plan.rollback.patch or ())
    assert {"op": "add", "path": "/spec/paused", "value": False} in patch
    [annotations] = [op["value"] for op in patch if op["path"] == "/metadata/annotations"]
    assert PAUSED_BY_ANNOTATION not in annotations  # the marker goes with the pause


def test_early_pass_goes_on_to_the_run_s_own_checks_after_the_rollout() -> None:
    d = verified_v1(early_body())
    d.pods = PODS
    rolling = deployment(revision=2, image="shop:2.0", complete=False, replicas=10)
    d.step(rolling)
    d.finish_all(report([("pod-health", "Passed", True)]))
    d.step(rolling)
    assert d.status["lastRun"]["early"]["verdict"] == "Passed"
    assert d.status["phase"] == "Waiting" and d.condition("Verified")["status"] == "Unknown"
    d.pods = [TargetPod(name=f"shop-hash2-{i}", ip=f"10.0.0.{i}") for i in range(10)]
    plan = d.step(deployment(revision=2, image="shop:2.0", replicas=10))
    [job] = plan.create_jobs
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert len(json.loads(env["RG_TARGET_PODS"])) == 10
    d.finish_all(report([("pod-health", "Passed", True), ("home", "Passed", True)]))
    d.step(deployment(revision=2, image="shop:2.0", replicas=10))
    assert d.status["phase"] == "Verified"


def test_without_early_nothing_runs_before_the_rollout_completes() -> None:
    d = verified_v1(rv_body(checks=[POD_CHECK, SERVICE_CHECK]))
    d.pods = PODS
    d.step(deployment(revision=2, image="shop:2.0", complete=False, replicas=10))
    assert not d.jobs and d.status["phase"] == "Waiting"


def test_ready_pods_are_the_new_replicaset_s_ready_ones() -> None:
    rs = {"metadata": {"uid": "rs2"}}

    def pod(name: str, ready: bool, owner: str = "rs2", ip: str | None = "10.0.0.9") -> Obj:
        return {
            "metadata": {"name": name, "ownerReferences": [{"uid": owner, "controller": True}]},
            "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
        }

    pods = [pod("b", True), pod("a", True), pod("c", False), pod("d", True, owner="rs1"), pod("e", True, ip=None)]
    assert [p.name for p in ready_pods(rs, pods)] == ["a", "b"]


def test_plan_rollback_refuses_a_paused_deployment_unless_it_unpauses() -> None:
    paused = deployment(revision=2, image="shop:2.0", paused=True)
    rss = [replicaset(1, "shop:1.0"), replicaset(2, "shop:2.0")]
    assert plan_rollback(paused, rss, 1, "x").reason == "DeploymentPaused"  # type: ignore[union-attr]
    assert plan_rollback(paused, rss, 1, "x", unpause=True).patch[-1]["path"] == "/spec/paused"  # type: ignore[union-attr]


def rejected_then_redeployed(policy: str) -> PodDriver:
    d = PodDriver(rv_body(extra_spec={"rollback": {"policy": "Automatic", "onRejectedTemplate": policy}}), SETTINGS)
    d.verify(deployment(), PASS)
    d.jobs.clear()
    d.messages.clear()
    d.verify(deployment(revision=2, image="shop:2.0"), FAIL)
    assert d.status["phase"] == "RolledBack" and len(d.status["rejectedTemplates"]) == 1
    d.records = [rollback_record(d.status["rejectedTemplates"][0]["run"], 2, 1)]
    d.jobs.clear()
    d.messages.clear()
    rolled = deployment(
        revision=3,
        annotations={"releaseguard.io/rolled-back-from-revision": "2", "releaseguard.io/rolled-back-to-revision": "1"},
    )
    d.verify(rolled, PASS)
    assert d.status["phase"] == "Verified"
    d.jobs.clear()
    d.messages.clear()
    return d


def rollback_record(name: str, revision: int, to: int, owner: str = RV_UID, target_uid: str | None = DEP_UID) -> Obj:
    """A VerificationRun as the operator writes it for a run that failed and was rolled back."""
    spec: Obj = {"revision": revision, "checksDigest": "d"}
    if target_uid:
        spec["targetUID"] = target_uid
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "ownerReferences": [{"kind": "ReleaseVerification", "uid": owner, "controller": True}],
        },
        "spec": spec,
        "status": {
            "verdict": "Failed",
            "rollback": {"fromRevision": revision, "toRevision": to, "reason": "x", "applied": True},
        },
    }


def test_a_rejected_template_deployed_again_is_recognised_and_verified_again() -> None:
    d = rejected_then_redeployed("Verify")
    plan = d.step(deployment(revision=4, image="shop:2.0"))
    condition = d.condition("RejectedTemplate")
    assert condition["status"] == "True" and condition["reason"] == "RejectedTemplateRedeployed"
    run = d.status["rejectedTemplates"][0]["run"]
    assert run and run in condition["message"]
    warnings = [e for e in plan.events if e.reason == "RejectedTemplateRedeployed"]
    assert warnings and all(e.type == "Warning" for e in warnings) and run in warnings[0].message
    assert d.jobs  # verified again
    d.finish_all(PASS)
    d.step(deployment(revision=4, image="shop:2.0"))
    assert d.status["phase"] == "Verified" and d.status["rejectedTemplates"] == []


def test_a_rejected_template_deployed_again_is_rolled_back_at_once_by_policy() -> None:
    d = rejected_then_redeployed("RollBack")
    plan = d.step(deployment(revision=4, image="shop:2.0"))
    assert not d.jobs
    assert d.status["lastRun"]["reason"] == "RejectedTemplateRedeployed"
    assert plan.rollback is not None and plan.rollback.to_revision == 3
    assert [e.reason for e in plan.events if e.on == "rv"].count("RolledBack") == 1
    plan = d.step(deployment(revision=4, image="shop:2.0"))  # the patch has not landed yet: reapply only
    assert plan.rollback is None or plan.rollback.reapply


@pytest.mark.parametrize(
    "records",
    [
        [],  # no record at all: a status entry alone is only a claim
        [rollback_record("other-run", 2, 1)],
        [rollback_record("RUN", 2, 1, owner="someone-else")],
        [rollback_record("RUN", 2, 1, target_uid=None)],
        [{**rollback_record("RUN", 2, 1), "status": {"verdict": "Passed"}}],
    ],
    ids=["none", "another-run", "not-owned", "no-target-uid", "not-rolled-back"],
)
def test_a_rejected_template_is_rolled_back_at_once_only_on_the_rv_s_own_record(records: list[Obj]) -> None:
    d = rejected_then_redeployed("RollBack")
    run = d.status["rejectedTemplates"][0]["run"]
    d.records = [
        {**r, "metadata": {**r["metadata"], "name": run if r["metadata"]["name"] == "RUN" else "x"}} for r in records
    ]
    plan = d.step(deployment(revision=4, image="shop:2.0"))
    assert plan.rollback is None and d.jobs  # verified again instead, as under Verify
    assert d.condition("RejectedTemplate")["status"] == "True"


def test_a_forged_rejected_template_never_rolls_back_a_new_release() -> None:
    """Someone writes a rejectedTemplates entry for a template the rv never rolled back."""
    d = PodDriver(rv_body(extra_spec={"rollback": {"policy": "Automatic", "onRejectedTemplate": "RollBack"}}), SETTINGS)
    d.verify(deployment(), PASS)
    d.jobs.clear()
    d.messages.clear()
    good = deployment(revision=2, image="shop:2.0")
    forged = {
        "templateDigest": template_hash(good),
        "revision": 2,
        "run": "shop-forged",
        "time": "2026-01-01T00:00:00Z",
        "reason": "x",
    }
    d.body["status"]["rejectedTemplates"] = [forged]
    d.records = []
    plan = d.step(good)
    assert plan.rollback is None and d.jobs and d.status["lastRun"].get("verdict") is None


def test_the_remembered_templates_are_bounded_and_one_per_template() -> None:
    from datetime import UTC, datetime

    from releaseguard.api.status import RejectedTemplate

    now = datetime(2026, 1, 1, tzinfo=UTC)
    entries: list[RejectedTemplate] = []
    for i in range(30):
        entries = remember(entries, RejectedTemplate(template_digest=f"d{i % 25}", revision=i, time=now, reason="r"))
    assert len(entries) == 20 and entries[0].revision == 29
    assert len({e.template_digest for e in entries}) == 20


_ = finished_job
