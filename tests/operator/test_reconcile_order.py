"""The reconciler carries out the core's plan in a fixed order (status, rollback patch, Jobs,
Events), through an in-memory API (fake_kube.FakeKube); its error paths: a 409 on the status
write does nothing else, a 422 on the rollback patch announces no rollback and the next decision
records the refusal, a rollback whose patch failed on the way is applied again exactly once."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fake_kube import FakeKube

from releaseguard.contract import PROBE_CONTAINER
from releaseguard.core.decide import Settings
from releaseguard.errors import ConflictError, KubeError, TransientKubeError
from releaseguard.operator.metrics import Metrics
from releaseguard.operator.reconciler import Reconciler
from support.factories import deployment, finished_job, replicaset, report, rv_body

Obj = dict[str, Any]
KEY = ("default", "shop")
PASS = report([("home", "Passed", True)])
FAIL = report([("home", "Failed", True)])


class World:
    """The fake API and a reconciler whose cache follows it, as the watches would."""

    def __init__(self) -> None:
        self.kube = FakeKube()
        self.metrics = Metrics()
        self.reconciler = Reconciler(self.kube, self.metrics, Settings(runner_image="runner:test"))
        self.kube.rvs[KEY] = rv_body()
        self.set_deployment(deployment())
        self.kube.replicasets = [replicaset(1, "shop:1.0")]

    def set_deployment(self, dep: Obj) -> None:
        self.kube.deployments[KEY] = copy.deepcopy(dep)

    def sync(self) -> None:
        cache = self.reconciler.cache
        cache.put_rv(copy.deepcopy(self.kube.rvs[KEY]))
        cache.put_deployment(copy.deepcopy(self.kube.deployments[KEY]))
        for job in self.kube.jobs.values():
            cache.put_job(KEY, copy.deepcopy(job))

    async def reconcile(self) -> None:
        self.sync()
        self.kube.calls.clear()
        await self.reconciler.reconcile(KEY)
        self.sync()

    def finish_jobs(self, message: str) -> None:
        self.kube.pods = []
        for key, job in list(self.kube.jobs.items()):
            done = finished_job(job)
            done["metadata"]["resourceVersion"] = str(int(job["metadata"].get("resourceVersion") or 0) + 1000)
            self.kube.jobs[key] = done
            self.kube.pods.append(probe_pod(done, message))

    def status(self) -> Obj:
        return dict(self.kube.rvs[KEY].get("status") or {})

    def condition(self, type_: str) -> Obj:
        return next(c for c in self.status()["conditions"] if c["type"] == type_)

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.kube.events]

    async def verify(self, dep: Obj, message: str) -> None:
        self.set_deployment(dep)
        await self.reconcile()
        self.finish_jobs(message)
        await self.reconcile()


def probe_pod(job: Obj, message: str) -> Obj:
    name = job["metadata"]["name"]
    return {
        "metadata": {
            "name": f"{name}-pod",
            "labels": {"batch.kubernetes.io/job-name": name},
            "ownerReferences": [{"kind": "Job", "name": name, "uid": job["metadata"]["uid"], "controller": True}],
        },
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [
                {
                    "name": PROBE_CONTAINER,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed", "message": message}},
                }
            ],
        },
    }


def rollbacks(metrics: Metrics) -> float:
    return sum(
        sample.value
        for family in metrics.rollbacks.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    )


async def failed_release(world: World) -> None:
    """Revision 1 verified, revision 2 rolled out and its checks failed: the next reconcile decides."""
    await world.verify(deployment(), PASS)
    assert world.status()["phase"] == "Verified"
    world.kube.replicasets = [replicaset(1, "shop:1.0"), replicaset(2, "shop:2.0")]
    world.set_deployment(deployment(revision=2, image="shop:2.0"))
    await world.reconcile()
    world.finish_jobs(FAIL)
    world.kube.events.clear()


async def test_a_failed_release_is_recorded_then_rolled_back_then_announced() -> None:
    world = World()
    await failed_release(world)
    await world.reconcile()
    calls = [
        c for c in world.kube.calls if c in ("replicasets_of", "patch_rv_status", "json_patch_deployment", "post_event")
    ]
    first_event = calls.index("post_event")
    assert calls[:first_event] == ["replicasets_of", "patch_rv_status", "json_patch_deployment"]
    assert world.kube.calls.count("patch_rv_status") == 1, "one status write for the verdict and its rollback"
    assert world.status()["phase"] == "RolledBack"
    assert world.kube.deployments[KEY]["spec"]["template"]["spec"]["containers"][0]["image"] == "shop:1.0"
    assert world.reasons().count("RolledBack") == 2  # on the rv and on the Deployment
    assert rollbacks(world.metrics) == 1


async def test_a_conflict_on_the_status_write_does_nothing_else() -> None:
    world = World()
    await failed_release(world)
    world.kube.fail("patch_rv_status", ConflictError("the object has been modified", 409))
    with pytest.raises(ConflictError):
        await world.reconcile()
    assert "json_patch_deployment" not in world.kube.calls and "post_event" not in world.kube.calls
    assert world.kube.deployments[KEY]["spec"]["template"]["spec"]["containers"][0]["image"] == "shop:2.0"
    await world.reconcile()  # the retry decides again, on what the server has
    assert world.status()["phase"] == "RolledBack"
    assert world.reasons().count("RolledBack") == 2 and rollbacks(world.metrics) == 1


async def test_a_refused_rollback_patch_is_not_announced_and_the_next_decision_records_why() -> None:
    world = World()
    await failed_release(world)
    world.kube.fail("json_patch_deployment", KubeError("the test of /metadata/annotations failed", 422))
    await world.reconcile()
    assert "RolledBack" not in world.reasons()
    assert world.reconciler.queue._queued == {KEY}, "the refusal is decided on at once"
    await world.reconcile()
    assert "json_patch_deployment" not in world.kube.calls, "a refused rollback is not tried again"
    rolled = world.condition("RolledBack")
    assert (rolled["status"], rolled["reason"]) == ("False", "DeploymentChanged")
    assert "the test of /metadata/annotations failed" in rolled["message"]
    assert world.status()["phase"] == "Failed" and world.status()["lastRollback"]["applied"] is False
    assert world.reasons().count("RollbackSkipped") == 2 and rollbacks(world.metrics) == 0
    await world.reconcile()
    assert world.reasons().count("RollbackSkipped") == 2, "and said once"


async def test_a_rollback_whose_patch_was_lost_is_applied_again_once() -> None:
    world = World()
    await failed_release(world)
    world.kube.fail("json_patch_deployment", TransientKubeError("connection reset", 503))
    with pytest.raises(TransientKubeError):
        await world.reconcile()
    assert world.status()["phase"] == "RolledBack"  # recorded before the patch
    assert world.kube.deployments[KEY]["spec"]["template"]["spec"]["containers"][0]["image"] == "shop:2.0"
    await world.reconcile()
    assert world.kube.calls.count("json_patch_deployment") == 1
    assert world.kube.deployments[KEY]["spec"]["template"]["spec"]["containers"][0]["image"] == "shop:1.0"
    assert rollbacks(world.metrics) == 1, "counted once, when it landed"
    await world.reconcile()
    assert "json_patch_deployment" not in world.kube.calls
    assert world.reasons().count("RolledBack") == 2


async def test_after_a_restart_the_last_verdicts_events_are_posted_even_when_a_new_run_began() -> None:
    """A crash after the rollback patch landed and before its Events: the restarted operator's
    first look finds the rollback's own revision already rolled out, starts its run, and still
    posts the failed run's Events, under the names they would have had."""
    world = World()
    await failed_release(world)
    lost = [KubeError("lost in the crash", 403)] * 8
    world.kube.fail("post_event", *lost)
    await world.reconcile()
    assert world.status()["phase"] == "RolledBack" and world.reasons() == []
    world.kube.failures["post_event"].clear()
    # the deployment controller re-used revision 1's ReplicaSet as revision 3
    rolled = copy.deepcopy(world.kube.deployments[KEY])
    rolled["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "3"
    world.set_deployment(rolled)
    world.reconciler = Reconciler(world.kube, world.metrics, Settings(runner_image="runner:test"))  # a new process
    await world.reconcile()
    assert world.status()["lastRun"]["revision"] == 3
    assert world.reasons().count("RolledBack") == 2 and world.reasons().count("VerificationFailed") == 2


def test_retry_delays_a_few_conflicts_are_retried_at_once_then_back_off_and_nothing_waits_past_ten_seconds() -> None:
    from releaseguard.operator.reconciler import counts_as_failure, retry_delay

    conflict = ConflictError("the object has been modified", 409)
    assert [retry_delay(n, conflict) for n in (1, 2, 3, 4, 5, 6, 30)] == [0.2, 0.2, 0.2, 0.5, 1.0, 2.0, 10.0]
    assert [retry_delay(n, KubeError("boom", 500)) for n in (1, 2, 3, 6, 20)] == [0.5, 1.0, 2.0, 10.0, 10.0]
    assert retry_delay(1, TransientKubeError("too many requests", 429, retry_after=3.0)) == 3.0
    throttled = TransientKubeError("too many requests", 429, retry_after=1.0)
    assert [retry_delay(n, throttled) for n in (0, 1, 5, 20)] == [1.0, 1.0, 1.0, 1.0]  # when the server says
    assert not counts_as_failure(throttled) and counts_as_failure(KubeError("boom", 500))


async def test_a_conflict_on_the_status_write_reads_the_current_rv_so_the_retry_needs_no_watch_event() -> None:
    world = World()
    await failed_release(world)
    world.sync()
    world.kube.rvs[KEY]["metadata"]["annotations"] = {"someone": "else"}  # another writer, unseen by the watch
    world.kube._stamp(world.kube.rvs[KEY])
    current = world.kube.rvs[KEY]["metadata"]["resourceVersion"]
    world.kube.calls.clear()
    with pytest.raises(ConflictError):
        await world.reconciler.reconcile(KEY)
    assert world.kube.calls[-2:] == ["patch_rv_status", "get_rv"]
    assert world.reconciler.cache.rvs[KEY]["metadata"]["resourceVersion"] == current
    await world.reconciler.reconcile(KEY)  # no sync: the cache already has the current copy
    assert world.status()["phase"] == "RolledBack"
    assert world.reasons().count("RolledBack") == 2 and rollbacks(world.metrics) == 1


async def test_a_job_whose_pod_ended_is_read_again_when_its_watch_has_not_told_yet() -> None:
    world = World()
    world.reconciler = Reconciler(world.kube, world.metrics, Settings(runner_image="runner:test", pod_poll_seconds=0))
    await world.reconcile()  # revision 1 rolled out: its Job created
    world.finish_jobs(PASS)  # the Job ended on the server; the watch (cut, or relisting) has not said so
    world.kube.calls.clear()
    await world.reconciler.reconcile(KEY)
    assert "get_job" in world.kube.calls
    assert world.status()["phase"] == "Verified"
