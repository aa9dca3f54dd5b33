"""Issue 15, pure: a prometheus check's values against the last verified revision's
(core.metric_baseline), the template variables' values (core.revision_values), and how decide
passes them to the runner Job."""

from __future__ import annotations

import math
from typing import Any

import pytest

from releaseguard.api import parse_release_verification
from releaseguard.core.baseline import CHANGE_NOT_SIGNIFICANT, NO_BASELINE, TOO_FEW_SAMPLES, WITHIN_BASELINE
from releaseguard.core.baseline import BaselineVerdict as V
from releaseguard.core.decide import Observed, decide
from releaseguard.core.jobs import build_jobs
from releaseguard.core.metric_baseline import MetricPolicy, compare_values, material
from releaseguard.core.revision_values import needs_revisions, revision_values
from releaseguard.reasons import METRIC_REGRESSED
from support.driver import PASS, SETTINGS, Driver
from support.factories import NOW, RV_UID, deployment, http_check, replicaset, rv_body

ABS = MetricPolicy(max_increase=0.01)
PCT = MetricPolicy(max_increase_percent=50)


def test_one_number_each_the_difference_alone_decides() -> None:
    worse = compare_values([0.042], [0.001], ABS, 4, "error ratio")
    assert (worse.verdict, worse.reason) == (V.FAILED, METRIC_REGRESSED)
    assert worse.message == "error ratio 0.042 vs 0.001 in revision 4 (+0.041, limit +0.01)"
    assert worse.p_value is None and worse.change == pytest.approx(0.041)
    same = compare_values([0.001], [0.001], ABS, 4, "error ratio")
    assert (same.verdict, same.reason) == (V.PASSED, WITHIN_BASELINE)
    assert same.message == "error ratio 0.001 vs 0.001 in revision 4 (+0, limit +0.01)"
    better = compare_values([0.0], [0.5], ABS, 4, "error ratio")
    assert better.verdict is V.PASSED and better.message.startswith("error ratio 0 vs 0.5 in revision 4 (-0.5,")


def test_a_change_exactly_at_a_limit_is_not_material() -> None:
    assert not material(0.3, 0.2, MetricPolicy(max_increase=0.1))  # 0.3 - 0.2 is 0.09999999999999998 in floats
    assert not material(150, 100, PCT) and material(150.0001, 100, PCT)
    assert material(1, 0, PCT) and not material(0, 0, PCT)  # any increase from 0 exceeds every percentage
    both = MetricPolicy(max_increase=100, max_increase_percent=10)
    assert material(12, 10, both), "past either limit that is set is material"
    assert (
        compare_values([12], [10], both, 3, "m").message == "m 12 vs 10 in revision 3 (+2 (+20%), limit +100 and +10%)"
    )


def test_several_samples_need_material_and_significant() -> None:
    now, then = [0.05, 0.06, 0.07, 0.05, 0.08], [0.001, 0.002, 0.001, 0.003, 0.001]
    worse = compare_values(now, then, ABS, 4, "errors")
    assert (worse.verdict, worse.reason) == (V.FAILED, METRIC_REGRESSED)
    assert worse.message == "errors median 0.06 vs 0.001 in revision 4 (+0.059, limit +0.01; p=0.0055, 5 vs 5 samples)"
    # material but within what noise explains: three samples a side can never reach alpha 0.01
    noisy = compare_values([0.05, 0.0, 0.06], [0.001, 0.002, 0.0], ABS, 4, "errors")
    assert (noisy.verdict, noisy.reason) == (V.PASSED, CHANGE_NOT_SIGNIFICANT)
    assert noisy.material and not noisy.significant
    assert noisy.message.endswith(": not significant at alpha 0.01")
    mixed = compare_values([0.05, 0.06, 0.07], [0.001], ABS, 4, "errors")
    assert mixed.verdict is V.FAILED and mixed.p_value is None
    assert mixed.message.endswith("; 3 vs 1 samples, no test with a single one)")


def test_no_baseline_or_no_values_is_inconclusive_never_failed() -> None:
    none = compare_values([0.5], None, ABS, None, "errors")
    assert (none.verdict, none.reason) == (V.INCONCLUSIVE, NO_BASELINE)
    assert none.message == "no baseline yet: no verified revision of the Deployment to compare errors with"
    empty = compare_values([math.nan], [0.1], ABS, 4, "errors")
    assert (empty.verdict, empty.reason) == (V.INCONCLUSIVE, TOO_FEW_SAMPLES)
    assert empty.message == "errors: no value for this revision to compare (0 vs 1 samples in revision 4)"
    gone = compare_values([0.1, math.inf], [], ABS, 4, "errors")
    assert gone.verdict is V.INCONCLUSIVE and "no value for revision 4" in gone.message


@pytest.mark.parametrize(
    "policy", [{}, {"max_increase": -1}, {"max_increase": math.inf}, {"max_increase": 1, "alpha": 1}]
)
def test_a_bad_policy_is_refused(policy: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        MetricPolicy(**policy)


# --- the values of the template variables, and the runner Job -----------------------------------

TEMPLATED = {
    "name": "errors",
    "prometheus": {
        "address": "http://prometheus.monitoring:9090",
        "query": 'sum(errors{pod_template_hash="{{ .PodTemplateHash }}"})',
        "baseline": {"maxIncrease": 0.01},
    },
}


def test_revision_values_leave_out_what_is_unknown() -> None:
    dep, rss = deployment(revision=3), [replicaset(1, "shop:1"), replicaset(3, "shop:3")]
    assert revision_values(dep, rss, 3, 1) == {
        "Revision": "3",
        "PodTemplateHash": "hash3",
        "BaselineRevision": "1",
        "BaselinePodTemplateHash": "hash1",
    }
    assert revision_values(dep, rss, 3, 2) == {"Revision": "3", "PodTemplateHash": "hash3", "BaselineRevision": "2"}
    assert revision_values(dep, rss, 3, None) == {"Revision": "3", "PodTemplateHash": "hash3"}
    assert revision_values(dep, rss, 3, 3) == {"Revision": "3", "PodTemplateHash": "hash3"}, "a re-run is no baseline"


def test_only_templated_prometheus_checks_need_revisions_and_others_keep_their_job() -> None:
    plain = parse_release_verification(rv_body(checks=[http_check("home")]))
    templated = parse_release_verification(rv_body(checks=[http_check("home"), TEMPLATED]))
    assert not needs_revisions(plain.spec.checks) and needs_revisions(templated.spec.checks)
    [job] = build_jobs(plain, RV_UID, deployment(), 2, revisions={"Revision": "2"})
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "RG_REVISION", "value": "2"} in env
    [before] = build_jobs(plain, RV_UID, deployment(), 2)
    assert all(
        not e["name"].startswith("RG_") or e["name"].startswith("RG_SECRET_")
        for e in before["spec"]["template"]["spec"]["containers"][0]["env"]
    )


def test_decide_reads_the_replicasets_and_passes_both_revisions_to_the_runner() -> None:
    driver = Driver(rv_body(checks=[TEMPLATED]))
    first = driver.step(deployment(revision=1))
    assert first.needs_replicasets and not first.rollback, "the hashes are only in the ReplicaSets"
    driver.finish_all(PASS.replace('"home"', '"errors"'))
    driver.step(deployment(revision=1))
    assert driver.status["lastGoodRevision"] == 1
    dep = deployment(revision=2, image="shop:2.0")
    observed = Observed(driver.body, dep, dict(driver.jobs), dict(driver.messages), NOW)
    plan = decide(observed, SETTINGS)
    assert plan.needs_replicasets
    rss = [replicaset(1, "shop:1.0"), replicaset(2, "shop:2.0")]
    again = decide(Observed(driver.body, dep, dict(driver.jobs), dict(driver.messages), NOW, replicasets=rss), SETTINGS)
    assert not again.needs_replicasets
    [job] = again.create_jobs
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {k: v for k, v in env.items() if k != "RG_DENIED_NETWORKS"} == {
        "RG_REVISION": "2",
        "RG_POD_TEMPLATE_HASH": "hash2",
        "RG_BASELINE_REVISION": "1",
        "RG_BASELINE_POD_TEMPLATE_HASH": "hash1",
    }
    assert [j["metadata"]["name"] for j in again.create_jobs] == [j["metadata"]["name"] for j in plan.create_jobs]


def test_an_rv_without_templated_checks_never_asks_for_replicasets() -> None:
    driver = Driver(rv_body(checks=[http_check("home")]))
    plan = driver.step(deployment(revision=1))
    assert plan.create_jobs and not plan.needs_replicasets
