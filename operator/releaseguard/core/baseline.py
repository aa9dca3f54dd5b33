"""Baseline comparison (issue 15): a check's samples against those of the last verified revision.

A change fails the check only when it is both material (past the policy's threshold) and
significant (a one-sided test at the policy's alpha). Material alone is what noise does to a
small sample; significant alone is a real but harmless drift (with hundreds of samples a 2%
slowdown is significant). No baseline, too few samples or unusable samples are Inconclusive,
never Failed: the absence of evidence is not a regression, and a rollback needs evidence.

Latency: the policy's percentile of the successful samples, computed with numpy's "linear"
method (Hyndman and Fan type 7, numpy's and R's default), and a one-sided Mann-Whitney U test
(scipy.stats.mannwhitneyu, current "greater" than baseline, method "auto": exact when a side
has at most 8 samples and there are no ties, else the normal approximation with tie correction
and continuity correction). The rank test asks whether the release's latencies tend to be larger;
a regression confined to the slowest few percent can be material without being significant,
which errs on the side of no rollback.

Error rate: errors over all samples, and a one-sided Fisher exact test on the 2x2 table
(scipy.stats.fisher_exact, "greater": the release's odds of an error are higher).

Pure: no I/O, no clock. scipy is imported on first use so that importing the operator stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any, Final

import numpy as np

NO_BASELINE: Final = "NoBaseline"
TOO_FEW_SAMPLES: Final = "TooFewSamples"
INVALID_SAMPLES: Final = "InvalidSamples"
LATENCY_REGRESSED: Final = "LatencyRegressed"
ERROR_RATE_REGRESSED: Final = "ErrorRateRegressed"
CHANGE_NOT_SIGNIFICANT: Final = "ChangeNotSignificant"  # material, but within what noise explains
WITHIN_BASELINE: Final = "WithinBaseline"

PERCENTILE_METHOD: Final = "linear"


class SampleOutcome(StrEnum):
    OK = "ok"  # a response arrived and the check's status assertion held
    ERROR = "error"  # transport error, timeout, or a status the check does not accept


class BaselineVerdict(StrEnum):
    """The same words as the check results (CheckResultKind), so a comparison maps onto one."""

    PASSED = "Passed"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


@dataclass(frozen=True)
class Samples:
    """One run's samples of one check: a latency (ms) and an outcome per request, in order.

    An error's latency is the time until the error; only successful samples count for latency."""

    latencies_ms: tuple[float, ...]
    outcomes: tuple[SampleOutcome, ...]

    @classmethod
    def of(cls, pairs: Iterable[tuple[float, SampleOutcome]]) -> Samples:
        items = list(pairs)
        return cls(tuple(float(ms) for ms, _ in items), tuple(SampleOutcome(o) for _, o in items))

    @property
    def count(self) -> int:
        return len(self.outcomes)

    @property
    def errors(self) -> int:
        return sum(1 for o in self.outcomes if o == SampleOutcome.ERROR)

    def ok_latencies(self) -> tuple[float, ...]:
        return tuple(ms for ms, o in zip(self.latencies_ms, self.outcomes, strict=False) if o == SampleOutcome.OK)

    def problem(self) -> str | None:
        """Why these samples cannot be compared, or None. Samples read back from a record are
        outside input: a bad one makes the comparison Inconclusive instead of raising."""
        if len(self.latencies_ms) != len(self.outcomes):
            return f"{len(self.latencies_ms)} latencies for {len(self.outcomes)} outcomes"
        for index, (ms, outcome) in enumerate(zip(self.latencies_ms, self.outcomes, strict=True)):
            if outcome not in (SampleOutcome.OK, SampleOutcome.ERROR):
                return f"sample {index} has outcome {outcome!r} (expected ok or error)"
            if not isinstance(ms, int | float) or isinstance(ms, bool) or not math.isfinite(ms) or ms < 0:
                return f"sample {index} has latency {ms!r} (expected a finite number of ms >= 0)"
        return None


@dataclass(frozen=True)
class BaselinePolicy:
    """When a change against the baseline fails the check. Thresholds are strict: a change exactly
    at `max_slowdown_percent` or `max_error_rate_increase_points` is not material."""

    max_slowdown_percent: float
    max_error_rate_increase_points: float
    percentile: float = 95.0
    alpha: float = 0.01
    min_samples: int = 20

    def __post_init__(self) -> None:
        # a policy comes from a validated spec: a bad one here is a bug, said at construction
        checks = (
            ("max_slowdown_percent", math.isfinite(self.max_slowdown_percent) and self.max_slowdown_percent >= 0),
            (
                "max_error_rate_increase_points",
                math.isfinite(self.max_error_rate_increase_points) and 0 <= self.max_error_rate_increase_points <= 100,
            ),
            ("percentile", 0 < self.percentile <= 100),
            ("alpha", 0 < self.alpha < 1),
            ("min_samples", isinstance(self.min_samples, int) and self.min_samples >= 1),
        )
        for name, ok in checks:
            if not ok:
                raise ValueError(f"BaselinePolicy.{name}: {getattr(self, name)!r} is out of range")


@dataclass(frozen=True)
class LatencyComparison:
    percentile: float
    current_ms: float
    baseline_ms: float
    change_percent: float | None  # None when the baseline's percentile is 0 ms (no ratio)
    p_value: float  # one-sided Mann-Whitney U, current greater than baseline
    current_count: int  # successful samples compared
    baseline_count: int
    material: bool
    significant: bool


@dataclass(frozen=True)
class ErrorRateComparison:
    current_errors: int
    current_count: int
    baseline_errors: int
    baseline_count: int
    current_percent: float
    baseline_percent: float
    change_points: float
    p_value: float  # one-sided Fisher exact, current's error odds greater than baseline's
    material: bool
    significant: bool


@dataclass(frozen=True)
class Comparison:
    verdict: BaselineVerdict
    reason: str
    message: str
    baseline_revision: int | None
    latency: LatencyComparison | None = None
    error_rate: ErrorRateComparison | None = None

    def to_wire(self) -> dict[str, Any]:
        """The comparison as a run's record would hold it (camelCase, no None)."""
        out: dict[str, Any] = {"verdict": str(self.verdict), "reason": self.reason, "message": self.message}
        if self.baseline_revision is not None:
            out["baselineRevision"] = self.baseline_revision
        if self.latency is not None:
            lat = self.latency
            out["latency"] = {
                "percentile": lat.percentile,
                "currentMs": round(lat.current_ms, 1),
                "baselineMs": round(lat.baseline_ms, 1),
                **({"changePercent": round(lat.change_percent, 1)} if lat.change_percent is not None else {}),
                "pValue": lat.p_value,
                "currentSamples": lat.current_count,
                "baselineSamples": lat.baseline_count,
            }
        if self.error_rate is not None:
            err = self.error_rate
            out["errorRate"] = {
                "currentErrors": err.current_errors,
                "currentSamples": err.current_count,
                "baselineErrors": err.baseline_errors,
                "baselineSamples": err.baseline_count,
                "changePoints": round(err.change_points, 1),
                "pValue": err.p_value,
            }
        return out


def compare(
    current: Samples, baseline: Samples | None, policy: BaselinePolicy, baseline_revision: int | None
) -> Comparison:
    """`current` against `baseline` (the samples of `baseline_revision`, the last verified revision
    of the same check). Never raises for any samples: what cannot be judged is Inconclusive.

    The error rate is judged first: a release that mostly fails has too few successful samples for
    a latency comparison, and that must not hide its errors."""
    where = f"revision {baseline_revision}" if baseline_revision is not None else "the baseline"
    problem = current.problem()
    if problem is not None:
        return _inconclusive(INVALID_SAMPLES, f"this run's samples cannot be compared: {problem}", baseline_revision)
    if baseline is None:
        return _inconclusive(
            NO_BASELINE,
            f"no baseline yet: no verified revision of this check has samples ({current.count} samples now)",
            baseline_revision,
        )
    problem = baseline.problem()
    if problem is not None:
        return _inconclusive(
            INVALID_SAMPLES, f"the samples of {where} cannot be compared: {problem}", baseline_revision
        )
    minimum = policy.min_samples
    if current.count < minimum or baseline.count < minimum:
        return _inconclusive(
            TOO_FEW_SAMPLES,
            f"too few samples: {current.count} vs {baseline.count} in {where} (at least {minimum} on each side)",
            baseline_revision,
        )
    errors = _error_rate(current, baseline, policy)
    error_text = _error_sentence(errors, where)
    if errors.material and errors.significant:
        return Comparison(BaselineVerdict.FAILED, ERROR_RATE_REGRESSED, error_text, baseline_revision, None, errors)
    now_ok, then_ok = current.ok_latencies(), baseline.ok_latencies()
    if len(now_ok) < minimum or len(then_ok) < minimum:
        text = (
            f"too few successful samples for {_label(policy.percentile)}: {len(now_ok)} vs {len(then_ok)} in {where} "
            f"(at least {minimum} on each side); {error_text}"
        )
        return Comparison(BaselineVerdict.INCONCLUSIVE, TOO_FEW_SAMPLES, text, baseline_revision, None, errors)
    latency = _latency(now_ok, then_ok, policy)
    latency_text = _latency_sentence(latency, where)
    if latency.material and latency.significant:
        return Comparison(BaselineVerdict.FAILED, LATENCY_REGRESSED, latency_text, baseline_revision, latency, errors)
    noise = f": not significant at alpha {policy.alpha:g}"
    if latency.material:
        latency_text += noise
    if errors.material:
        error_text += noise
    reason = CHANGE_NOT_SIGNIFICANT if latency.material or errors.material else WITHIN_BASELINE
    message = f"{latency_text}; {error_text}"
    return Comparison(BaselineVerdict.PASSED, reason, message, baseline_revision, latency, errors)


def _inconclusive(reason: str, message: str, revision: int | None) -> Comparison:
    return Comparison(BaselineVerdict.INCONCLUSIVE, reason, message, revision)


def percentile_ms(latencies: Sequence[float], percentile: float) -> float:
    """The `percentile` of `latencies` (not empty) by numpy's "linear" method (type 7)."""
    return float(np.percentile(np.asarray(latencies, dtype=float), percentile, method=PERCENTILE_METHOD))


def _latency(now: Sequence[float], then: Sequence[float], policy: BaselinePolicy) -> LatencyComparison:
    current_ms, baseline_ms = percentile_ms(now, policy.percentile), percentile_ms(then, policy.percentile)
    if baseline_ms > 0:
        change: float | None = (current_ms - baseline_ms) / baseline_ms * 100
        # exact arithmetic, so that a change exactly at the threshold is never material by rounding
        limit = Fraction(baseline_ms) * (1 + Fraction(policy.max_slowdown_percent) / 100)
        material = Fraction(current_ms) > limit
    elif current_ms == 0:
        change, material = 0.0, False
    else:
        change, material = None, True  # any slowdown from 0 ms exceeds every percentage
    p_value = rank_test_greater(now, then)
    return LatencyComparison(
        percentile=policy.percentile,
        current_ms=current_ms,
        baseline_ms=baseline_ms,
        change_percent=change,
        p_value=p_value,
        current_count=len(now),
        baseline_count=len(then),
        material=material,
        significant=p_value < policy.alpha,
    )


def _error_rate(current: Samples, baseline: Samples, policy: BaselinePolicy) -> ErrorRateComparison:
    e_now, n_now, e_then, n_then = current.errors, current.count, baseline.errors, baseline.count
    increase = Fraction(e_now, n_now) - Fraction(e_then, n_then)
    material = increase * 100 > Fraction(policy.max_error_rate_increase_points)
    # no errors on either side: nothing to test, and nothing to fail
    p_value = 1.0 if e_now == 0 and e_then == 0 else proportion_test_greater(e_now, n_now, e_then, n_then)
    return ErrorRateComparison(
        current_errors=e_now,
        current_count=n_now,
        baseline_errors=e_then,
        baseline_count=n_then,
        current_percent=e_now / n_now * 100,
        baseline_percent=e_then / n_then * 100,
        change_points=float(increase * 100),
        p_value=p_value,
        material=material,
        significant=p_value < policy.alpha,
    )


# The two scipy calls, typed here: scipy ships no type information (scipy-stubs is a separate
# project, pinned to scipy releases), so its results are Any until these check them.


def _scipy_stats() -> Any:
    import scipy.stats  # type: ignore[import-untyped]  # no stubs: every result is checked below

    return scipy.stats


def rank_test_greater(current: Sequence[float], baseline: Sequence[float]) -> float:
    """One-sided Mann-Whitney U p-value that `current` tends to be greater than `baseline`.

    All-identical samples give no evidence either way: 1.0, never NaN."""
    if not current or not baseline:
        return 1.0
    result = _scipy_stats().mannwhitneyu(
        list(current), list(baseline), alternative="greater", method="auto", use_continuity=True
    )
    return _probability(result.pvalue)


def proportion_test_greater(errors_now: int, count_now: int, errors_then: int, count_then: int) -> float:
    """One-sided Fisher exact p-value that the error odds of `now` are greater than of `then`."""
    if count_now <= 0 or count_then <= 0:
        return 1.0
    table = [[errors_now, count_now - errors_now], [errors_then, count_then - errors_then]]
    return _probability(_scipy_stats().fisher_exact(table, alternative="greater").pvalue)


def _probability(raw: Any) -> float:
    """A p-value from scipy (a numpy float64) as a float in [0, 1]; NaN (no evidence) is 1."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return 1.0
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else 1.0


def _signed(value: float, digits: int) -> str:
    """`value` with its sign, and no "-0" for a change that rounds to nothing."""
    rounded = round(value, digits) or 0.0  # -0.0 is falsy
    return f"{rounded:+.{digits}f}"


def _label(percentile: float) -> str:
    return f"p{percentile:g}"


def _ms(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _p(value: float) -> str:
    return "p<0.001" if value < 0.001 else f"p={value:.2g}"


def _latency_sentence(lat: LatencyComparison, where: str) -> str:
    """`p95 312 ms vs 180 ms in revision 4 (+73%, p=0.001, 50 vs 50 samples)`"""
    change = f"{_signed(lat.change_percent, 0)}%" if lat.change_percent is not None else "from 0 ms"
    return (
        f"{_label(lat.percentile)} {_ms(lat.current_ms)} ms vs {_ms(lat.baseline_ms)} ms in {where} "
        f"({change}, {_p(lat.p_value)}, {lat.current_count} vs {lat.baseline_count} samples)"
    )


def _error_sentence(err: ErrorRateComparison, where: str) -> str:
    """`error rate 4.0% vs 0.0% in revision 4 (+4.0 points, p=0.003, 50 vs 50 samples)`"""
    return (
        f"error rate {err.current_percent:.1f}% vs {err.baseline_percent:.1f}% in {where} "
        f"({_signed(err.change_points, 1)} points, {_p(err.p_value)}, {err.current_count} vs {err.baseline_count} samples)"
    )
