from __future__ import annotations

from releaseguard.api import CheckResultKind, CheckStatus, Phase
from releaseguard.commands.wait import progress_line, verdict_for
from releaseguard.operator.metrics import Metrics


def test_metric_names_labels_and_phase_gauge() -> None:
    metrics = Metrics()
    checks = [
        CheckStatus(name="health", result=CheckResultKind.PASSED),
        CheckStatus(name="orders", result=CheckResultKind.FAILED),
    ]
    metrics.record_verdict("ns", "shop", "Failed", 1.5, 2.0, checks)
    metrics.record_rollback("ns", "shop", "CriticalChecksFailed")
    metrics.set_phase("ns", "shop", Phase.ROLLED_BACK)
    text = metrics.text()
    assert 'releaseguard_verifications_total{namespace="ns",releaseverification="shop",result="Failed"} 1.0' in text
    assert (
        'releaseguard_check_results_total{check="orders",namespace="ns",releaseverification="shop",result="Failed"} 1.0'
        in text
    )
    assert (
        'releaseguard_rollbacks_total{namespace="ns",reason="CriticalChecksFailed",releaseverification="shop"} 1.0'
        in text
    )
    assert 'releaseguard_verification_duration_seconds_count{namespace="ns",releaseverification="shop"} 1.0' in text
    assert 'releaseguard_rollout_to_verdict_seconds_sum{namespace="ns",releaseverification="shop"} 2.0' in text
    assert (
        'releaseguard_releaseverification_phase{namespace="ns",phase="RolledBack",releaseverification="shop"} 1.0'
        in text
    )
    assert (
        'releaseguard_releaseverification_phase{namespace="ns",phase="Verified",releaseverification="shop"} 0.0' in text
    )
    assert "process_cpu_seconds_total" not in text  # our own registry, not the global one
    metrics.forget("ns", "shop")
    assert "releaseguard_releaseverification_phase{" not in metrics.text()


def test_verdict_for_finds_the_revision_in_last_run_or_history() -> None:
    status = {
        "lastRun": {"revision": 3, "verdict": "Passed"},
        "history": [{"revision": 3, "verdict": "Passed"}, {"revision": 2, "verdict": "Failed", "rolledBackTo": 1}],
    }
    assert verdict_for(status, 3) == ("Passed", status["lastRun"])
    assert verdict_for(status, 2) == ("Failed", status["history"][1])
    assert verdict_for({"lastRun": {"revision": 4}}, 4) is None
    assert verdict_for({"lastRun": {"revision": 4}}, 5) is None
    assert verdict_for({"lastRun": {"revision": 5}}, 4) == ("Superseded", {})


def test_progress_line_names_phase_and_reason() -> None:
    status = {
        "phase": "Waiting",
        "currentRevision": 2,
        "conditions": [{"type": "Verified", "status": "Unknown", "reason": "RolloutInProgress", "message": "1 of 2"}],
    }
    assert progress_line("shop", status) == "shop: revision 2 Waiting (RolloutInProgress: 1 of 2)"
    missing = {
        "phase": "Pending",
        "conditions": [{"type": "TargetFound", "status": "False", "reason": "DeploymentNotFound", "message": "m"}],
    }
    assert progress_line("shop", missing) == "shop: Pending (DeploymentNotFound: m)"


def test_a_hostile_report_adds_no_series_and_a_deleted_rv_leaves_none() -> None:
    import json

    from support.driver import Driver
    from support.factories import deployment, http_check, report, rv_body

    driver = Driver(rv_body(checks=[http_check("home"), http_check("orders")]))
    driver.step(deployment())
    hostile = json.loads(report([(f"evil-{i}", "Failed", True) for i in range(5000)]))
    hostile["checks"] += json.loads(report([("home", "Passed", True), ("orders", "Failed", True)]))["checks"]
    driver.finish_all(json.dumps(hostile))
    plan = driver.step(deployment())
    assert plan.verdict is not None
    metrics = Metrics()
    metrics.record_verdict("ns", "shop", plan.verdict.verdict.value, 1.0, 1.0, plan.verdict.checks)
    metrics.record_verdict("ns", "other", "Passed", 1.0, 1.0, [CheckStatus(name="x", result=CheckResultKind.PASSED)])
    metrics.record_rollback("ns", "shop", "CriticalChecksFailed")
    metrics.set_phase("ns", "shop", Phase.FAILED)
    text = metrics.text()
    checks = {line.split('check="')[1].split('"')[0] for line in text.splitlines() if 'check="' in line}
    assert checks == {"home", "orders", "x"}
    metrics.forget("ns", "shop")
    remaining = [line for line in metrics.text().splitlines() if 'releaseverification="shop"' in line]
    assert remaining == []
    assert 'releaseverification="other"' in metrics.text()


def test_failure_summary_reads_the_same_from_last_run_and_from_history() -> None:
    from releaseguard.commands.wait import failure_summary

    run = {
        "checks": [
            {"name": "health", "critical": True, "result": "Passed"},
            {"name": "orders", "critical": True, "result": "Failed", "message": "500"},
            {"name": "soft", "critical": False, "result": "Failed", "message": "slow"},
            {"name": "db", "critical": True, "result": "Error", "message": "refused"},
        ]
    }
    history = {"failedChecks": ["orders", "soft", "db"], "failedCriticalChecks": ["orders", "db"]}
    headers = ["  critical checks failed: orders, db", "  non-critical checks failed: soft"]
    assert [line for line in failure_summary(run) if not line.startswith("    ")] == headers
    assert failure_summary(history) == headers
    assert "    orders: Failed: 500" in failure_summary(run)


def test_info_gauge_keeps_one_series_per_rv_and_drops_it_on_delete() -> None:
    metrics = Metrics()
    metrics.set_info("ns", "shop", "shop", 1, "shop:1.0")
    metrics.set_info("ns", "shop", "shop", 2, "shop:1.1")
    metrics.set_info("ns", "other", "web", None, "")
    info = [line for line in metrics.text().splitlines() if line.startswith("releaseguard_releaseverification_info{")]
    assert info == [
        'releaseguard_releaseverification_info{deployment="shop",image="shop:1.1",namespace="ns",'
        'releaseverification="shop",revision="2"} 1.0',
        'releaseguard_releaseverification_info{deployment="web",image="",namespace="ns",'
        'releaseverification="other",revision=""} 1.0',
    ]
    metrics.forget("ns", "shop")
    left = [line for line in metrics.text().splitlines() if line.startswith("releaseguard_releaseverification_info{")]
    assert len(left) == 1 and 'releaseverification="other"' in left[0]


def test_images_of_joins_container_images_in_order() -> None:
    from releaseguard.core.rollout import images_of

    deployment = {"spec": {"template": {"spec": {"containers": [{"image": "a:1"}, {"name": "x"}, {"image": "b:2"}]}}}}
    assert images_of(deployment) == "a:1,b:2"
    assert images_of(None) == ""


def test_counters_of_a_new_rv_start_at_zero_so_the_first_rollback_shows_in_increase() -> None:
    metrics = Metrics()
    metrics.set_info("ns", "shop", "shop", 1, "shop:1.0")
    text = metrics.text()
    assert (
        'releaseguard_rollbacks_total{namespace="ns",reason="CriticalChecksFailed",releaseverification="shop"} 0.0'
        in text
    )
    assert 'releaseguard_verifications_total{namespace="ns",releaseverification="shop",result="Failed"} 0.0' in text
    assert 'releaseguard_verification_duration_seconds_count{namespace="ns",releaseverification="shop"} 0.0' in text
    metrics.forget("ns", "shop")
    assert 'releaseverification="shop"' not in metrics.text()
