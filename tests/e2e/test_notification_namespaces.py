"""A notification channel serves only the namespaces the cluster admin lists for it: the operator (a
subprocess) delivers to receivers on loopback for rvs in those namespaces, and for an rv anywhere
else sends nothing and says so (a Failed delivery record and a Warning Event naming the channel and
the namespace). A channel without a list serves no namespace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import yaml
from rg_harness import RESTRICTED, Backend, Cluster, Operator, release_verification, shop_deployment, shop_service
from rg_receivers import Receiver

from support import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def other(sim: Backend, cluster: Cluster) -> Iterator[Cluster]:
    """A second namespace beside the test's own."""
    name = f"{cluster.ns}-other"[:63].rstrip("-")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}}
    sim.kubectl("apply", "-f", "-", input=json.dumps(namespace))
    yield Cluster(sim, name)
    sim.kubectl("delete", "namespace", name, "--wait=false", check=False)


def records(cluster: Cluster) -> dict[str, dict[str, object]]:
    return {str(r["channel"]): r for r in cluster.status().get("notifications") or []}


def recorded(cluster: Cluster, count: int) -> bool:
    return len(records(cluster)) == count


def test_only_rvs_in_a_channels_namespaces_are_delivered_to_it(
    sim: Backend, cluster: Cluster, other: Cluster, tmp_path: Path
) -> None:
    team, everyone, legacy = Receiver().start(), Receiver().start(), Receiver().start()
    try:
        config = {
            "channels": {
                "team": {"urls": [f"json://127.0.0.1:{team.port}/team"], "namespaces": [cluster.ns]},
                "everyone": {"urls": [f"json://127.0.0.1:{everyone.port}/all"], "namespaces": ["it-*"]},
                "legacy": {"urls": [f"json://127.0.0.1:{legacy.port}/legacy"]},  # no list: nobody
            },
            "retry": {"attempts": 2, "initialDelaySeconds": 0.1, "maxDelaySeconds": 0.2},
        }
        path = tmp_path / "notifications.yaml"
        path.write_text(yaml.safe_dump(config))
        op = Operator(sim, tmp_path, "--notifications-config", str(path)).start()
        try:
            subscribed = [{"channel": c, "events": ["Verified"]} for c in ("team", "everyone", "legacy")]
            for where in (cluster, other):
                where.apply(
                    shop_service(),
                    shop_deployment("shop:1.0"),
                    release_verification(where.ns, notifications=subscribed),
                )
            for where in (cluster, other):
                where.wait_phase("Verified", revision=1)
                eventually(partial(recorded, where, 3), 30, f"three delivery records in {where.ns}")

            # the allowed namespace: delivered; the other: not a byte, and a record that says why
            assert [m.json()["title"] for m in team.received()] == [f"[Verified] {cluster.ns}/shop revision 1 verified"]
            mine, theirs = records(cluster), records(other)
            assert (mine["team"]["result"], mine["team"]["attempts"]) == ("Delivered", 1)
            assert (theirs["team"]["result"], theirs["team"]["attempts"]) == ("Failed", 0)
            assert theirs["team"]["message"] == (
                f"channel team does not serve namespace {other.ns} (the cluster admin's channels.team.namespaces)"
            )
            # a pattern that matches both: both delivered
            titles = sorted(m.json()["title"] for m in everyone.received())
            assert titles == sorted(f"[Verified] {ns}/shop revision 1 verified" for ns in (cluster.ns, other.ns))
            assert mine["everyone"]["result"] == theirs["everyone"]["result"] == "Delivered"
            # no list: no namespace, and the record names the field to set
            assert legacy.received() == [] and legacy.refused == 0
            for found in (mine, theirs):
                assert found["legacy"]["result"] == "Failed"
                assert "channels.legacy.namespaces is not set" in str(found["legacy"]["message"])

            warnings = [
                e["message"]
                for e in other.events("ReleaseVerification", "shop")
                if e["reason"] == "NotificationFailed" and e["type"] == "Warning"
            ]
            assert any(f"to channel team: channel team does not serve namespace {other.ns}" in w for w in warnings), (
                warnings
            )
            metrics = op.metrics()
            assert 'releaseguard_notifications_total{channel="team",event="Verified",result="Delivered"} 1.0' in metrics
            assert 'releaseguard_notifications_total{channel="team",event="Verified",result="Failed"} 1.0' in metrics
            assert "notification channel legacy serves no namespace" in op.log()
        finally:
            op.stop()
    finally:
        for receiver in (team, everyone, legacy):
            receiver.stop()
