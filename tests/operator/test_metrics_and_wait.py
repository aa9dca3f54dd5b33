from __future__ import annotations

from releaseguard.api import CheckResultKind, CheckStatus, Phase
from releaseguard.commands.wait import progress_line, verdict_for
from releaseguard.metrics import Metrics


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
