"""The pure side of notifications: the admin's config, which events a run produced, what is still
due (the dedupe), what a message and an incident record say."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from releaseguard.api import ReleaseVerificationStatus, parse_release_verification
from releaseguard.api.notifications import DeliveryResult, NotificationRecord, NotificationSubscription, NotifyEvent
from releaseguard.errors import SpecInvalidError
from releaseguard.incident import incident_document
from releaseguard.notify.config import RetryPolicy, parse_config, refusal
from releaseguard.notify.message import Delivery, Release, compose, due_deliveries, merge_records, run_events

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 24, 21, 0, 0, tzinfo=UTC)
START = NOW - timedelta(seconds=30)
TOKEN = "s3cr3t-hook-token-0123456789"

RV = parse_release_verification(
    {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": "shop", "namespace": "demo"},
        "spec": {
            "targetRef": {"name": "shop"},
            "checks": [
                {"name": "health", "http": {"url": "http://shop.demo.svc:8080/healthz", "maxLatencyMs": 500}},
                {
                    "name": "orders",
                    "retries": 2,
                    "http": {
                        "url": "http://shop.demo.svc:8080/api/orders",
                        "headers": [
                            {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "shop", "key": "token"}}}
                        ],
                    },
                },
                {
                    "name": "errors",
                    "critical": False,
                    "prometheus": {"address": "http://p:9090", "query": "up", "lessThan": 1},
                },
            ],
            "notifications": [{"channel": "team", "events": ["Failed", "RolledBack", "Verified"]}],
        },
    }
)
RELEASE = Release("demo", "shop", "shop", 2, "shop:1.1")


def status(verdict: str = "Failed", **extra: Any) -> ReleaseVerificationStatus:
    checks = [
        {"name": "health", "type": "http", "result": "Passed", "attempts": 1, "observed": "HTTP 200"},
        {
            "name": "orders",
            "type": "http",
            "result": {"Failed": "Failed", "Passed": "Flaky"}.get(verdict, "Error"),
            "attempts": 3,
            "observed": "HTTP 500",
            "message": "GET http://shop.demo.svc:8080/api/orders -> 500 (expected 200) after 3 attempts",
        },
    ]
    wire = {
        "phase": verdict if verdict != "Passed" else "Verified",
        "checks": "1/2",
        "lastRun": {
            "revision": 2,
            "startTime": START.isoformat(),
            "finishTime": NOW.isoformat(),
            "verdict": verdict,
            "reason": "CriticalChecksFailed" if verdict == "Failed" else "ChecksPassed",
            "message": "1 critical check failed: orders",
            "checks": checks,
        },
        "history": [
            {
                "revision": 2,
                "verdict": verdict,
                "reason": "CriticalChecksFailed" if verdict == "Failed" else "ChecksPassed",
                "finishTime": NOW.isoformat(),
            }
        ],
        **extra,
    }
    return ReleaseVerificationStatus.model_validate(wire)


ROLLED_BACK = {
    "lastRollback": {
        "fromRevision": 2,
        "toRevision": 1,
        "time": NOW.isoformat(),
        "reason": "CriticalChecksFailed",
        "applied": True,
    },
    "conditions": [
        {
            "type": "RolledBack",
            "status": "True",
            "reason": "CriticalChecksFailed",
            "lastTransitionTime": NOW.isoformat(),
            "message": "rolled back",
        }
    ],
}
MANUAL = {
    "lastRollback": {
        "fromRevision": 2,
        "toRevision": 1,
        "time": NOW.isoformat(),
        "reason": "CriticalChecksFailed",
        "applied": False,
    },
    "conditions": [
        {
            "type": "RolledBack",
            "status": "False",
            "reason": "ManualPolicy",
            "lastTransitionTime": NOW.isoformat(),
            "message": "would roll back",
        }
    ],
}


def test_events_of_a_run() -> None:
    assert run_events(status("Failed", **ROLLED_BACK)) == [NotifyEvent.FAILED, NotifyEvent.ROLLED_BACK]
    assert run_events(status("Failed", **MANUAL)) == [NotifyEvent.FAILED, NotifyEvent.ROLLBACK_RECOMMENDED]
    assert run_events(status("Passed")) == [NotifyEvent.VERIFIED, NotifyEvent.FLAKY]
    assert run_events(status("Error")) == [NotifyEvent.ERROR]
    in_progress = ReleaseVerificationStatus.model_validate({"lastRun": {"revision": 3}})
    assert run_events(in_progress) == []


def test_due_deliveries_are_deduplicated_by_the_status_records_and_what_is_under_way() -> None:
    subs = RV.spec.notifications
    current = status("Failed", **ROLLED_BACK)
    due = due_deliveries(current, subs, NOW)
    assert [(d.channel, d.event) for d in due] == [("team", NotifyEvent.FAILED), ("team", NotifyEvent.ROLLED_BACK)]
    under_way = [Delivery("team", NotifyEvent.FAILED, 2, START)]
    assert [d.event for d in due_deliveries(current, subs, NOW, under_way)] == [NotifyEvent.ROLLED_BACK]
    record = NotificationRecord(
        channel="team",
        event=NotifyEvent.ROLLED_BACK,
        revision=2,
        run_start=START,
        result=DeliveryResult.FAILED,
        time=NOW,
    )
    current.notifications = merge_records(current, [record])
    assert [d.event for d in due_deliveries(current, subs, NOW, under_way)] == []  # a failed delivery is final too
    # a later run of the same revision number (its own start time) is notified again
    other = record.model_copy(update={"run_start": START - timedelta(hours=2)})
    assert merge_records(current, [other]) == [record]
    # a verdict an hour old is not notified late, nor is an rv without subscriptions
    assert due_deliveries(status("Failed"), subs, NOW + timedelta(hours=2)) == []
    assert due_deliveries(status("Failed"), [], NOW) == []
    only = [NotificationSubscription(channel="chat", events=[NotifyEvent.ROLLED_BACK])]
    assert [(d.channel, d.event) for d in due_deliveries(status("Failed", **ROLLED_BACK), only, NOW)] == [
        ("chat", NotifyEvent.ROLLED_BACK)
    ]


def test_a_message_names_the_release_the_failures_expected_vs_observed_and_the_action() -> None:
    message = compose(
        RV,
        status("Failed", **ROLLED_BACK),
        RELEASE,
        NotifyEvent.ROLLED_BACK,
        {"logs": "https://logs/{namespace}/{deployment}?rev={revision}"},
    )
    assert message.title == "[RolledBack] demo/shop revision 2 was rolled back"
    assert message.type == "failure"
    for expected in (
        "ReleaseVerification: demo/shop",
        "Deployment: shop, revision 2",
        "Image: shop:1.1",
        "- orders (http, critical, Failed after 3 attempts): expected GET http://shop.demo.svc:8080/api/orders -> HTTP 200;"
        " observed HTTP 500;",
        "Operator action: rolled back Deployment shop from revision 2 to revision 1",
        "logs: https://logs/demo/shop?rev=2",
    ):
        assert expected in message.body
    assert "health" not in message.body.split("Failed checks:")[1]
    manual = compose(RV, status("Failed", **MANUAL), RELEASE, NotifyEvent.ROLLBACK_RECOMMENDED, {})
    assert "kubectl rollout undo deployment/shop -n demo --to-revision=1" in manual.body
    flaky = compose(RV, status("Passed"), RELEASE, NotifyEvent.FLAKY, {})
    assert "Flaky checks:\n- orders" in flaky.body and flaky.type == "warning"


def test_admin_config_errors_name_the_field_and_never_echo_a_url() -> None:
    with pytest.raises(SpecInvalidError) as bad:
        parse_config(
            {
                "channels": {
                    "Team": {"urls": ["json://x"]},
                    "chat": {"urls": [f"nosuchscheme://{TOKEN}@host"]},
                    "tracker": {"urls": [f"ftp://{TOKEN}@host"], "kind": "incident"},
                },
                "links": {"dash": "https://g/{nope}"},
                "retry": {"attempts": 0},
            }
        )
    text = str(bad.value)
    assert "channels.Team" in text
    assert "links" in text and "unknown placeholder {nope}" in text
    assert "retry.attempts" in text
    assert TOKEN not in text
    with pytest.raises(SpecInvalidError) as urls:
        parse_config(
            {
                "channels": {
                    "chat": {"urls": [f"nosuchscheme://{TOKEN}@host"]},
                    "tracker": {"urls": [f"ftp://{TOKEN}@h"], "kind": "incident"},
                }
            }
        )
    assert "channels.chat.urls[0]: not a URL apprise can deliver to (scheme 'nosuchscheme')" in str(urls.value)
    assert "channels.tracker.urls[0]: expected an http(s) URL for an incident channel" in str(urls.value)
    assert TOKEN not in str(urls.value)
    assert parse_config({"channels": {"team": {"urls": ["json://127.0.0.1:9/x"]}}}).retry == RetryPolicy()


def test_retry_delays_double_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=6, initial_delay_seconds=2, max_delay_seconds=10)
    assert [policy.delay(n) for n in range(1, 6)] == [2, 4, 8, 10, 10]


def test_incident_opened_then_resolved_under_one_dedupe_key_and_valid_against_the_schema() -> None:
    schema = json.loads((ROOT / "schemas" / "incident.v1.json").read_text())
    failed = status("Failed", **ROLLED_BACK)
    opened = incident_document(RV, failed, RELEASE, NotifyEvent.FAILED, {})
    assert opened is not None
    jsonschema.validate(opened, schema)
    assert (opened["state"], opened["severity"], opened["rolledBackTo"]) == ("open", "major", 1)
    assert opened["failedChecks"][0]["expected"] == "GET http://shop.demo.svc:8080/api/orders -> HTTP 200"
    assert [t["event"] for t in opened["timeline"]] == ["RolloutCompleted", "ChecksStarted", "Verdict", "RolledBack"]
    # the rolled-back revision 3 is verified: the same incident, resolved
    later = NOW + timedelta(minutes=1)
    verified = ReleaseVerificationStatus.model_validate(
        {
            "lastRun": {
                "revision": 3,
                "startTime": later.isoformat(),
                "finishTime": later.isoformat(),
                "verdict": "Passed",
            },
            "lastRollback": ROLLED_BACK["lastRollback"],
            "history": [
                {"revision": 3, "verdict": "Passed", "finishTime": later.isoformat()},
                {
                    "revision": 2,
                    "verdict": "Failed",
                    "reason": "CriticalChecksFailed",
                    "finishTime": NOW.isoformat(),
                    "rolledBackTo": 1,
                },
            ],
        }
    )
    resolved = incident_document(RV, verified, Release("demo", "shop", "shop", 3, "shop:1.0"), NotifyEvent.VERIFIED, {})
    assert resolved is not None
    jsonschema.validate(resolved, schema)
    assert (resolved["state"], resolved["dedupeKey"], resolved["resolvedByRevision"]) == (
        "resolved",
        opened["dedupeKey"],
        3,
    )
    # nothing for a tracker: a plain verified release, an Error verdict, a non-critical failure
    assert incident_document(RV, status("Passed"), RELEASE, NotifyEvent.VERIFIED, {}) is None
    assert incident_document(RV, status("Error"), RELEASE, NotifyEvent.ERROR, {}) is None
    manual = incident_document(RV, status("Failed", **MANUAL), RELEASE, NotifyEvent.FAILED, {})
    assert manual is not None and manual["severity"] == "critical" and manual["rolledBackTo"] is None


def test_a_channel_serves_only_the_namespaces_the_admin_lists() -> None:
    config = parse_config(
        {
            "channels": {
                "team": {"urls": ["json://127.0.0.1:9/x"], "namespaces": ["shop", "payments-*", "b?"]},
                "everyone": {"urls": ["json://127.0.0.1:9/x"], "namespaces": ["*"]},
                "legacy": {"urls": ["json://127.0.0.1:9/x"]},
                "closed": {"urls": ["json://127.0.0.1:9/x"], "namespaces": []},
            }
        }
    )
    assert [refusal(config, "team", ns) for ns in ("shop", "payments-eu", "b1")] == [None, None, None]
    assert refusal(config, "team", "shop-2") == (
        "channel team does not serve namespace shop-2 (the cluster admin's channels.team.namespaces)"
    )
    assert refusal(config, "team", "payments") is not None and refusal(config, "team", "b12") is not None
    assert refusal(config, "everyone", "kube-system") is None
    # no list: no namespace, and the refusal says what to set
    assert refusal(config, "legacy", "shop") == (
        "channel legacy serves no namespace: the cluster admin's channels.legacy.namespaces is not set "
        '(list shop there, or "*" for every namespace)'
    )
    assert refusal(config, "closed", "shop") is not None
    assert refusal(config, "nowhere", "shop") == "channel nowhere is not configured by the cluster admin"


def test_channel_namespaces_are_names_or_star_patterns_and_errors_name_the_field() -> None:
    with pytest.raises(SpecInvalidError) as bad:
        parse_config(
            {
                "channels": {
                    "team": {"urls": ["json://127.0.0.1:9/x"], "namespaces": ["Shop", "[ab]*", ""]},
                    "chat": {"urls": ["json://127.0.0.1:9/x"], "namespaces": "shop"},
                }
            }
        )
    text = str(bad.value)
    for where in ("channels.team.namespaces.0", "channels.team.namespaces.1", "channels.team.namespaces.2"):
        assert where in text, text
    assert "channels.chat.namespaces" in text
