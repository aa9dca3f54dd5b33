"""The shipped alert rules and dashboard against real tools: the operator (a subprocess) verifies
releases on kubesim while a real Prometheus scrapes its /metrics and evaluates
charts/releaseguard/files/alerts.yaml, and a real Alertmanager routes what fires to a webhook
receiver on loopback. Then every panel query of the generated dashboard runs against that
Prometheus, after the story, and must return data."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rg_harness import ROOT, Cluster, Operator, release_verification, shop_deployment, shop_service
from rg_monitoring import Alertmanager, Prometheus, rules_with_short_for
from rg_receivers import Receiver

from kubesim.testing import KubeSim
from support import eventually

pytestmark = pytest.mark.slow
RULES = ROOT / "charts" / "releaseguard" / "files" / "alerts.yaml"
DASHBOARD = ROOT / "dashboards" / "releaseguard.json"
# From the rv turning Failed to the alert at the webhook: scrape 1s + evaluation 1s + `for` 2s
# + Alertmanager's group_wait 1s, with room for a loaded machine.
FIRING_BOUND_SECONDS = 20.0
RESOLVED_BOUND_SECONDS = 20.0


def checks(ns: str, service: str) -> list[dict[str, Any]]:
    def http(name: str, path: str) -> dict[str, Any]:
        return {
            "name": name,
            "retries": 3,
            "timeoutSeconds": 3,
            "http": {"url": f"http://{service}.{ns}.svc:8080{path}"},
        }

    # two checks on /api/orders: against the flaky release one of them fails once, then passes
    return [http("health", "/healthz"), http("orders", "/api/orders"), http("orders-again", "/api/orders")]


def alerts(receiver: Receiver, status: str, name: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    """Matching alerts from Alertmanager's webhook posts, each with `receivedAt` (monotonic)."""
    found = []
    for request in receiver.received():
        for alert in request.json()["alerts"]:
            labelled = all(alert["labels"].get(k) == v for k, v in labels.items())
            if alert["status"] == status and alert["labels"].get("alertname") == name and labelled:
                found.append({**alert, "receivedAt": request.at})
    return found


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def test_alert_fires_and_resolves_through_alertmanager_and_every_panel_has_data(
    sim: KubeSim, cluster: Cluster, webhook: Receiver, tmp_path: Path
) -> None:
    pager = Receiver(fail_first=10**6).start()  # a channel that is down: notification failures
    notify = tmp_path / "notifications.yaml"
    notify.write_text(
        yaml.safe_dump(
            {
                "channels": {"pager": {"urls": [f"json://127.0.0.1:{pager.port}/"], "namespaces": ["*"]}},
                "retry": {"attempts": 1},
            }
        )
    )
    op = Operator(sim, tmp_path, "--notifications-config", str(notify)).start()
    alertmanager = Alertmanager(tmp_path, f"http://127.0.0.1:{webhook.port}/alerts")
    rules = rules_with_short_for(RULES, tmp_path / "rules.yaml")
    prometheus = Prometheus(tmp_path, f"127.0.0.1:{op.metrics_port}", rules, f"127.0.0.1:{alertmanager.port}")
    try:
        prometheus.wait_for_scrape("releaseguard")  # watching before the releases, as in production
        ns = cluster.ns
        pagers = [{"channel": "pager", "events": ["Failed"]}]
        shop = release_verification(ns, checks(ns, "shop"), policy="Manual", notifications=pagers)
        web = release_verification(ns, checks(ns, "web"), policy="Automatic", name="web")
        cluster.apply(
            shop_service(),
            shop_deployment("shop:1.0"),
            shop,
            shop_service("web"),
            shop_deployment("shop:1.0", name="web"),
            web,
        )
        cluster.wait_phase("Verified", revision=1)
        cluster.wait_phase("Verified", rv="web", revision=1)

        # a regressed release: shop (Manual) stays Failed and alerts; web (Automatic) is rolled back
        cluster.apply(shop_deployment("shop:1.1-error500"), shop_deployment("shop:1.1-error500", name="web"))
        cluster.wait_phase("Failed", revision=2, timeout=60)
        failed_at = time.monotonic()
        want = {
            "namespace": ns,
            "releaseverification": "shop",
            "deployment": "shop",
            "revision": "2",
            "image": "shop:1.1-error500",
        }
        firing = eventually(
            lambda: alerts(webhook, "firing", "ReleaseVerificationFailed", want),
            FIRING_BOUND_SECONDS + 10,
            "the firing alert",
        )
        firing_after = firing[0]["receivedAt"] - failed_at
        assert firing_after < FIRING_BOUND_SECONDS, f"the alert took {firing_after:.1f}s"
        alert = firing[0]
        assert alert["labels"]["severity"] == "warning"
        assert (
            alert["annotations"]["summary"]
            == f"Release of {ns}/shop revision 2 failed verification and was not rolled back"
        )
        assert "shop:1.1-error500" in alert["annotations"]["description"]
        cluster.wait_phase("Verified", rv="web", revision=3, timeout=90)
        web_labels = {"namespace": ns, "releaseverification": "web", "deployment": "web"}
        try:
            rolled = eventually(
                lambda: alerts(webhook, "firing", "ReleaseRolledBack", web_labels), 30, "the rollback alert"
            )
        except AssertionError as exc:
            seen = prometheus.query(f'releaseguard_rollbacks_total{{namespace="{ns}"}}[1m]')
            raise AssertionError(f"{exc}\nrollbacks: {seen}\nALERTS: {prometheus.query('ALERTS')}") from None
        assert rolled

        # the next revision of shop (flaky, so one check passes only on a retry) replaces the failed
        # one and is verified: the alert resolves (as soon as the rv leaves Failed, so at the latest
        # RESOLVED_BOUND_SECONDS after the verdict)
        applied_at = time.monotonic()
        cluster.apply(shop_deployment("shop:1.1-flaky"))
        cluster.wait_phase("Verified", revision=3, timeout=60)
        verified_at = time.monotonic()
        resolved = eventually(
            lambda: alerts(webhook, "resolved", "ReleaseVerificationFailed", want),
            RESOLVED_BOUND_SECONDS + 10,
            "the resolved alert",
        )
        resolved_at = resolved[0]["receivedAt"]
        assert applied_at < resolved_at < verified_at + RESOLVED_BOUND_SECONDS
        print(
            f"\nfiring alert at the webhook {firing_after:.1f}s after the rv turned Failed; resolved alert "
            f"{resolved_at - applied_at:.1f}s after the next revision was applied, "
            f"{resolved_at - verified_at:+.1f}s from its verdict"
        )
        flaky = [c for c in cluster.status()["lastRun"]["checks"] if c["result"] == "Flaky"]
        assert len(flaky) == 1, cluster.status()["lastRun"]["checks"]

        # every panel of the generated dashboard has data in the real Prometheus, once scraped
        dashboard = json.loads(DASHBOARD.read_text())
        queries = [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]
        assert len(queries) == 9

        def concrete(expr: str) -> str:
            return expr.replace("$__rate_interval", "5m").replace("$namespace", ns)  # a DNS label: no regex specials

        def answered() -> list[str]:
            empty = []
            for title, expr in queries:
                values = [float(s["value"][1]) for s in prometheus.query(concrete(expr))]
                if not any(math.isfinite(v) for v in values):
                    empty.append(f"{title}: {expr} -> {values}")
            return empty

        deadline = time.monotonic() + 20
        missing = answered()
        while missing and time.monotonic() < deadline:
            time.sleep(1)
            missing = answered()
        assert not missing, "panels without data:\n" + "\n".join(missing)
        states = prometheus.query(concrete(next(e for t, e in queries if t.startswith("Current state"))))
        by_rv = {s["metric"]["releaseverification"]: s["metric"] for s in states}
        assert by_rv["shop"]["phase"] == "Verified" and by_rv["shop"]["image"] == "shop:1.1-flaky"
        assert by_rv["web"]["revision"] == "3" and by_rv["web"]["image"] == "shop:1.0"

        # every metric a panel or an alert reads is one the operator exports
        exported = {
            re.split(r"[{ ]", line, maxsplit=1)[0] for line in op.metrics().splitlines() if line and line[0] != "#"
        }
        texts = [e for _, e in queries] + [
            r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]
        ]
        used = {m for t in texts for m in re.findall(r"releaseguard_[a-z_]+", t)}
        assert used and not used - exported, f"used but not exported: {sorted(used - exported)}"
    finally:
        prometheus.stop()
        alertmanager.stop()
        op.stop()
        pager.stop()
