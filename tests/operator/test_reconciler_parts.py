"""The reconciler's in-memory parts: the cache of watched objects and the work queue."""

from __future__ import annotations

import asyncio

from releaseguard.core.patch import merge_patch
from releaseguard.operator.reconciler import Cache, WorkQueue, is_stub, rv_of_job, slim_deployment
from support.factories import deployment, rv_body


def _versioned(obj: dict, version: int) -> dict:
    obj["metadata"]["resourceVersion"] = str(version)
    return obj


def test_cache_indexes_rvs_by_target_and_ignores_older_copies() -> None:
    cache = Cache()
    assert cache.put_rv(_versioned(rv_body(), 5))
    assert cache.rvs_targeting(("default", "shop")) == [("default", "shop")]
    assert not cache.put_rv(_versioned(rv_body(status={"phase": "Old"}), 4))
    assert "status" not in cache.rvs[("default", "shop")]
    moved = _versioned(rv_body(), 6)
    moved["spec"]["targetRef"]["name"] = "other"
    cache.put_rv(moved)
    assert cache.rvs_targeting(("default", "shop")) == []
    assert cache.rvs_targeting(("default", "other")) == [("default", "shop")]
    cache.drop_rv(("default", "shop"))
    assert cache.rvs_targeting(("default", "other")) == []


def test_a_copy_without_resource_version_never_replaces_a_server_copy() -> None:
    cache = Cache()
    real = {"metadata": {"name": "j", "resourceVersion": "7"}, "status": {"succeeded": 1}}
    cache.put_job(("ns", "rv"), real)
    cache.put_job(("ns", "rv"), {"metadata": {"name": "j"}})
    assert cache.jobs[("ns", "rv")]["j"] is real


def test_deployment_events_name_the_rvs_to_reconcile() -> None:
    cache = Cache()
    cache.put_rv(rv_body())
    assert cache.put_deployment(deployment()) == [("default", "shop")]
    assert cache.drop_deployment(("default", "shop")) == [("default", "shop")]
    assert ("default", "shop") not in cache.deployments
    assert cache.put_deployment({**deployment(), "metadata": {"name": "x", "namespace": "default"}}) == []


def test_jobs_are_found_by_their_owner() -> None:
    job = {"metadata": {"name": "j", "ownerReferences": [{"kind": "ReleaseVerification", "name": "shop"}]}}
    assert rv_of_job(job) == "shop"
    assert rv_of_job({"metadata": {"labels": {"releaseguard.io/releaseverification": "x"}}}) == "x"
    assert rv_of_job({"metadata": {}}) is None


async def test_queue_deduplicates_and_never_hands_a_key_to_two_workers() -> None:
    queue = WorkQueue()
    queue.add(("ns", "a"))
    queue.add(("ns", "a"))
    queue.add(("ns", "b"))
    assert len(queue) == 2
    key = await queue.get()
    assert key == ("ns", "a")
    queue.add(("ns", "a"))  # while active: remembered, not queued
    assert len(queue) == 1
    queue.done(key)
    assert len(queue) == 2
    assert await queue.get() == ("ns", "b")


async def test_add_after_keeps_the_earliest_timer() -> None:
    queue = WorkQueue()
    queue.add_after(("ns", "a"), 10)
    queue.add_after(("ns", "a"), 0.01)
    queue.add_after(("ns", "a"), 5)
    assert await asyncio.wait_for(queue.get(), 1) == ("ns", "a")
    queue.close()


def test_merge_patch_removes_and_replaces() -> None:
    old = {"phase": "Verified", "lastRun": {"revision": 1, "verdict": "Passed", "jobs": ["a"]}, "checks": "1/1"}
    new = {"phase": "Waiting", "lastRun": {"revision": 2, "jobs": []}}
    assert merge_patch(old, new) == {
        "phase": "Waiting",
        "checks": None,
        "lastRun": {"revision": 2, "verdict": None, "jobs": []},
    }
    assert merge_patch(new, new) == {}


def test_a_deployment_no_rv_targets_is_kept_only_as_a_stub() -> None:
    cache = Cache()
    whole = _versioned(deployment(), 3)
    cache.put_deployment(whole)
    stub = cache.deployments[("default", "shop")]
    assert is_stub(stub) and "spec" not in stub and stub["metadata"]["resourceVersion"] == "3"
    cache.put_rv(rv_body())
    cache.put_deployment(_versioned(deployment(), 4))
    assert not is_stub(cache.deployments[("default", "shop")])
    fields = [
        {"manager": "x", "operation": "Update", "time": "t1", "fieldsV1": {"f:metadata": {"f:labels": {}}}},
        {
            "manager": "kubectl",
            "operation": "Update",
            "time": "t2",
            "fieldsV1": {"f:spec": {"f:template": {"f:x": {}}}},
        },
    ]
    with_fields = {**deployment(), "metadata": {**deployment()["metadata"], "managedFields": fields}}
    # only who wrote the pod template is kept, and not what they wrote
    assert slim_deployment(with_fields)["metadata"]["managedFields"] == [
        {"manager": "kubectl", "operation": "Update", "time": "t2", "fieldsV1": {"f:spec": {"f:template": {}}}}
    ]
