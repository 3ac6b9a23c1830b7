import numpy as np
import pandas as pd
import pytest
from scipy import stats

from zsl_utils.stats import (
    Interval,
    accuracy_interval,
    interval_table,
    mean_interval,
    paired_interval,
)

A = [0.61, 0.58, 0.66, 0.63, 0.60]
B = [0.55, 0.57, 0.59, 0.60, 0.52]


def test_paired_interval_is_scipys_paired_t_interval():
    got = paired_interval(A, B, confidence=0.9)
    ci = stats.ttest_rel(A, B).confidence_interval(confidence_level=0.9)
    assert got.mean == pytest.approx(np.mean(np.subtract(A, B)))
    assert (got.low, got.high) == pytest.approx((ci.low, ci.high))
    assert got.n == 5 and got.confidence == 0.9


def test_pairing_matters():
    """Shifting every run of B by the same amount moves the mean, not the width."""
    shifted = paired_interval(A, np.add(B, 0.1))
    plain = paired_interval(A, B)
    assert shifted.high - shifted.low == pytest.approx(plain.high - plain.low)
    assert shifted.mean == pytest.approx(plain.mean - 0.1)


def test_mean_interval_is_scipys_one_sample_t_interval():
    got = mean_interval(A)
    ci = stats.ttest_1samp(A, 0).confidence_interval()
    assert (got.mean, got.low, got.high) == pytest.approx((np.mean(A), ci.low, ci.high))


def test_no_spread_gives_a_point_interval():
    got = paired_interval([0.5, 0.6], [0.4, 0.5])
    assert (got.low, got.mean, got.high) == pytest.approx((0.1, 0.1, 0.1))


def test_accuracy_interval_is_wilsons():
    correct = np.array([1] * 40 + [0] * 10)
    got = accuracy_interval(correct)
    ci = stats.binomtest(40, 50).proportion_ci(method="wilson")
    assert (got.mean, got.low, got.high, got.n) == pytest.approx((0.8, ci.low, ci.high, 50))
    assert accuracy_interval(correct.astype(bool)) == got


def test_printing():
    assert str(Interval(0.0431, 0.0121, 0.0712, 5, signed=True)) == "+0.043 [+0.012, +0.071]"
    assert str(Interval(0.5, -0.01, 0.7, 5, signed=True)) == "+0.500 [-0.010, +0.700]"
    assert str(Interval(0.8, 0.67, 0.89, 50)) == "0.800 [0.670, 0.890]"


def test_covers():
    gain = Interval(0.02, -0.01, 0.05, 5, signed=True)
    assert gain.covers(0) and not gain.covers(0.06)


def test_interval_table():
    frame = pd.DataFrame({"method": ["a"] * 3 + ["b"] * 3, "acc": [0.5, 0.6, 0.7, 0.2, 0.2, 0.2]})
    table = interval_table(frame, "method", "acc")
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "acc"] == str(mean_interval([0.5, 0.6, 0.7]))
    assert table.loc["b", "acc"] == "0.200 [0.200, 0.200]"
    assert list(table["n"]) == [3, 3]
    with pytest.raises(KeyError, match="no column"):
        interval_table(frame, "method", "missing")


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ([0.1, 0.2, 0.3], [0.1, 0.2], "paired"),
        ([0.1], [0.2], "at least 2"),
        ([0.1, np.nan], [0.2, 0.3], "NaN"),
        ([[0.1, 0.2]], [[0.2, 0.3]], "1-D"),
    ],
)
def test_paired_interval_rejects_bad_input(a, b, message):
    with pytest.raises(ValueError, match=message):
        paired_interval(a, b)


@pytest.mark.parametrize(
    ("correct", "message"),
    [([], "non-empty"), ([1, 0, 2], "0/1"), ([1.0, np.nan], "NaN"), ([[1, 0]], "1-D")],
)
def test_accuracy_interval_rejects_bad_input(correct, message):
    with pytest.raises(ValueError, match=message):
        accuracy_interval(correct)


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.2])
def test_confidence_must_be_a_probability(confidence):
    with pytest.raises(ValueError, match="confidence"):
        mean_interval(A, confidence=confidence)
