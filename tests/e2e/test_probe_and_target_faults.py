"""Probe and target faults with known outcomes (issue 11), on both backends: a probe that cannot
start, a probe pod evicted while its check runs, the target changed or scaled to zero by someone
else during a verification. None of them says anything about the release, so each ends in a verdict a person
can act on and never rolls back; what the operator may not do is also checked on the Deployment
itself (its revision, image, generation and annotations).
The target scaled to zero during its checks ends Error (TargetScaledToZero): no pod was judged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rg_harness import (
    Cluster,
    Operator,
    health_check,
    orders_check,
    release_verification,
    shop_deployment,
    shop_service,
)

from support import eventually

pytestmark = pytest.mark.slow

Obj = dict[str, Any]
ROLLED_BACK_FROM = "releaseguard.io/rolled-back-from-revision"


def slow_shop(seconds: int) -> Obj:
    """shop:1.1-slow, whose /api/orders answers after `seconds`."""
    dep = shop_deployment("shop:1.1-slow")
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "SHOP_SLOW_SECONDS", "value": str(seconds)}]
    return dep


def slow_orders(ns: str) -> Obj:
    return orders_check(ns, retries=0, timeoutSeconds=40)


def verified_first(cluster: Cluster, rv: Obj) -> None:
    """Revision 1 (shop:1.0) verified: a good revision a rollback could go back to."""
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), rv)
    status = cluster.wait_phase("Verified", revision=1)
    assert status["lastGoodRevision"] == 1


def generation(cluster: Cluster) -> int:
    return int(((cluster.get("deployment", "shop") or {}).get("metadata") or {}).get("generation", 0))


def assert_not_rolled_back(cluster: Cluster, revision: int, image: str, gen: int) -> None:
    """The Deployment is as the test left it: no rollback patch, nor any other spec write."""
    dep = cluster.get("deployment", "shop") or {}
    assert cluster.deployment_revision() == revision
    assert cluster.image() == image
    assert dep["metadata"]["generation"] == gen, "someone but the test changed the Deployment's spec"
    assert ROLLED_BACK_FROM not in (dep["metadata"].get("annotations") or {})
    status = cluster.status()
    assert "lastRollback" not in status
    assert not any(h.get("rolledBackTo") for h in status.get("history") or [])
    assert cluster.condition("RolledBack").get("status") != "True"
    assert "RolledBack" not in cluster.event_reasons("Deployment", "shop")
    assert "RolledBack" not in cluster.event_reasons("ReleaseVerification", "shop")


def running_probe_pod(cluster: Cluster) -> str:
    """The name of the (only) probe Job's pod, once its container runs."""

    def find() -> str | None:
        jobs = {j["metadata"]["name"] for j in cluster.jobs()}
        items = json.loads(cluster.kubectl("get", "pods", "-o", "json").stdout)["items"]
        for pod in items:
            owners = {o["name"] for o in pod["metadata"].get("ownerReferences") or [] if o["kind"] == "Job"}
            states = [c.get("state") or {} for c in (pod.get("status") or {}).get("containerStatuses") or []]
            if owners & jobs and states and all("running" in s for s in states):
                return str(pod["metadata"]["name"])
        return None

    return str(eventually(find, 30, "the probe pod running"))


def test_a_probe_that_cannot_start_is_an_error_and_never_rolls_back(cluster: Cluster, operator: Operator) -> None:
    rv = release_verification(cluster.ns, [health_check(cluster.ns), orders_check(cluster.ns)], timeoutSeconds=600)
    verified_first(cluster, rv)
    # the release is a bad one (its /api/orders answers 500): a Failed verdict would roll it back,
    # but its checks never run, since the runner image exists nowhere
    rv["spec"]["runner"] = {"image": "registry.example/releaseguard-nope:1"}
    cluster.apply(rv, shop_deployment("shop:1.1-error500"))
    status = cluster.wait_phase("Error", revision=2, timeout=40)
    run = status["lastRun"]
    assert (run["verdict"], run["reason"]) == ("Error", "ProbeCannotStart")
    assert "registry.example/releaseguard-nope:1" in run["message"]
    assert "ErrImagePull" in run["message"] or "ImagePullBackOff" in run["message"]
    verified = cluster.condition("Verified")
    assert (verified["status"], verified["reason"]) == ("False", "ProbeCannotStart")
    assert [(h["revision"], h["verdict"]) for h in status["history"]] == [(2, "Error"), (1, "Passed")]
    assert status["lastGoodRevision"] == 1
    assert_not_rolled_back(cluster, 2, "shop:1.1-error500", 2)


def test_an_evicted_probe_pod_is_an_error_and_never_rolls_back(cluster: Cluster, operator: Operator) -> None:
    rv = release_verification(cluster.ns, [slow_orders(cluster.ns)], timeoutSeconds=600)
    verified_first(cluster, rv)
    cluster.apply(slow_shop(30))  # revision 2: its only check waits 30 s for an answer
    eventually(
        lambda: cluster.status().get("currentRevision") == 2 and cluster.status().get("phase") == "Verifying", 30
    )
    pod = running_probe_pod(cluster)
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": cluster.ns}}
    answer = cluster.sim.kubectl(
        "create", "--raw", f"/api/v1/namespaces/{cluster.ns}/pods/{pod}/eviction", "-f", "-", input=json.dumps(eviction)
    )
    assert json.loads(answer.stdout)["status"] == "Success", answer.stdout
    status = cluster.wait_phase("Error", revision=2, timeout=45)
    run = status["lastRun"]
    # the runner broke (its pod went before it reported): nothing is known about the release
    assert (run["verdict"], run["reason"]) == ("Error", "RunnerError"), run
    assert run["jobs"][0] in run["message"], run
    assert (status["history"][0]["revision"], status["history"][0]["verdict"]) == (2, "Error")
    assert cluster.condition("Verified")["status"] == "False"
    assert_not_rolled_back(cluster, 2, "shop:1.1-slow", 2)


def test_a_target_changed_during_its_checks_is_verified_once_at_its_newest_revision(
    cluster: Cluster, operator: Operator
) -> None:
    rv = release_verification(cluster.ns, [slow_orders(cluster.ns)], timeoutSeconds=600)
    verified_first(cluster, rv)
    cluster.apply(slow_shop(30))  # revision 2, checked slowly
    eventually(
        lambda: cluster.status().get("currentRevision") == 2 and cluster.status().get("phase") == "Verifying", 30
    )
    running_probe_pod(cluster)
    cluster.kubectl("set", "env", "deployment/shop", "SHOP_SLOW_SECONDS=0")  # someone else: revision 3
    status = cluster.wait_phase("Verified", revision=3, timeout=45)
    assert [(h["revision"], h["verdict"]) for h in status["history"]] == [(3, "Passed"), (1, "Passed")]
    assert status["lastGoodRevision"] == 3
    assert "VerificationSuperseded" in cluster.event_reasons("ReleaseVerification", "shop")
    succeeded = [e for e in cluster.events("Deployment", "shop") if e["reason"] == "VerificationSucceeded"]
    assert len(succeeded) == 2, [e["message"] for e in succeeded]  # revisions 1 and 3, one each
    assert not [e for e in cluster.events("Deployment", "shop") if e["reason"] == "VerificationFailed"]
    # the generation counts the test's three spec writes (create, slow release, set env): no fourth
    assert_not_rolled_back(cluster, 3, "shop:1.1-slow", 3)
    eventually(lambda: all(j["metadata"]["labels"]["releaseguard.io/revision"] != "2" for j in cluster.jobs()), 20)


def test_a_target_scaled_to_zero_during_its_checks_is_not_rolled_back(cluster: Cluster, operator: Operator) -> None:
    rv = release_verification(cluster.ns, [slow_orders(cluster.ns)], timeoutSeconds=600)
    verified_first(cluster, rv)
    cluster.apply(slow_shop(5))  # revision 2
    eventually(
        lambda: cluster.status().get("currentRevision") == 2 and cluster.status().get("phase") == "Verifying", 30
    )
    running_probe_pod(cluster)
    cluster.kubectl("scale", "deployment/shop", "--replicas=0")  # not a release: no new revision
    seen: list[Obj] = [{}]

    def verdict() -> Obj | None:
        s = seen[0] = cluster.status()
        return s if s.get("phase") != "Verifying" and s.get("currentRevision") == 2 else None

    try:
        status = eventually(verdict, 45, "a verdict for revision 2")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast status: {json.dumps(seen[0], indent=1)}\n{operator.log()[-3000:]}") from None
    assert status["phase"] != "Failed", json.dumps(status, indent=1)
    assert (status["lastRun"]["verdict"], status["lastRun"]["reason"]) == ("Error", "TargetScaledToZero"), status[
        "lastRun"
    ]
    assert operator.proc is not None and operator.proc.poll() is None, operator.log()
    assert_not_rolled_back(cluster, 2, "shop:1.1-slow", 3)  # the scale is the test's third write
    assert (cluster.get("deployment", "shop") or {})["spec"]["replicas"] == 0
