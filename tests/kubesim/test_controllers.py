"""The Deployment, ReplicaSet and Job controllers against a server without the kubelet (a stand-in
node marks pods Running/Ready; the tests move job pods to Succeeded/Failed themselves)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from simhelpers import apply, deployment, get, listing

from kubesim.testing import KubeSim
from support import eventually

pytestmark = pytest.mark.slow


def job(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "probe", "image": "probe:1"}]}},
            **spec,
        },
    }


def job_pods(sim: KubeSim, name: str) -> list[dict[str, Any]]:
    return listing(sim, "v1", "pods", "default", f"batch.kubernetes.io/job-name={name}")


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == type_ and c["status"] == "True":
            return dict(c)
    return None


def test_replicaset_pods_are_owned_scheduled_and_scaled(sim: KubeSim) -> None:
    apply(sim, deployment("web", replicas=3))
    sim.kubectl("rollout", "status", "deploy/web", "--timeout=20s")
    pods = listing(sim, "v1", "pods", "default", "app=web")
    assert len(pods) == 3
    for pod in pods:
        (ref,) = pod["metadata"]["ownerReferences"]
        assert ref["kind"] == "ReplicaSet" and ref["controller"] is True and ref["blockOwnerDeletion"] is True
        assert pod["spec"]["nodeName"] == "kubesim"
    sim.kubectl("scale", "deploy/web", "--replicas=1")
    eventually(
        lambda: len(listing(sim, "v1", "pods", "default", "app=web")) == 1, what="scale down to one pod", interval=0.02
    )
    d = eventually(
        lambda: (x := get(sim, "apps/v1", "deployments", "default", "web")) and x["status"].get("replicas") == 1 and x,
        what="status",
        interval=0.02,
    )
    assert d["status"]["availableReplicas"] == 1 and d["status"]["observedGeneration"] == d["metadata"]["generation"]


def test_rollout_takes_the_configured_time(tmp_path: Path) -> None:
    with KubeSim(tmp_path, kubelet=False, fake_node=True, rollout_delay_seconds=0.6) as sim:
        start = time.monotonic()
        apply(sim, deployment("slow", replicas=1))
        sim.kubectl("rollout", "status", "deploy/slow", "--timeout=20s")
        assert time.monotonic() - start >= 0.6
        d = get(sim, "apps/v1", "deployments", "default", "slow")
        assert d is not None and condition(d, "Progressing")["reason"] == "NewReplicaSetAvailable"  # type: ignore[index]
        assert condition(d, "Available") is not None


def test_recreate_paused_and_history_limit(sim: KubeSim) -> None:
    apply(sim, deployment("re", "app:1", replicas=2, strategy={"type": "Recreate"}, revisionHistoryLimit=1))
    sim.kubectl("rollout", "status", "deploy/re", "--timeout=20s")
    for image in ("app:2", "app:3"):
        apply(sim, deployment("re", image, replicas=2, strategy={"type": "Recreate"}, revisionHistoryLimit=1))
        sim.kubectl("rollout", "status", "deploy/re", "--timeout=20s")
    rss = eventually(
        lambda: (r := listing(sim, "apps/v1", "replicasets", "default", "app=re")) and len(r) == 2 and r,
        what="history pruned to one old RS",
        interval=0.02,
    )
    assert sorted(rs["spec"]["template"]["spec"]["containers"][0]["image"] for rs in rss) == ["app:2", "app:3"]
    sim.kubectl("rollout", "pause", "deploy/re")
    apply(sim, deployment("re", "app:4", replicas=2, strategy={"type": "Recreate"}, revisionHistoryLimit=1))
    d = eventually(
        lambda: (
            (x := get(sim, "apps/v1", "deployments", "default", "re")) and (condition(x, "Progressing") is None) and x
        ),
        what="paused",
        interval=0.02,
    )
    progressing = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "DeploymentPaused"
    assert len(listing(sim, "apps/v1", "replicasets", "default", "app=re")) == 2, "no new RS while paused"
    sim.kubectl("rollout", "resume", "deploy/re")
    sim.kubectl("rollout", "status", "deploy/re", "--timeout=20s")
    images = {
        rs["spec"]["template"]["spec"]["containers"][0]["image"]
        for rs in listing(sim, "apps/v1", "replicasets", "default", "app=re")
    }
    assert "app:4" in images


def test_progress_deadline_exceeded_when_pods_never_get_ready(tmp_path: Path) -> None:
    with KubeSim(tmp_path, kubelet=False, fake_node=False) as sim:
        apply(sim, deployment("stuck", replicas=1, progressDeadlineSeconds=1))
        d = eventually(
            lambda: (
                (x := get(sim, "apps/v1", "deployments", "default", "stuck"))
                and any(c["reason"] == "ProgressDeadlineExceeded" for c in x.get("status", {}).get("conditions", []))
                and x
            ),
            what="ProgressDeadlineExceeded",
            timeout=10,
            interval=0.02,
        )
        progressing = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
        assert progressing["status"] == "False"
        assert d["status"]["unavailableReplicas"] == 1
        proc = sim.kubectl("rollout", "status", "deploy/stuck", "--timeout=10s", check=False)
        assert proc.returncode != 0 and "exceeded its progress deadline" in proc.stderr


def test_job_completes_with_real_status_fields_and_events(sim: KubeSim) -> None:
    apply(sim, job("ok"))
    (pod,) = eventually(
        lambda: [p for p in job_pods(sim, "ok") if p["status"]["phase"] == "Running"],
        what="job pod running",
        interval=0.02,
    )
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job" and pod["spec"]["nodeName"] == "kubesim"
    running = eventually(
        lambda: (j := get(sim, "batch/v1", "jobs", "default", "ok")) and j["status"].get("ready") == 1 and j,
        what="ready=1",
        interval=0.02,
    )
    assert running["status"]["active"] == 1 and running["status"]["startTime"]
    sim.finish_pod("default", pod["metadata"]["name"], succeeded=True)
    done = eventually(
        lambda: condition(j := get(sim, "batch/v1", "jobs", "default", "ok"), "Complete") and j,
        what="Complete",
        interval=0.02,
    )
    assert done["status"]["succeeded"] == 1 and "active" not in done["status"] and done["status"]["completionTime"]
    reasons = {e["reason"] for e in listing(sim, "v1", "events", "default") if e["involvedObject"]["name"] == "ok"}
    assert {"SuccessfulCreate", "Completed"} <= reasons
    assert "Complete" in sim.kubectl("get", "job", "ok").stdout


def test_job_backoff_limit(sim: KubeSim) -> None:
    apply(sim, job("flaky", backoffLimit=1))
    for attempt in range(2):
        pod = eventually(
            lambda: [p for p in job_pods(sim, "flaky") if p["status"]["phase"] == "Running"],
            what=f"attempt {attempt}",
            interval=0.02,
        )[0]
        sim.finish_pod("default", pod["metadata"]["name"], succeeded=False)
    failed = eventually(
        lambda: condition(j := get(sim, "batch/v1", "jobs", "default", "flaky"), "Failed") and j,
        what="Failed",
        interval=0.02,
    )
    assert condition(failed, "Failed")["reason"] == "BackoffLimitExceeded"  # type: ignore[index]
    assert failed["status"]["failed"] == 2


def test_job_active_deadline_deletes_active_pods(sim: KubeSim) -> None:
    apply(sim, job("late", activeDeadlineSeconds=1))
    eventually(lambda: job_pods(sim, "late"), what="pod created", interval=0.02)
    failed = eventually(
        lambda: condition(j := get(sim, "batch/v1", "jobs", "default", "late"), "Failed") and j,
        what="deadline",
        timeout=10,
        interval=0.02,
    )
    assert condition(failed, "Failed")["reason"] == "DeadlineExceeded"  # type: ignore[index]
    eventually(lambda: not job_pods(sim, "late"), what="active pods deleted", interval=0.02)
    reasons = {e["reason"] for e in listing(sim, "v1", "events", "default") if e["involvedObject"]["name"] == "late"}
    assert "DeadlineExceeded" in reasons


def test_job_ttl_after_finished_deletes_job_and_pods(sim: KubeSim) -> None:
    apply(sim, job("brief", ttlSecondsAfterFinished=0))
    pod = eventually(
        lambda: [p for p in job_pods(sim, "brief") if p["status"]["phase"] == "Running"], what="pod", interval=0.02
    )[0]
    sim.finish_pod("default", pod["metadata"]["name"], succeeded=True)
    eventually(
        lambda: get(sim, "batch/v1", "jobs", "default", "brief") is None and not job_pods(sim, "brief"),
        what="TTL deletion",
        interval=0.02,
    )


def test_min_ready_seconds_delays_availability(sim: KubeSim) -> None:
    start = time.monotonic()
    apply(sim, deployment("patient", replicas=1, minReadySeconds=1))
    eventually(
        lambda: (
            (d := get(sim, "apps/v1", "deployments", "default", "patient")) and d["status"].get("readyReplicas") == 1
        ),
        what="pod ready",
        interval=0.02,
    )
    d = get(sim, "apps/v1", "deployments", "default", "patient")
    assert d is not None and not d["status"].get("availableReplicas"), "ready is not yet available"
    sim.kubectl("rollout", "status", "deploy/patient", "--timeout=20s")
    assert time.monotonic() - start >= 1.0


def test_orphaned_replica_sets_are_adopted_when_the_deployment_returns(sim: KubeSim) -> None:
    apply(sim, deployment("phoenix", replicas=1))
    sim.kubectl("rollout", "status", "deploy/phoenix", "--timeout=20s")
    sim.kubectl("delete", "deploy", "phoenix", "--cascade=orphan")
    (orphan,) = listing(sim, "apps/v1", "replicasets", "default", "app=phoenix")
    assert not orphan["metadata"].get("ownerReferences")
    apply(sim, deployment("phoenix", replicas=1))
    sim.kubectl("rollout", "status", "deploy/phoenix", "--timeout=20s")
    (adopted,) = listing(sim, "apps/v1", "replicasets", "default", "app=phoenix")
    d = get(sim, "apps/v1", "deployments", "default", "phoenix")
    assert d is not None and adopted["metadata"]["name"] == orphan["metadata"]["name"]
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
