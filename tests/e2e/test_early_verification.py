"""Issue 15 end to end: a bad release (new pods ready, /api/orders answers 500) with 10 replicas,
maxSurge 1, maxUnavailable 0, stopped by early verification before the rollout goes far, against
waiting for the rollout to complete; and a template rolled back, re-applied by hand, recognised at
once. Prints how many pods of the bad release ever became available in each case."""

from __future__ import annotations

import json
import threading
import time

import pytest
from rg_harness import Cluster, Operator, health_check, release_verification, shop_deployment, shop_service

from support import eventually

pytestmark = pytest.mark.slow
REPLICAS = 10
STRATEGY = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def pod_orders(ns: str) -> dict[str, object]:
    check = health_check(ns, "pod-orders", "/api/orders", retries=0)
    check["http"]["url"] = "http://{{ .PodIP }}:8080/api/orders"
    return check


def bad_available(cluster: Cluster, image: str, stop: threading.Event, seen: list[int]) -> None:
    """The most pods of the ReplicaSet running `image` ever seen available, polled until `stop`."""
    while not stop.is_set():
        out = cluster.kubectl("get", "rs", "-o", "json", check=False).stdout
        try:
            items = json.loads(out).get("items") or []
        except ValueError:
            items = []
        for rs in items:
            containers = rs["spec"]["template"]["spec"]["containers"]
            if containers[0]["image"] == image:
                seen.append(int((rs.get("status") or {}).get("availableReplicas") or 0))
        time.sleep(0.1)


def bad_release(cluster: Cluster, early: bool) -> int:
    ns = cluster.ns
    spec = {"early": {"enabled": True}} if early else {}
    rv = release_verification(ns, [pod_orders(ns), health_check(ns)], **spec)
    cluster.apply(shop_service(), shop_deployment("shop:1.0", replicas=REPLICAS, strategy=STRATEGY), rv)
    cluster.wait_phase("Verified", revision=1, timeout=120)
    stop, seen = threading.Event(), [0]
    watcher = threading.Thread(target=bad_available, args=(cluster, "shop:1.1-error500", stop, seen), daemon=True)
    watcher.start()
    cluster.apply(shop_deployment("shop:1.1-error500", replicas=REPLICAS, strategy=STRATEGY))
    try:
        status = cluster.wait_phase("Verified", revision=3, timeout=240)
    finally:
        stop.set()
        watcher.join()
    assert cluster.image() == "shop:1.0"
    failed = next(h for h in status["history"] if h["revision"] == 2)
    assert failed["rolledBackTo"] == 1
    dep = cluster.get("deployment", "shop") or {}
    assert not dep["spec"].get("paused")
    if early:
        assert failed["reason"] == "EarlyChecksFailed"
        assert status["lastRollback"]["paused"] is True
        assert "PausedForRollback" in cluster.event_reasons("ReleaseVerification", "shop")
    return max(seen)


def test_early_verification_stops_a_bad_release_before_its_rollout_goes_far(
    cluster: Cluster, operator: Operator
) -> None:
    early = bad_release(cluster, early=True)
    print(f"\nbad-release pods ever available, early verification: {early} of {REPLICAS}")
    assert early <= 3  # the first surge pod, and what the controller added while its check ran


def test_without_early_verification_the_whole_bad_release_becomes_available(
    cluster: Cluster, operator: Operator
) -> None:
    late = bad_release(cluster, early=False)
    print(f"\nbad-release pods ever available, after the complete rollout: {late} of {REPLICAS}")
    assert late == REPLICAS


def test_a_rejected_template_applied_again_is_recognised_at_once(cluster: Cluster, operator: Operator) -> None:
    ns = cluster.ns
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(ns))
    cluster.wait_phase("Verified", revision=1)
    cluster.apply(shop_deployment("shop:1.1-error500"))
    status = cluster.wait_phase("Verified", revision=3, timeout=90)
    [rejected] = status["rejectedTemplates"]
    assert rejected["revision"] == 2 and rejected["podTemplateHash"] and rejected["run"]
    cluster.kubectl("set", "image", "deployment/shop", "shop=shop:1.1-error500")

    def recognised() -> dict[str, object] | None:
        found = next((c for c in cluster.status().get("conditions") or [] if c["type"] == "RejectedTemplate"), None)
        return found if found and found["status"] == "True" else None

    condition = eventually(recognised, timeout=30)
    assert condition["reason"] == "RejectedTemplateRedeployed"
    assert str(rejected["run"]) in str(condition["message"])
    events = cluster.events("ReleaseVerification", "shop")
    warning = next(e for e in events if e["reason"] == "RejectedTemplateRedeployed")
    assert warning["type"] == "Warning" and str(rejected["run"]) in warning["message"]
