"""Confidence intervals for the claims a notebook makes, built on `scipy.stats`.

Introduced in notebook 00 ("how we evaluate"). A claim "A beats B" rests on the paired interval
of A − B over the same seeds: it holds when the interval's lower end is above zero. An
ordering whose interval covers zero is a tie at this number of runs.

- `paired_interval(a, b)`: the mean of a − b over paired runs, with a Student t interval
  (`scipy.stats.ttest_rel`; it assumes the differences are roughly normal, the usual reading for
  a handful of seeds, where a bootstrap would be unreliable).
- `mean_interval(values)`: the mean of one quantity over runs, with a t interval
  (`scipy.stats.ttest_1samp`).
- `accuracy_interval(correct)`: the mean of 0/1 outcomes (an accuracy over test images), with
  Wilson's score interval (`scipy.stats.binomtest(...).proportion_ci`).
- `interval_table(frame, by, values)`: `mean [low, high]` of each value column per group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["Interval", "paired_interval", "mean_interval", "accuracy_interval", "interval_table"]


@dataclass(frozen=True)
class Interval:
    """A mean with its confidence interval over `n` runs (or outcomes)."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95
    signed: bool = False  # a difference prints with its sign: +0.043 [+0.012, +0.071]

    def covers(self, value: float = 0.0) -> bool:
        """Whether `value` lies inside the interval (for a difference: a tie with `value`)."""
        return self.low <= value <= self.high

    def __str__(self) -> str:
        spec = "+.3f" if self.signed else ".3f"
        return f"{self.mean:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"


def paired_interval(a, b, confidence: float = 0.95) -> Interval:
    """Mean of `a - b` over paired runs (same seeds, same draws) with a paired t interval."""
    a, b = _values(a, "a"), _values(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must be paired: {len(a)} values against {len(b)}")
    return _t_interval(a - b, confidence, signed=True)


def mean_interval(values, confidence: float = 0.95) -> Interval:
    """Mean of `values` (one quantity over several runs) with a t interval."""
    return _t_interval(_values(values, "values"), confidence, signed=False)


def accuracy_interval(correct, confidence: float = 0.95) -> Interval:
    """Mean of 0/1 outcomes (e.g. which test images were right) with Wilson's score interval."""
    _check_confidence(confidence)
    outcomes = np.asarray(correct)
    if outcomes.ndim != 1 or outcomes.size == 0:
        raise ValueError(f"correct must be a non-empty 1-D array, got shape {outcomes.shape}")
    if outcomes.dtype != bool:
        as_float = outcomes.astype(float)
        if np.isnan(as_float).any():
            raise ValueError("correct contains NaN")
        if not np.isin(as_float, (0.0, 1.0)).all():
            raise ValueError("correct must hold only 0/1 (or True/False) outcomes")
    k, n = int(outcomes.astype(bool).sum()), int(outcomes.size)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return Interval(k / n, float(ci.low), float(ci.high), n, confidence)


def interval_table(frame: pd.DataFrame, by, values, confidence: float = 0.95) -> pd.DataFrame:
    """`mean [low, high]` (t interval over the rows of each group) of each column in `values`,
    one row per group of `by`, plus the number of runs `n`."""
    values = [values] if isinstance(values, str) else list(values)
    missing = [c for c in [*np.atleast_1d(by), *values] if c not in frame.columns]
    if missing:
        raise KeyError(f"frame has no column(s) {missing}")
    groups = frame.groupby(by, sort=False)
    table = groups[values].agg(lambda s: str(mean_interval(s.to_numpy(), confidence)))
    table["n"] = groups.size()
    return table


def _t_interval(x: np.ndarray, confidence: float, signed: bool) -> Interval:
    _check_confidence(confidence)
    if len(x) < 2:
        raise ValueError(f"an interval needs at least 2 runs, got {len(x)}")
    mean = float(x.mean())
    if np.all(x == x[0]):  # no spread: scipy's t statistic is undefined, the interval is a point
        return Interval(mean, mean, mean, len(x), confidence, signed)
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(confidence_level=confidence)
    return Interval(mean, float(ci.low), float(ci.high), len(x), confidence, signed)


def _values(values, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {x.shape}")
    if np.isnan(x).any():
        raise ValueError(f"{name} contains NaN")
    return x


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
