"""Issue 20 end to end, on kubesim and the real control plane, with the operator as a subprocess:
what others write into the operator's outputs is never taken for an instruction. A forged
status.lastRollback, a VerificationRun the operator did not write, an older rv squatting on the
Deployment and a Deployment its owner paused leave the Deployment and the verdicts as they were;
beside each, the genuine case still acts (the team's rv rolls back, the operator's records list).

These are the operator's own defences, proven without the shipped admission policy (which on a
real cluster refuses the forged writes outright: tests/e2e/test_trust_policy_real.py)."""

from __future__ import annotations

import json
import time

import pytest
from rg_harness import Cluster, Operator, release_verification, shop_deployment, shop_service
from test_records import cli

from support import eventually

pytestmark = pytest.mark.slow
BAD = "shop:1.1-error500"
SETTLE_SECONDS = 5.0  # the operator reacts to a watch event in well under a second


def forge_status(cluster: Cluster, rv: str, status: dict[str, object]) -> None:
    cluster.kubectl("patch", "rv", rv, "--subresource=status", "--type=merge", "-p", json.dumps({"status": status}))


def test_a_squatting_rv_does_not_take_the_team_s_rollback_away(cluster: Cluster, operator: Operator) -> None:
    ns = cluster.ns
    squatters = [
        release_verification(ns, policy="Never", name="squat-never"),
        release_verification(ns, policy="Manual", name="squat-manual"),
    ]
    for squatter in squatters:
        squatter["spec"]["targetRef"]["name"] = "shop"
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), *squatters)
    cluster.wait_phase("Verified", rv="squat-never", revision=1)
    time.sleep(1.1)  # creationTimestamp has one-second resolution: the squatters are strictly older
    cluster.apply(release_verification(ns))
    cluster.wait_phase("Verified", revision=1)
    cluster.apply(shop_deployment(BAD))
    status = cluster.wait_phase("Verified", revision=3, timeout=120)
    assert cluster.image() == "shop:1.0"
    assert next(h for h in status["history"] if h["revision"] == 2)["rolledBackTo"] == 1
    never = cluster.status("squat-never")
    assert not any(c["reason"] == "RollbackOwnedElsewhere" for c in never.get("conditions") or [])


def test_a_forged_last_rollback_moves_no_deployment(cluster: Cluster, operator: Operator) -> None:
    ns = cluster.ns
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(ns, policy="Never"))
    cluster.wait_phase("Verified", revision=1)
    cluster.apply(shop_deployment(BAD))
    failed = cluster.wait_phase("Failed", revision=2, timeout=90)
    assert cluster.image() == BAD  # policy Never: recorded, nothing changed
    cluster.kubectl("rollout", "pause", "deployment/shop")  # the owner's own pause
    forged = {
        "fromRevision": 2,
        "toRevision": 1,
        "time": "2026-01-01T00:00:00Z",
        "reason": "CriticalChecksFailed",
        "applied": True,
        "appliedBy": "releaseguard",
        "paused": True,
    }
    forge_status(cluster, "shop", {"lastRollback": forged, "lastGoodRevision": 1})
    cluster.kubectl("annotate", "rv", "shop", "poke=1")  # another look, whatever the watch does
    time.sleep(SETTLE_SECONDS)
    dep = cluster.get("deployment", "shop") or {}
    assert cluster.image() == BAD and cluster.deployment_revision() == 2
    assert dep["spec"].get("paused") is True  # the owner's pause stands
    assert cluster.status()["lastRun"]["verdict"] == failed["lastRun"]["verdict"] == "Failed"
    assert "RolledBack" not in cluster.event_reasons("Deployment", "shop")


def test_an_owner_s_pause_is_neither_rolled_back_nor_lifted(cluster: Cluster, operator: Operator) -> None:
    ns = cluster.ns
    rv = release_verification(ns, delaySeconds=4)
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), rv)
    cluster.wait_phase("Verified", revision=1, timeout=60)
    cluster.apply(shop_deployment(BAD))
    eventually(
        lambda: (
            cluster.status().get("currentRevision") == 2 and cluster.condition("Verified").get("reason") == "Delaying"
        ),
        60,
        "revision 2 rolled out, its checks due in 4 s",
    )
    cluster.kubectl("rollout", "pause", "deployment/shop")
    status = cluster.wait_phase("Failed", revision=2, timeout=90)
    assert cluster.condition("RolledBack")["reason"] == "DeploymentPaused"
    time.sleep(SETTLE_SECONDS)
    dep = cluster.get("deployment", "shop") or {}
    assert dep["spec"].get("paused") is True and cluster.image() == BAD
    assert status["lastRollback"]["applied"] is False
    # resumed by its owner, the recorded rollback is the owner's to run: nothing is done behind them
    cluster.kubectl("rollout", "resume", "deployment/shop")
    time.sleep(SETTLE_SECONDS)
    assert cluster.image() == BAD


def test_a_record_the_operator_did_not_write_is_not_listed(cluster: Cluster, operator: Operator) -> None:
    ns = cluster.ns
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(ns, policy="Never"))
    cluster.wait_phase("Verified", revision=1)
    rv = cluster.get("releaseverification", "shop") or {}
    forged = {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "VerificationRun",
        "metadata": {
            "name": "shop-forged",
            "labels": {"releaseguard.io/rv": "shop"},
            "ownerReferences": [
                {
                    "apiVersion": "releaseguard.io/v1alpha1",
                    "kind": "ReleaseVerification",
                    "name": "shop",
                    "uid": rv["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {
            "releaseVerification": "shop",
            "target": "shop",
            "revision": 1,
            "trigger": "NewRevision",
            "checksDigest": "x",
        },
    }
    cluster.apply(forged)
    history = cli(cluster, "history", "shop", "-n", ns, "-o", "json")
    assert history.returncode == 0, history.stderr
    runs = [r["run"] for r in json.loads(history.stdout)["runs"]]
    assert runs and "shop-forged" not in runs  # the operator's own record is listed, the forged one is not
    assert cluster.status()["lastRun"]["record"] in runs
