"""The operator's story against kubesim: real pods, real probe Jobs, the operator as a subprocess."""

from __future__ import annotations

import os
import subprocess

import pytest
from rg_harness import (
    RELEASEGUARD,
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


def releaseguard_wait(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KUBECONFIG=str(cluster.sim.kubeconfig))
    argv = [RELEASEGUARD, "wait", "-n", cluster.ns, *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def test_verified_then_rolled_back_then_rollback_verified(cluster: Cluster, operator: Operator) -> None:
    ns = cluster.ns
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(ns))
    status = cluster.wait_phase("Verified", revision=1)
    assert status["lastGoodRevision"] == 1
    assert status["checks"] == "2/2"
    verified = cluster.condition("Verified")
    assert (verified["status"], verified["reason"]) == ("True", "ChecksPassed")
    assert "VerificationSucceeded" in cluster.event_reasons("ReleaseVerification", "shop")
    assert "VerificationSucceeded" in cluster.event_reasons("Deployment", "shop")

    cluster.apply(shop_deployment("shop:1.1-error500"))
    status = cluster.wait_phase("Verified", revision=3, timeout=90)
    # revision 2 failed and was rolled back; revision 3 is revision 1's template, verified again
    assert cluster.image() == "shop:1.0"
    assert status["lastGoodRevision"] == 3
    assert status["lastRollback"]["fromRevision"] == 2
    assert status["lastRollback"]["toRevision"] == 1
    assert status["lastRollback"]["applied"] is True
    failed = next(h for h in status["history"] if h["revision"] == 2)
    assert failed["verdict"] == "Failed"
    assert failed["rolledBackTo"] == 1
    assert failed["failedChecks"] == ["orders"]
    rolled = cluster.condition("RolledBack")
    assert (rolled["status"], rolled["reason"]) == ("True", "CriticalChecksFailed")
    dep = cluster.get("deployment", "shop") or {}
    annotations = dep["metadata"]["annotations"]
    assert annotations["releaseguard.io/rolled-back-from-revision"] == "2"
    assert not any(k.startswith("kopf.zalando.org") for k in annotations)
    rv = cluster.get("releaseverification", "shop") or {}
    assert not rv["metadata"].get("finalizers")
    assert not any("kopf" in k for k in rv["metadata"].get("annotations", {}))
    reasons = cluster.event_reasons("Deployment", "shop")
    assert "VerificationFailed" in reasons and "RolledBack" in reasons
    metrics = operator.metrics()
    assert (
        f'releaseguard_rollbacks_total{{namespace="{ns}",reason="CriticalChecksFailed",releaseverification="shop"}} 1.0'
        in metrics
    )
    assert (
        f'releaseguard_verifications_total{{namespace="{ns}",releaseverification="shop",result="Failed"}} 1.0'
        in metrics
    )
    assert (
        f'releaseguard_releaseverification_phase{{namespace="{ns}",phase="Verified",releaseverification="shop"}} 1.0'
        in metrics
    )
    # the probe Jobs carry what a user needs to find them, and are owned by the RV
    job = cluster.jobs()[0]
    assert job["metadata"]["ownerReferences"][0]["kind"] == "ReleaseVerification"
    assert job["metadata"]["labels"]["releaseguard.io/releaseverification"] == "shop"
    assert job["spec"]["backoffLimit"] == 0
    assert "revision 2 failed verification (CriticalChecksFailed)" in operator.log()
    assert "revision 3 verified" in operator.log()


def test_rv_before_its_deployment(cluster: Cluster, operator: Operator) -> None:
    cluster.apply(release_verification(cluster.ns))
    found = eventually(lambda: cluster.condition("TargetFound"), 20, "TargetFound")
    assert (found["status"], found["reason"]) == ("False", "DeploymentNotFound")
    assert f"Deployment shop not found in namespace {cluster.ns}" in found["message"]
    assert cluster.status()["phase"] == "Pending"
    cluster.apply(shop_service(), shop_deployment("shop:1.0"))
    cluster.wait_phase("Verified", revision=1)
    assert cluster.condition("TargetFound")["status"] == "True"


def test_scale_pause_and_metadata_changes_are_not_releases(cluster: Cluster, operator: Operator) -> None:
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns))
    cluster.wait_phase("Verified", revision=1)
    cluster.kubectl("scale", "deployment/shop", "--replicas=2")
    cluster.kubectl("rollout", "pause", "deployment/shop")
    cluster.kubectl("label", "deployment/shop", "team=checkout")
    cluster.kubectl("annotate", "deployment/shop", "note=hello")
    eventually(lambda: (cluster.get("deployment", "shop") or {}).get("status", {}).get("readyReplicas") == 2, 30)
    cluster.kubectl("rollout", "resume", "deployment/shop")
    # a real release afterwards is seen, so the operator was watching all along
    cluster.kubectl("set", "env", "deployment/shop", "GREETING=hi")
    status = cluster.wait_phase("Verified", revision=2)
    assert [h["revision"] for h in status["history"]] == [2, 1]
    assert len(cluster.jobs()) == 2
    assert cluster.event_reasons("ReleaseVerification", "shop").count("VerificationStarted") == 2


def test_stalled_rollout_fails_without_checks_and_rolls_back(cluster: Cluster, operator: Operator) -> None:
    cluster.apply(
        shop_service(), shop_deployment("shop:1.0", progressDeadlineSeconds=2), release_verification(cluster.ns)
    )
    cluster.wait_phase("Verified", revision=1)
    cluster.apply(shop_deployment("shop:1.1-missing-env", progressDeadlineSeconds=2))
    status = cluster.wait_phase("Verified", revision=3, timeout=60)
    stalled = next(h for h in status["history"] if h["revision"] == 2)
    assert (stalled["verdict"], stalled["reason"], stalled["rolledBackTo"]) == ("Failed", "RolloutStalled", 1)
    assert cluster.condition("RolledBack")["reason"] == "RolloutStalled"
    assert cluster.image() == "shop:1.0"
    assert all(j["metadata"]["labels"]["releaseguard.io/revision"] != "2" for j in cluster.jobs())
    assert "RolloutStalled" in cluster.event_reasons("ReleaseVerification", "shop")


def test_flaky_check_passes_and_is_reported_flaky(cluster: Cluster, operator: Operator) -> None:
    checks = [orders_check(cluster.ns)]
    cluster.apply(shop_service(), shop_deployment("shop:1.1-flaky"), release_verification(cluster.ns, checks))
    status = cluster.wait_phase("Verified", revision=1)
    [check] = status["lastRun"]["checks"]
    assert check["result"] == "Flaky"
    assert check["attempts"] >= 2


def test_non_critical_failure_is_verified_with_the_failure_shown(cluster: Cluster, operator: Operator) -> None:
    checks = [health_check(cluster.ns), orders_check(cluster.ns, critical=False)]
    cluster.apply(shop_service(), shop_deployment("shop:1.1-error500"), release_verification(cluster.ns, checks))
    status = cluster.wait_phase("Verified", revision=1)
    assert status["checks"] == "1/2"
    results = {c["name"]: c["result"] for c in status["lastRun"]["checks"]}
    assert results == {"health": "Passed", "orders": "Failed"}
    assert "lastRollback" not in status


def test_first_deploy_failure_skips_the_rollback(cluster: Cluster, operator: Operator) -> None:
    cluster.apply(shop_service(), shop_deployment("shop:1.1-error500"), release_verification(cluster.ns))
    status = cluster.wait_phase("Failed", revision=1)
    rolled = cluster.condition("RolledBack")
    assert (rolled["status"], rolled["reason"]) == ("False", "NoGoodRevision")
    assert "RollbackSkipped" in cluster.event_reasons("Deployment", "shop")
    assert cluster.image() == "shop:1.1-error500"
    assert status["lastRun"]["verdict"] == "Failed"


@pytest.mark.parametrize("policy", ["Manual", "Never"])
def test_manual_and_never_leave_the_deployment_alone(cluster: Cluster, operator: Operator, policy: str) -> None:
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns, policy=policy))
    cluster.wait_phase("Verified", revision=1)
    cluster.apply(shop_deployment("shop:1.1-error500"))
    status = cluster.wait_phase("Failed", revision=2)
    assert cluster.image() == "shop:1.1-error500"
    assert cluster.deployment_revision() == 2
    rolled = cluster.condition("RolledBack")
    if policy == "Manual":
        assert rolled["reason"] == "ManualPolicy"
        assert "would roll back Deployment shop from revision 2 to revision 1" in rolled["message"]
        assert status["lastRollback"]["applied"] is False
        assert "RollbackSkipped" in cluster.event_reasons("ReleaseVerification", "shop")
    else:
        assert rolled["reason"] == "PolicyNever"
        assert "lastRollback" not in status


def test_newer_rollout_supersedes_a_running_verification(cluster: Cluster, operator: Operator) -> None:
    slow = orders_check(cluster.ns, timeoutSeconds=20)
    cluster.apply(shop_service(), shop_deployment("shop:1.1-slow"), release_verification(cluster.ns, [slow]))
    eventually(lambda: cluster.status().get("phase") == "Verifying", 30, "the slow verification to start")
    first = cluster.status()["lastRun"]["jobs"]
    cluster.apply(shop_deployment("shop:1.0"))
    status = cluster.wait_phase("Verified", revision=2)
    assert "VerificationSuperseded" in cluster.event_reasons("ReleaseVerification", "shop")
    assert [h["revision"] for h in status["history"]] == [2]
    eventually(lambda: not any(j["metadata"]["name"] in first for j in cluster.jobs()), 20, "the old Job deleted")


def test_deleting_the_rv_removes_its_jobs_and_nothing_else(cluster: Cluster, operator: Operator) -> None:
    slow = orders_check(cluster.ns, timeoutSeconds=20)
    cluster.apply(shop_service(), shop_deployment("shop:1.1-slow"), release_verification(cluster.ns, [slow]))
    eventually(lambda: cluster.status().get("phase") == "Verifying", 30, "the verification to start")
    assert cluster.jobs()
    cluster.kubectl("delete", "releaseverification", "shop")
    eventually(lambda: not cluster.jobs(), 20, "the RV's Jobs garbage-collected")
    assert cluster.deployment_revision() == 1
    assert cluster.image() == "shop:1.1-slow"
    assert cluster.get("service", "shop") is not None


def test_kubectl_wait_and_releaseguard_wait(cluster: Cluster, operator: Operator) -> None:
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns, policy="Never"))
    cluster.kubectl("wait", "--for=condition=Verified", "releaseverification/shop", "--timeout=60s")
    ok = releaseguard_wait(cluster, "shop", "--timeout", "30")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "revision 1 verified (2/2)" in ok.stdout
    cluster.apply(shop_deployment("shop:1.1-error500"))
    failed = releaseguard_wait(cluster, "shop", "--revision", "2", "--timeout", "60")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "revision 2 Failed (CriticalChecksFailed)" in failed.stdout
    assert "  critical checks failed: orders\n    orders: Failed: GET" in failed.stdout
    timeout = releaseguard_wait(cluster, "shop", "--revision", "9", "--timeout", "1")
    assert timeout.returncode == 2
    assert "no verdict within 1s" in timeout.stderr


def test_checks_in_the_targets_image_and_environment(cluster: Cluster, operator: Operator) -> None:
    release_is_good = "import os, sys; sys.exit(os.environ.get('SHOP_RELEASE') != 'good')"
    checks = [
        {"name": "imports", "python": {"imports": ["shop.app"], "env": ["SHOP_RELEASE"]}},
        {"name": "release", "command": {"command": ["python", "-c", release_is_good]}},
    ]
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns, checks))
    status = cluster.wait_phase("Verified", revision=1)
    assert {c["name"]: c["result"] for c in status["lastRun"]["checks"]} == {"imports": "Passed", "release": "Passed"}
    jobs = {j["metadata"]["annotations"]["releaseguard.io/checks"]: j for j in cluster.jobs()}
    assert set(jobs) == {"imports", "release"}
    pod = jobs["release"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "shop:1.0"
    assert "readinessProbe" not in pod["containers"][0] and "ports" not in pod["containers"][0]
    cluster.apply(shop_deployment("shop:1.1-error500"))
    status = cluster.wait_phase("Verified", revision=3, timeout=90)
    failed = next(h for h in status["history"] if h["revision"] == 2)
    assert failed["failedChecks"] == ["release"]
    assert failed["rolledBackTo"] == 1


def test_a_rollback_kubectl_would_refuse_is_reported_not_faked(cluster: Cluster, operator: Operator) -> None:
    # With revisionHistoryLimit 0 the old ReplicaSet is gone: there is nothing to roll back to.
    dep = shop_deployment("shop:1.0", revisionHistoryLimit=0)
    cluster.apply(shop_service(), dep, release_verification(cluster.ns))
    cluster.wait_phase("Verified", revision=1)
    cluster.apply(shop_deployment("shop:1.1-error500", revisionHistoryLimit=0))
    status = cluster.wait_phase("Failed", revision=2)
    rolled = cluster.condition("RolledBack")
    assert (rolled["status"], rolled["reason"]) == ("False", "RevisionNotFound")
    assert "revision 1" in rolled["message"]
    assert status["lastRollback"]["applied"] is False
    reasons = cluster.event_reasons("ReleaseVerification", "shop")
    assert "RollbackSkipped" in reasons and "RolledBack" not in reasons
    assert cluster.image() == "shop:1.1-error500"


def test_a_header_from_a_secret_reaches_the_app_and_nowhere_else(cluster: Cluster, operator: Operator) -> None:
    token = "s3cret-token-4711"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "shop-smoke"},
        "stringData": {"token": f"Bearer {token}"},
    }
    check = {
        "name": "auth",
        "http": {
            "url": f"http://shop.{cluster.ns}.svc:8080/api/echo",
            "headers": [
                {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "shop-smoke", "key": "token"}}}
            ],
            "json": [{"path": "$.headers.authorization", "matches": "^Bearer s3cret-"}],
        },
    }
    cluster.apply(secret, shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns, [check]))
    status = cluster.wait_phase("Verified", revision=1)
    assert [(c["name"], c["result"]) for c in status["lastRun"]["checks"]] == [("auth", "Passed")]
    jobs = cluster.kubectl("get", "jobs", "-o", "json").stdout
    events = cluster.kubectl("get", "events", "-o", "json").stdout
    rv = cluster.kubectl("get", "rv", "shop", "-o", "json").stdout
    for seen in (jobs, events, rv):
        assert token not in seen
    assert '"secretKeyRef": {' in jobs or '"secretKeyRef":{' in jobs
