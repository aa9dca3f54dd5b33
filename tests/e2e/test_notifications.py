"""Notifications end to end: the operator (a subprocess) delivers through apprise to receivers on
loopback (a JSON webhook and a Mattermost-style chat hook) and POSTs incident records to a tracker
webhook; deliveries are retried, recorded in the rv's status, and never repeated, not even by a
restarted operator."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml
from rg_harness import ROOT, Cluster, Operator, release_verification, shop_deployment, shop_service
from rg_receivers import Receiver

from kubesim.testing import KubeSim
from support import eventually

pytestmark = pytest.mark.slow
CHAT_TOKEN = "chattoken0123456789secret"


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    found = {
        "team": Receiver(fail_first=2).start(),
        "chat": Receiver().start(),
        "tracker": Receiver(fail_first=1).start(),
    }
    yield found
    for receiver in found.values():
        receiver.stop()


def notifications_config(tmp_path: Path, receivers: dict[str, Receiver]) -> Path:
    config = {
        "channels": {
            "team": {"urls": [f"json://127.0.0.1:{receivers['team'].port}/releases"], "namespaces": ["it-*"]},
            "chat": {"urls": [f"mmost://127.0.0.1:{receivers['chat'].port}/{CHAT_TOKEN}"], "namespaces": ["*"]},
            "tracker": {
                "urls": [f"http://127.0.0.1:{receivers['tracker'].port}/incidents"],
                "kind": "incident",
                "namespaces": ["*"],
            },
        },
        "links": {"dashboard": "http://127.0.0.1:3000/d/releaseguard?var-namespace={namespace}&var-rv={name}"},
        "retry": {"attempts": 4, "initialDelaySeconds": 0.2, "maxDelaySeconds": 1},
    }
    path = tmp_path / "notifications.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def subscriptions() -> list[dict[str, object]]:
    return [
        {"channel": "team", "events": ["Verified", "Failed", "RolledBack"]},
        {"channel": "chat", "events": ["RolledBack"]},
        {"channel": "tracker", "events": ["Failed", "Verified"]},
    ]


def messages(receiver: Receiver) -> list[dict[str, str]]:
    return [r.json() for r in receiver.received()]


def test_notified_once_per_run_and_event_with_retries_incidents_and_restart(
    sim: KubeSim, cluster: Cluster, receivers: dict[str, Receiver], tmp_path: Path
) -> None:
    op = Operator(sim, tmp_path, "--notifications-config", str(notifications_config(tmp_path, receivers))).start()
    try:
        ns = cluster.ns
        rv = release_verification(ns, notifications=subscriptions())
        cluster.apply(shop_service(), shop_deployment("shop:1.0"), rv)
        cluster.wait_phase("Verified", revision=1)
        team = receivers["team"]
        verified = eventually(lambda: messages(team), 20, "the Verified message")
        assert verified[0]["title"].startswith(f"[Verified] {ns}/shop revision 1")
        assert team.refused == 2  # refused twice, delivered on the third attempt
        record = eventually(
            lambda: [r for r in cluster.status().get("notifications") or [] if r["channel"] == "team"],
            10,
            "the delivery record in the status",
        )[0]
        assert (record["event"], record["result"], record["attempts"], record["revision"]) == (
            "Verified",
            "Delivered",
            3,
            1,
        )
        assert "NotificationSent" in cluster.event_reasons("ReleaseVerification", "shop")

        cluster.apply(shop_deployment("shop:1.1-error500"))
        cluster.wait_phase("Verified", revision=3, timeout=90)
        eventually(lambda: len(messages(team)) == 4, 20, "Failed, RolledBack and Verified on team")
        titles = [m["title"] for m in messages(team)]
        assert titles[0].startswith("[Verified]") and titles[3].startswith(f"[Verified] {ns}/shop revision 3")
        assert sorted(t.split("]")[0] for t in titles[1:3]) == ["[Failed", "[RolledBack"]  # sent concurrently
        assert all("revision 2" in t for t in titles[1:3])
        failed = next(m for m in messages(team) if m["title"].startswith("[Failed]"))
        body = failed["message"]
        for expected in (
            f"ReleaseVerification: {ns}/shop",
            "Deployment: shop, revision 2",
            "Image: shop:1.1-error500",
            f"- orders (http, critical, Failed after 4 attempts): expected GET http://shop.{ns}.svc:8080/api/orders -> HTTP 200",
            "observed HTTP 500",
            "Operator action: rolled back Deployment shop from revision 2 to revision 1",
            f"dashboard: http://127.0.0.1:3000/d/releaseguard?var-namespace={ns}&var-rv=shop",
        ):
            assert expected in body, f"{expected!r} not in:\n{body}"
        assert failed["type"] == "failure"

        chat = eventually(lambda: receivers["chat"].received(), 20, "the chat message")
        assert len(chat) == 1 and chat[0].path == f"/hooks/{CHAT_TOKEN}"
        assert "[RolledBack]" in chat[0].json()["text"] and "revision 2" in chat[0].json()["text"]

        tracker = eventually(
            lambda: len(receivers["tracker"].received()) >= 2 and receivers["tracker"].received(),
            20,
            "incident open and resolve",
        )
        opened, resolved = (r.json() for r in tracker)
        schema = json.loads((ROOT / "schemas" / "incident.v1.json").read_text())
        jsonschema.validate(opened, schema)
        jsonschema.validate(resolved, schema)
        assert (opened["kind"], opened["schemaVersion"], opened["state"]) == ("Incident", 1, "open")
        assert opened["severity"] == "major" and opened["rolledBackTo"] == 1
        assert opened["release"] == {
            "namespace": ns,
            "releaseVerification": "shop",
            "deployment": "shop",
            "revision": 2,
            "image": "shop:1.1-error500",
        }
        assert [c["name"] for c in opened["failedChecks"]] == ["orders"]
        assert opened["failedChecks"][0]["observed"] == "HTTP 500"
        assert [t["event"] for t in opened["timeline"]] == [
            "RolloutCompleted",
            "ChecksStarted",
            "Verdict",
            "RolledBack",
        ]
        assert resolved["state"] == "resolved" and resolved["resolvedByRevision"] == 3
        assert resolved["release"]["revision"] == 2 and resolved["release"]["image"] == "shop:1.1-error500"
        assert resolved["dedupeKey"] == opened["dedupeKey"]

        metrics = op.metrics()
        assert 'releaseguard_notifications_total{channel="team",event="Verified",result="Delivered"} 2.0' in metrics
        assert 'releaseguard_notifications_total{channel="chat",event="RolledBack",result="Delivered"} 1.0' in metrics

        # a restarted operator finds the records in the status and sends nothing again
        before = {name: len(r.received()) for name, r in receivers.items()}
        op.kill()
        op.start()
        time.sleep(4)
        assert {name: len(r.received()) for name, r in receivers.items()} == before

        # the chat token (part of the channel URL, from the admin's Secret) is nowhere a user can read
        visible = (
            json.dumps(cluster.get("releaseverification", "shop"))
            + cluster.kubectl("get", "events", "-o", "json").stdout
        )
        assert CHAT_TOKEN not in visible
        assert CHAT_TOKEN not in op.log()
    finally:
        op.stop()


def test_a_channel_that_keeps_failing_is_recorded_failed_and_not_retried_forever(
    sim: KubeSim, cluster: Cluster, tmp_path: Path
) -> None:
    down = Receiver(fail_first=1000).start()
    try:
        config = {
            "channels": {"team": {"urls": [f"json://127.0.0.1:{down.port}/releases"], "namespaces": ["*"]}},
            "retry": {"attempts": 3, "initialDelaySeconds": 0.1, "maxDelaySeconds": 0.2},
        }
        path = tmp_path / "notifications.yaml"
        path.write_text(yaml.safe_dump(config))
        op = Operator(sim, tmp_path, "--notifications-config", str(path)).start()
        try:
            rv = release_verification(
                cluster.ns,
                notifications=[
                    {"channel": "team", "events": ["Verified"]},
                    {"channel": "nowhere", "events": ["Verified"]},
                ],
            )
            cluster.apply(shop_service(), shop_deployment("shop:1.0"), rv)
            cluster.wait_phase("Verified", revision=1)
            records = eventually(
                lambda: len(cluster.status().get("notifications") or []) == 2 and cluster.status()["notifications"],
                20,
                "two failed records",
            )
            by_channel = {r["channel"]: r for r in records}
            assert (by_channel["team"]["result"], by_channel["team"]["attempts"]) == ("Failed", 3)
            assert by_channel["nowhere"]["result"] == "Failed"
            assert "not configured" in by_channel["nowhere"]["message"]
            assert down.refused == 3
            assert "NotificationFailed" in cluster.event_reasons("ReleaseVerification", "shop")
            assert (
                'releaseguard_notifications_total{channel="team",event="Verified",result="Failed"} 1.0' in op.metrics()
            )
        finally:
            op.stop()
    finally:
        down.stop()


async def test_a_slow_receiver_never_blocks_the_event_loop() -> None:
    """A delivery whose receiver takes a second to answer (through apprise, for real) leaves the
    loop free: a ticker on the same loop never waits more than a fraction of that."""
    import asyncio

    from releaseguard.api.notifications import NotificationRecord, NotifyEvent
    from releaseguard.notify.config import parse_config
    from releaseguard.notify.deliver import Notifier
    from releaseguard.notify.message import Delivery, Message

    slow = Receiver(delay_seconds=1.0).start()
    try:
        config = parse_config(
            {"channels": {"team": {"urls": [f"json://127.0.0.1:{slow.port}/x"], "namespaces": ["ns"]}}}
        )
        done: list[NotificationRecord] = []

        async def on_done(_key: tuple[str, str], record: NotificationRecord) -> None:
            done.append(record)

        notifier = Notifier(config, on_done)
        notifier.start(("ns", "rv"), Delivery("team", NotifyEvent.FAILED, 2, None), Message("t", "b", "failure"))
        gaps, last = [], time.monotonic()
        started = last
        while not done and time.monotonic() - started < 10:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now
        await notifier.stop()
        assert done and done[0].result.value == "Delivered"
        assert time.monotonic() - started >= 1.0
        assert max(gaps) < 0.25, f"the loop stalled for {max(gaps):.2f}s"
    finally:
        slow.stop()
