"""A prometheus check's values against those of the last verified revision (issue 15).

The rule of core.baseline, for a metric instead of latencies: where both sides have several
samples (the series of an instant vector, or the repeated measurements of `count`), a change fails
only when it is material (the medians differ by more than `maxIncrease` or `maxIncreasePercent`)
and significant (core.baseline's one-sided Mann-Whitney U test, current greater than baseline, at
`alpha`). Where a side has a single number, there is nothing to test: the difference alone
decides. Higher is worse. No baseline or no data is Inconclusive, never Failed.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .. import reasons
from .baseline import (
    CHANGE_NOT_SIGNIFICANT,
    NO_BASELINE,
    TOO_FEW_SAMPLES,
    WITHIN_BASELINE,
    BaselineVerdict,
    percentile_ms,
    rank_test_greater,
)


@dataclass(frozen=True)
class MetricPolicy:
    """The tolerated increase: a change beyond either limit that is set is material (strictly)."""

    max_increase: float | None = None
    max_increase_percent: float | None = None
    alpha: float = 0.01

    def __post_init__(self) -> None:
        limits = [v for v in (self.max_increase, self.max_increase_percent) if v is not None]
        if not limits or any(not math.isfinite(v) or v < 0 for v in limits) or not 0 < self.alpha < 1:
            raise ValueError(f"MetricPolicy out of range: {self!r}")


@dataclass(frozen=True)
class MetricComparison:
    verdict: BaselineVerdict
    reason: str
    message: str
    baseline_revision: int | None
    current: float | None = None  # the value now (the median of several)
    baseline: float | None = None
    change: float | None = None  # current - baseline
    p_value: float | None = None  # only when both sides have several samples
    current_count: int = 0
    baseline_count: int = 0
    material: bool = False
    significant: bool = False


def median(values: Sequence[float]) -> float:
    return percentile_ms(values, 50.0)


def material(current: float, baseline: float, policy: MetricPolicy) -> bool:
    """Whether `current` exceeds `baseline` by more than a limit (exact arithmetic: a change exactly
    at a limit is not material)."""
    now, then = Fraction(current), Fraction(baseline)
    if policy.max_increase is not None and now - then > Fraction(policy.max_increase):
        return True
    if policy.max_increase_percent is not None:
        if then == 0:
            return now > 0  # any increase from 0 exceeds every percentage
        return (now - then) / abs(then) * 100 > Fraction(policy.max_increase_percent)
    return False


def compare_values(
    current: Sequence[float],
    baseline: Sequence[float] | None,
    policy: MetricPolicy,
    baseline_revision: int | None,
    label: str,
) -> MetricComparison:
    """`current` (this revision's values) against `baseline` (the last verified revision's, None
    when there is none). Never raises for any values: non-finite ones are left out."""
    where = f"revision {baseline_revision}" if baseline_revision is not None else "the baseline"
    now = [float(v) for v in current if math.isfinite(v)]
    if baseline is None:
        return MetricComparison(
            BaselineVerdict.INCONCLUSIVE,
            NO_BASELINE,
            f"no baseline yet: no verified revision of the Deployment to compare {label} with",
            baseline_revision,
        )
    then = [float(v) for v in baseline if math.isfinite(v)]
    if not now or not then:
        side = "this revision" if not now else where
        return MetricComparison(
            BaselineVerdict.INCONCLUSIVE,
            TOO_FEW_SAMPLES,
            f"{label}: no value for {side} to compare ({len(now)} vs {len(then)} samples in {where})",
            baseline_revision,
            current_count=len(now),
            baseline_count=len(then),
        )
    several = len(now) > 1 and len(then) > 1
    value_now, value_then = (median(now), median(then)) if len(now) > 1 or len(then) > 1 else (now[0], then[0])
    change = value_now - value_then
    is_material = material(value_now, value_then, policy)
    p_value = rank_test_greater(now, then) if several else None
    significant = p_value is not None and p_value < policy.alpha
    word = "median " if len(now) > 1 or len(then) > 1 else ""
    shown_percent = _percent(value_now, value_then) if policy.max_increase_percent is not None else ""
    detail = f"{_signed(change)}{shown_percent}, limit {_limit(policy)}"
    if several:
        assert p_value is not None
        detail += f"; {_p(p_value)}, {len(now)} vs {len(then)} samples"
    elif len(now) > 1 or len(then) > 1:
        detail += f"; {len(now)} vs {len(then)} samples, no test with a single one"
    text = f"{label} {word}{_show(value_now)} vs {_show(value_then)} in {where} ({detail})"
    if is_material and (significant or not several):
        verdict, reason = BaselineVerdict.FAILED, reasons.METRIC_REGRESSED
    elif is_material:
        verdict, reason = BaselineVerdict.PASSED, CHANGE_NOT_SIGNIFICANT
        text += f": not significant at alpha {policy.alpha:g}"
    else:
        verdict, reason = BaselineVerdict.PASSED, WITHIN_BASELINE
    return MetricComparison(
        verdict,
        reason,
        text,
        baseline_revision,
        current=value_now,
        baseline=value_then,
        change=change,
        p_value=p_value,
        current_count=len(now),
        baseline_count=len(then),
        material=is_material,
        significant=significant,
    )


def _show(value: float) -> str:
    return f"{value:.3g}"


def _signed(value: float) -> str:
    return f"{value:+.3g}" if value else "+0"


def _percent(now: float, then: float) -> str:
    if then == 0:
        return " (from 0)" if now != 0 else ""
    return f" ({(now - then) / abs(then) * 100:+.0f}%)"


def _limit(policy: MetricPolicy) -> str:
    parts = []
    if policy.max_increase is not None:
        parts.append(f"+{policy.max_increase:g}")
    if policy.max_increase_percent is not None:
        parts.append(f"+{policy.max_increase_percent:g}%")
    return " and ".join(parts)


def _p(value: float) -> str:
    return "p<0.001" if value < 0.001 else f"p={value:.2g}"
