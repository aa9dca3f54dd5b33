"""The baseline comparison rule (core.baseline): pure, so plain inputs and seeded noise only."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from releaseguard.core.baseline import (
    CHANGE_NOT_SIGNIFICANT,
    ERROR_RATE_REGRESSED,
    INVALID_SAMPLES,
    LATENCY_REGRESSED,
    NO_BASELINE,
    TOO_FEW_SAMPLES,
    WITHIN_BASELINE,
    BaselinePolicy,
    BaselineVerdict,
    Comparison,
    SampleOutcome,
    Samples,
    compare,
    percentile_ms,
)

OK, ERR = SampleOutcome.OK, SampleOutcome.ERROR
POLICY = BaselinePolicy(max_slowdown_percent=25, max_error_rate_increase_points=2)
REPETITIONS = 200


def ok(latencies: list[float] | tuple[float, ...] | np.ndarray) -> Samples:
    values = tuple(float(v) for v in latencies)
    return Samples(values, (OK,) * len(values))


def with_errors(latencies: list[float], errors: int) -> Samples:
    return Samples(tuple(latencies), (ERR,) * errors + (OK,) * (len(latencies) - errors))


def lognormal(seed: int, median_ms: float, n: int = 50, sigma: float = 0.4) -> np.ndarray:
    """Request latencies as services show them: right-skewed, never negative."""
    return np.random.default_rng(seed).lognormal(math.log(median_ms), sigma, n)


# -- the verdicts and their messages ---------------------------------------------------------


def test_a_clear_slowdown_fails_with_the_issue_s_message() -> None:
    base = ok([180.0] * 48 + [100.0, 100.0])
    now = ok([312.0] * 48 + [200.0, 200.0])
    result = compare(now, base, POLICY, 4)
    assert (result.verdict, result.reason) == (BaselineVerdict.FAILED, LATENCY_REGRESSED)
    assert result.message == "p95 312 ms vs 180 ms in revision 4 (+73%, p<0.001, 50 vs 50 samples)"
    assert result.latency is not None and result.latency.material and result.latency.significant


def test_a_p_value_at_or_above_a_thousandth_is_printed_with_two_digits() -> None:
    # 3 of 3 slower, exact test: p = 1/20
    result = compare(ok([3.0, 4.0, 5.0]), ok([1.0, 1.5, 2.0]), BaselinePolicy(25, 2, min_samples=3), 7)
    assert result.message.startswith("p95 4.9 ms vs 1.9 ms in revision 7 (+151%, p=0.05, 3 vs 3 samples)")


def test_an_error_rate_regression_fails_with_its_own_message() -> None:
    base = with_errors([100.0] * 50, 0)
    now = with_errors([100.0] * 50, 10)
    result = compare(now, base, POLICY, 4)
    assert (result.verdict, result.reason) == (BaselineVerdict.FAILED, ERROR_RATE_REGRESSED)
    assert result.error_rate is not None
    p = result.error_rate.p_value
    assert 0.0001 < p < 0.001  # Fisher: C(90,40)/C(100,50)
    assert result.message == "error rate 20.0% vs 0.0% in revision 4 (+20.0 points, p<0.001, 50 vs 50 samples)"


def test_the_error_rate_message_prints_p_with_two_significant_digits() -> None:
    base = with_errors([100.0] * 50, 0)
    now = with_errors([100.0] * 50, 7)
    result = compare(now, base, BaselinePolicy(25, 2, alpha=0.05), 4)
    assert result.reason == ERROR_RATE_REGRESSED
    assert result.message == "error rate 14.0% vs 0.0% in revision 4 (+14.0 points, p=0.0062, 50 vs 50 samples)"


def test_the_error_rate_is_judged_before_latency_so_a_mostly_failing_release_fails() -> None:
    base = with_errors([100.0] * 50, 0)
    now = with_errors([100.0] * 50, 45)  # 5 successes: too few for latency
    result = compare(now, base, POLICY, 4)
    assert result.reason == ERROR_RATE_REGRESSED and result.verdict is BaselineVerdict.FAILED


def test_a_release_within_its_baseline_passes_saying_both_numbers() -> None:
    base = ok(lognormal(1, 120))
    now = ok(lognormal(2, 120))
    result = compare(now, base, POLICY, 4)
    assert (result.verdict, result.reason) == (BaselineVerdict.PASSED, WITHIN_BASELINE)
    latency, errors = result.message.split("; ")
    assert latency.startswith("p95 ") and " in revision 4 (" in latency and latency.endswith(", 50 vs 50 samples)")
    assert errors == "error rate 0.0% vs 0.0% in revision 4 (+0.0 points, p=1, 50 vs 50 samples)"


def test_a_faster_release_passes() -> None:
    result = compare(ok(lognormal(1, 60)), ok(lognormal(2, 120)), POLICY, 4)
    assert result.reason == WITHIN_BASELINE
    assert result.latency is not None and result.latency.change_percent is not None
    assert result.latency.change_percent < -30 and result.latency.p_value > 0.99


def test_a_material_change_that_noise_explains_passes_and_says_so() -> None:
    # +100% on three samples each: the exact test cannot go below p = 1/20
    policy = BaselinePolicy(25, 2, min_samples=3)
    result = compare(ok([20.0, 21.0, 22.0]), ok([10.0, 10.5, 11.0]), policy, 4)
    assert (result.verdict, result.reason) == (BaselineVerdict.PASSED, CHANGE_NOT_SIGNIFICANT)
    assert "(+100%, p=0.05, 3 vs 3 samples): not significant at alpha 0.01; error rate" in result.message


def test_a_significant_change_that_is_not_material_passes() -> None:
    # every sample 10% slower: overwhelming evidence, but within a 25% allowance
    base = ok(lognormal(3, 100, n=200))
    now = ok(tuple(v * 1.10 for v in base.latencies_ms))
    result = compare(now, base, POLICY, 4)
    assert result.latency is not None and result.latency.significant and not result.latency.material
    assert result.reason == WITHIN_BASELINE


# -- no baseline, too few, bad input ---------------------------------------------------------


def test_no_baseline_is_inconclusive() -> None:
    result = compare(ok([1.0] * 30), None, POLICY, None)
    assert (result.verdict, result.reason) == (BaselineVerdict.INCONCLUSIVE, NO_BASELINE)
    assert result.message == "no baseline yet: no verified revision of this check has samples (30 samples now)"


@pytest.mark.parametrize(("now", "then"), [(19, 50), (50, 19), (0, 0), (0, 50)])
def test_too_few_samples_on_either_side_is_inconclusive_and_says_how_many(now: int, then: int) -> None:
    result = compare(ok([5.0] * now), ok([5.0] * then), POLICY, 4)
    assert (result.verdict, result.reason) == (BaselineVerdict.INCONCLUSIVE, TOO_FEW_SAMPLES)
    assert result.message == f"too few samples: {now} vs {then} in revision 4 (at least 20 on each side)"


def test_too_few_successful_samples_for_latency_is_inconclusive() -> None:
    # both sides mostly fail: the error rate did not regress, and latency cannot be judged
    base = with_errors([100.0] * 50, 40)
    now = with_errors([100.0] * 50, 40)
    result = compare(now, base, POLICY, 4)
    assert (result.verdict, result.reason) == (BaselineVerdict.INCONCLUSIVE, TOO_FEW_SAMPLES)
    assert result.message == (
        "too few successful samples for p95: 10 vs 10 in revision 4 (at least 20 on each side); "
        "error rate 80.0% vs 80.0% in revision 4 (+0.0 points, p=0.6, 50 vs 50 samples)"
    )


def test_latency_is_over_successful_samples_only() -> None:
    # the errors' latencies (timeouts, 5000 ms) would dominate p95 if they were counted
    base = Samples((100.0,) * 49 + (5000.0,), (OK,) * 49 + (ERR,))
    now = Samples((100.0,) * 49 + (5000.0,), (OK,) * 49 + (ERR,))
    result = compare(now, base, POLICY, 4)
    assert result.latency is not None and result.latency.current_ms == 100.0 and result.latency.current_count == 49


@pytest.mark.parametrize(
    ("samples", "problem"),
    [
        (Samples((1.0, 2.0), (OK,)), "2 latencies for 1 outcomes"),
        (Samples((float("nan"),) * 30, (OK,) * 30), "sample 0 has latency nan"),
        (Samples((float("inf"),) * 30, (OK,) * 30), "sample 0 has latency inf"),
        (Samples((1.0, -1.0) * 15, (OK,) * 30), "sample 1 has latency -1.0"),
        (Samples((1.0,) * 30, ("maybe",) * 30), "sample 0 has outcome 'maybe'"),  # type: ignore[arg-type]
    ],
)
def test_unusable_samples_are_inconclusive_on_either_side(samples: Samples, problem: str) -> None:
    good = ok([1.0] * 30)
    mine = compare(samples, good, POLICY, 4)
    theirs = compare(good, samples, POLICY, 4)
    assert mine.verdict is theirs.verdict is BaselineVerdict.INCONCLUSIVE
    assert mine.reason == theirs.reason == INVALID_SAMPLES
    assert mine.message.startswith("this run's samples cannot be compared: " + problem)
    assert theirs.message.startswith("the samples of revision 4 cannot be compared: " + problem)


def test_outcomes_given_as_plain_strings_are_understood() -> None:
    # read back from a record, the outcomes are the strings "ok" and "error"
    raw = Samples((10.0,) * 30, ("ok",) * 25 + ("error",) * 5)  # type: ignore[arg-type]
    assert raw.problem() is None and raw.errors == 5 and len(raw.ok_latencies()) == 25


# -- ties, identical samples, zeros ----------------------------------------------------------


def test_all_identical_samples_pass_with_p_of_one_and_no_nan() -> None:
    same = ok([42.0] * 50)
    result = compare(same, same, POLICY, 4)
    assert result.reason == WITHIN_BASELINE
    assert result.latency is not None and result.latency.p_value == 1.0 and result.latency.change_percent == 0.0
    assert "nan" not in result.message.lower()


def test_heavy_ties_are_tested_with_the_tie_correction() -> None:
    # a coarse clock: latencies only in whole 10 ms steps
    base = ok([100.0] * 30 + [110.0] * 15 + [120.0] * 5)
    now = ok([130.0] * 30 + [145.0] * 15 + [160.0] * 5)  # p95 160 vs 120: +33%
    result = compare(now, base, POLICY, 4)
    assert result.reason == LATENCY_REGRESSED
    assert result.latency is not None and 0 < result.latency.p_value < 1e-9


def test_two_constant_sides_that_differ_are_a_significant_difference() -> None:
    result = compare(ok([200.0] * 30), ok([100.0] * 30), POLICY, 4)
    assert result.reason == LATENCY_REGRESSED
    assert result.message == "p95 200 ms vs 100 ms in revision 4 (+100%, p<0.001, 30 vs 30 samples)"


def test_zero_latencies_on_both_sides_are_no_change() -> None:
    result = compare(ok([0.0] * 30), ok([0.0] * 30), POLICY, 4)
    assert result.reason == WITHIN_BASELINE
    assert result.message.startswith("p95 0.0 ms vs 0.0 ms in revision 4 (+0%, p=1, 30 vs 30 samples); ")


def test_a_slowdown_from_zero_has_no_ratio_but_is_material() -> None:
    result = compare(ok([3.0] * 30), ok([0.0] * 30), POLICY, 4)
    assert result.reason == LATENCY_REGRESSED
    assert result.latency is not None and result.latency.change_percent is None
    assert result.message == "p95 3.0 ms vs 0.0 ms in revision 4 (from 0 ms, p<0.001, 30 vs 30 samples)"


def test_zero_errors_on_both_sides_is_within_baseline_without_a_test() -> None:
    result = compare(ok([10.0] * 30), ok([10.0] * 30), POLICY, 4)
    assert result.error_rate is not None
    assert (result.error_rate.change_points, result.error_rate.p_value, result.error_rate.material) == (0.0, 1.0, False)


def test_all_errors_on_both_sides_is_not_an_error_rate_regression() -> None:
    result = compare(with_errors([10.0] * 30, 30), with_errors([10.0] * 30, 30), POLICY, 4)
    assert result.reason == TOO_FEW_SAMPLES and "0 vs 0 in revision 4" in result.message
    assert result.error_rate is not None and result.error_rate.p_value == 1.0


def test_fewer_errors_than_the_baseline_is_never_a_regression() -> None:
    result = compare(with_errors([10.0] * 50, 0), with_errors([10.0] * 50, 20), POLICY, 4)
    assert result.error_rate is not None and result.error_rate.change_points == -40.0
    assert result.reason == WITHIN_BASELINE
    assert "error rate 0.0% vs 40.0% in revision 4 (-40.0 points, p=1, 50 vs 50 samples)" in result.message


# -- tiny samples and thresholds -------------------------------------------------------------


def test_one_sample_each_is_computed_when_the_policy_allows_it() -> None:
    result = compare(ok([500.0]), ok([100.0]), BaselinePolicy(25, 2, min_samples=1), 4)
    assert result.reason == CHANGE_NOT_SIGNIFICANT  # exact test of 1 vs 1: p = 1/2
    assert result.latency is not None and result.latency.p_value == 0.5


def test_tiny_samples_with_a_loose_alpha_can_fail() -> None:
    # 8 vs 8, all slower: exact p = 1/C(16,8) = 1/12870
    policy = BaselinePolicy(25, 2, min_samples=8)
    result = compare(ok([float(v) for v in range(200, 208)]), ok([float(v) for v in range(100, 108)]), policy, 4)
    assert result.reason == LATENCY_REGRESSED
    assert result.latency is not None and result.latency.p_value == pytest.approx(1 / 12870)


def test_a_slowdown_exactly_at_the_threshold_is_not_material() -> None:
    policy = BaselinePolicy(max_slowdown_percent=50, max_error_rate_increase_points=2)
    at = compare(ok([150.0] * 30), ok([100.0] * 30), policy, 4)
    assert at.latency is not None and at.latency.change_percent == 50.0 and not at.latency.material
    assert at.reason == WITHIN_BASELINE
    past = compare(ok([150.0 + 1e-9] * 30), ok([100.0] * 30), policy, 4)
    assert past.reason == LATENCY_REGRESSED


def test_an_error_rate_increase_exactly_at_the_threshold_is_not_material() -> None:
    # 3 points in 100 samples each: 3 errors vs none
    policy = BaselinePolicy(max_slowdown_percent=25, max_error_rate_increase_points=3, alpha=0.2)
    at = compare(with_errors([10.0] * 100, 3), with_errors([10.0] * 100, 0), policy, 4)
    assert at.error_rate is not None and at.error_rate.change_points == 3.0 and not at.error_rate.material
    assert at.error_rate.significant  # p = 0.12 at alpha 0.2: only the threshold keeps it passing
    assert at.reason == WITHIN_BASELINE
    past = compare(with_errors([10.0] * 100, 4), with_errors([10.0] * 100, 0), policy, 4)
    assert past.reason == ERROR_RATE_REGRESSED


def test_the_percentile_is_numpy_s_linear_method() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile_ms(values, 95) == pytest.approx(19.05)  # (n - 1) * 0.95 = 18.05: between 19 and 20
    assert percentile_ms(values, 50) == 10.5
    assert percentile_ms(values, 100) == 20.0
    policy = BaselinePolicy(25, 2, percentile=99.9)
    result = compare(ok(values), ok(values), policy, 4)
    assert result.message.startswith("p99.9 20 ms vs 20 ms")


@pytest.mark.parametrize(
    "bad",
    [
        {"max_slowdown_percent": -1},
        {"max_slowdown_percent": math.inf},
        {"max_error_rate_increase_points": 101},
        {"percentile": 0},
        {"percentile": 100.5},
        {"alpha": 0},
        {"alpha": 1},
        {"min_samples": 0},
    ],
)
def test_a_policy_out_of_range_is_refused_when_built(bad: dict[str, float]) -> None:
    fields: dict[str, float] = {"max_slowdown_percent": 25, "max_error_rate_increase_points": 2, **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        BaselinePolicy(**fields)  # type: ignore[arg-type]


def test_the_record_form_is_camel_case_and_rounded() -> None:
    result = compare(ok([312.04] * 50), ok([180.0] * 50), POLICY, 4)
    wire = result.to_wire()
    assert wire["verdict"] == "Failed" and wire["reason"] == LATENCY_REGRESSED and wire["baselineRevision"] == 4
    assert wire["latency"]["currentMs"] == 312.0 and wire["latency"]["changePercent"] == 73.4
    assert wire["errorRate"]["changePoints"] == 0.0
    assert compare(ok([1.0] * 30), None, POLICY, None).to_wire() == {
        "verdict": "Inconclusive",
        "reason": NO_BASELINE,
        "message": "no baseline yet: no verified revision of this check has samples (30 samples now)",
    }


# -- noise: no false rollbacks, and a real regression caught ---------------------------------


def healthy_pair(seed: int, n: int = 50) -> tuple[Samples, Samples]:
    """Two runs of the same release: lognormal latencies, 1% of requests failing, independently."""
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(2):
        latencies = rng.lognormal(math.log(120), 0.5, n)
        failed = rng.random(n) < 0.01
        runs.append(Samples(tuple(float(v) for v in latencies), tuple(ERR if f else OK for f in failed)))
    return runs[0], runs[1]


def test_an_equal_speed_release_under_noise_is_not_flagged() -> None:
    failed = [compare(*healthy_pair(seed), POLICY, 4) for seed in range(REPETITIONS)]
    false_positives = sum(1 for r in failed if r.verdict is BaselineVerdict.FAILED)
    # the rank test alone, with no material threshold, should be wrong about alpha of the time
    bare = BaselinePolicy(max_slowdown_percent=0, max_error_rate_increase_points=100, alpha=POLICY.alpha)
    significant_only = sum(
        1 for seed in range(REPETITIONS) if compare(*healthy_pair(seed), bare, 4).verdict is BaselineVerdict.FAILED
    )
    print(
        f"\nhealthy release, {REPETITIONS} seeded repetitions of 50 vs 50 samples: {false_positives} false "
        f"positives with the policy ({POLICY.max_slowdown_percent:g}% / {POLICY.max_error_rate_increase_points:g} "
        f"points / alpha {POLICY.alpha:g}); {significant_only} on significance alone"
    )
    assert false_positives <= math.ceil(POLICY.alpha * REPETITIONS)
    assert significant_only <= math.ceil(POLICY.alpha * REPETITIONS) + 3  # calibration, with binomial slack


def test_a_sixty_percent_slowdown_under_noise_is_detected() -> None:
    caught = 0
    for seed in range(REPETITIONS):
        base, same = healthy_pair(seed)
        slower = Samples(tuple(v * 1.6 for v in same.latencies_ms), same.outcomes)
        result = compare(slower, base, POLICY, 4)
        caught += result.reason == LATENCY_REGRESSED
    print(f"\n60% slowdown, {REPETITIONS} seeded repetitions of 50 vs 50 samples: {caught} detected")
    # 92% measured: the misses are mostly a noisy p95 of 50 samples landing under the 25% allowance
    assert caught >= 0.85 * REPETITIONS


# -- properties ------------------------------------------------------------------------------

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
latency = st.floats(min_value=0, max_value=60_000, allow_nan=False) | st.sampled_from([0.0, 1.0, 100.0])
anything = st.floats(allow_nan=True, allow_infinity=True)
outcome = st.sampled_from([OK, ERR])


@st.composite
def samples(draw: st.DrawFn, values: st.SearchStrategy[float] = latency, max_size: int = 40) -> Samples:
    pairs = draw(st.lists(st.tuples(values, outcome), max_size=max_size))
    return Samples(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


policies = st.builds(
    BaselinePolicy,
    max_slowdown_percent=st.floats(0, 500),
    max_error_rate_increase_points=st.floats(0, 100),
    percentile=st.sampled_from([50.0, 90.0, 95.0, 99.0, 100.0]) | st.floats(0.1, 100),
    alpha=st.floats(0.0001, 0.1),
    min_samples=st.integers(1, 25),
)


def _consistent(result: Comparison, policy: BaselinePolicy) -> None:
    assert result.message
    if result.reason != INVALID_SAMPLES:  # which names the bad latency, nan included
        assert "nan" not in result.message.lower()
    if result.verdict is BaselineVerdict.FAILED:
        part = result.latency if result.reason == LATENCY_REGRESSED else result.error_rate
        assert result.reason in (LATENCY_REGRESSED, ERROR_RATE_REGRESSED) and part is not None
        assert part.material and part.significant and part.p_value < policy.alpha


@PROPERTY
@given(samples(), samples() | st.none(), policies, st.integers(1, 10**6) | st.none())
def test_compare_never_raises_and_fails_only_when_material_and_significant(
    now: Samples, then: Samples | None, policy: BaselinePolicy, revision: int | None
) -> None:
    _consistent(compare(now, then, policy, revision), policy)


@PROPERTY
@given(samples(anything), samples(anything), policies)
def test_compare_never_raises_for_any_floats(now: Samples, then: Samples, policy: BaselinePolicy) -> None:
    result = compare(now, then, policy, 4)
    assert result.verdict in BaselineVerdict
    _consistent(result, policy)


@PROPERTY
@given(samples(), policies)
def test_a_run_compared_with_itself_never_fails(same: Samples, policy: BaselinePolicy) -> None:
    assert compare(same, same, policy, 4).verdict is not BaselineVerdict.FAILED


@PROPERTY
@given(samples(max_size=60), samples(max_size=60), policies)
def test_a_regression_one_way_is_not_the_same_regression_the_other_way(
    now: Samples, then: Samples, policy: BaselinePolicy
) -> None:
    forward = compare(now, then, policy, 4)
    if forward.verdict is BaselineVerdict.FAILED:
        backward = compare(then, now, policy, 4)
        assert not (backward.verdict is BaselineVerdict.FAILED and backward.reason == forward.reason)


@PROPERTY
@given(st.lists(latency, min_size=1, max_size=40), st.floats(1.5, 10), policies)
def test_slowing_every_request_never_turns_a_failure_into_a_pass(
    values: list[float], factor: float, policy: BaselinePolicy
) -> None:
    base = ok(values)
    slower = compare(ok([v * factor for v in values]), base, policy, 4)
    much_slower = compare(ok([v * factor * 2 for v in values]), base, policy, 4)
    if slower.reason == LATENCY_REGRESSED:
        assert much_slower.reason == LATENCY_REGRESSED
