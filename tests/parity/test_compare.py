"""The one comparison helper every verdict goes through: its pass rule, its failures, its
messages, and the near-tie rule of the predictions stage."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from parity.compare import (
    assert_close,
    compare,
    compare_params,
    compare_predictions,
)
from parity.tolerances import Tolerance

ABS = Tolerance(1e-12, 0, "absolute, for the test")
REL = Tolerance(0, 1e-3, "relative, for the test")
BOTH = Tolerance(1e-12, 1e-3, "both, for the test")


def _compare(actual, expected, tol=ABS, **kw):
    return compare(actual, expected, stage="step", tensor="W1", dtype="float64", tol=tol, **kw)


# --------------------------------------------------------------------------- the pass rule


@pytest.mark.parametrize(
    ("tol", "scale", "diff", "passes"),
    [
        (ABS, 5.0, 1e-12, True),  # exactly at the bound: <=
        (ABS, 5.0, 1.5e-12, False),
        (REL, 5.0, 5e-3, True),  # rtol x max|expected|
        (REL, 5.0, 5.1e-3, False),
        (BOTH, 5.0, 1e-12 + 5e-3, True),  # the two add up
        (BOTH, 5.0, 2e-12 + 5e-3, False),
    ],
    ids=["abs-at-bound", "abs-over", "rel-at-bound", "rel-over", "both-at-bound", "both-over"],
)
def test_pass_rule_is_atol_plus_rtol_times_scale(tol, scale, diff, passes):
    expected = np.array([scale, 0.0, -2.0])
    actual = expected.copy()
    actual[1] = diff  # exact: no rounding in the difference
    result = _compare(actual, expected, tol=tol)
    assert result.scale == scale
    assert result.bound == pytest.approx(tol.atol + tol.rtol * scale, rel=1e-15)
    assert result.passed is passes, result.message()


def test_a_given_scale_is_what_rtol_is_relative_to_but_never_less_than_the_values():
    expected = np.array([1e-6, -2e-6])  # a gradient that cancels: its terms are far larger
    actual = expected + 1e-8
    assert not _compare(actual, expected, tol=REL).passed  # 1e-8 > 1e-3 * 2e-6
    assert _compare(actual, expected, tol=REL, scale=1e-4).passed  # 1e-8 <= 1e-3 * 1e-4
    low = _compare(actual, expected, tol=REL, scale=1e-9)  # below max|expected|: raised to it
    assert low.scale == 2e-6 and not low.passed


def test_zero_scale_leaves_only_atol():
    zeros = np.zeros(4)
    assert _compare(zeros, zeros, tol=REL).passed  # 0 <= 0
    tiny = _compare(zeros + 1e-300, zeros, tol=REL)
    assert not tiny.passed and math.isinf(tiny.max_rel) and tiny.bound == 0
    assert "rel n/a" in tiny.message()
    assert _compare(zeros + 1e-13, zeros, tol=ABS).passed


def test_empty_arrays_agree():
    result = _compare(np.empty((0, 3)), np.empty((0, 3)))
    assert result.passed and result.max_abs == 0 and result.size == 0 and result.index == ()
    assert "mismatched elements: 0 / 0 (0.0%)" in result.message()


# --------------------------------------------------------------------------- failures outright


@pytest.mark.parametrize(
    ("actual", "expected", "problem"),
    [
        (np.zeros((2, 3)), np.zeros((3, 2)), "shape (2, 3) vs (3, 2)"),
        (np.zeros(3), np.zeros((3, 1)), "shape (3,) vs (3, 1)"),
        ([0.0, np.nan, 1.0], [0.0, 0.0, 1.0], "actual is not finite at [1]: nan"),
        ([0.0, 0.0, 1.0], [0.0, 0.0, np.inf], "expected is not finite at [2]: inf"),
        ([[0.0, -np.inf]], [[0.0, 1.0]], "actual is not finite at [0, 1]: -inf"),
    ],
    ids=["shape", "rank", "nan-actual", "inf-expected", "neg-inf-2d"],
)
def test_what_cannot_be_compared_fails_with_the_problem(actual, expected, problem):
    result = _compare(actual, expected)
    assert not result.passed and result.problem == problem
    assert result.message() == f"step actual vs expected W1: {problem}"
    assert math.isinf(result.max_abs)


def test_a_missing_key_fails_naming_it_and_what_there_is():
    ours = {"W1": np.ones(2), "b1": np.ones(1)}
    theirs = {"W1": np.ones(2)}
    (w, b) = compare_params(theirs, ours, stage="gradients", dtype="float64", pair=("t", "n"))
    assert w.passed
    assert not b.passed and b.problem == "t has no 'b1' (keys ['W1'])"


def test_per_key_scales_reach_each_key():
    expected = {"W1": np.array([1e-6]), "b1": np.array([1e-6])}
    actual = {k: v + 1e-8 for k, v in expected.items()}
    w, b = compare_params(
        actual, expected, stage="gradients", dtype="float64", tol=REL, scales={"W1": 1.0}
    )
    assert w.passed and w.scale == 1.0
    assert not b.passed and b.scale == 1e-6


# --------------------------------------------------------------------------- the message


def test_the_message_names_stage_pair_tensor_both_values_count_and_tolerance():
    expected = np.arange(10.0).reshape(2, 5)
    actual = expected.copy()
    actual[0, 1] += 3e-12
    actual[1, 3] += 4e-12
    actual[1, 4] += 2e-12
    result = compare(
        actual,
        expected,
        stage="train_params",
        tensor="W2",
        dtype="float64",
        pair=("torch", "numpy"),
        tol=Tolerance(1e-12, 1e-14, "test"),
    )
    message = result.message()
    assert result.mismatched == 3 and result.size == 10
    assert message.startswith("train_params torch vs numpy W2: MISMATCH max|diff| 4.0")
    assert "at [1, 3]: torch 8.000000000004 vs numpy 8.0" in message
    assert "mismatched elements: 3 / 10 (30.0%)" in message
    assert re.search(r"tolerance atol 1e-12 \+ rtol 1e-14 x 9 = 1\.1e-12 \[float64\]$", message)


def test_assert_close_raises_the_message():
    with pytest.raises(AssertionError, match=r"^step actual vs expected W1: MISMATCH"):
        assert_close([1.0, 2.0], [1.0, 2.1], stage="step", tensor="W1", dtype="float64", tol=ABS)
    ok = assert_close([1.0], [1.0], stage="step", tensor="W1", dtype="float64", tol=ABS)
    assert ok.passed and "ok max|diff| 0.000e+00" in ok.message()


# --------------------------------------------------------------------------- predictions


def _probs(*rows):
    return np.array(rows, dtype=np.float64)


def test_identical_predictions_pass():
    p = _probs([0.7, 0.2, 0.1], [0.1, 0.1, 0.8])
    result = compare_predictions(p, p.copy(), ("torch", "numpy"), "float64")
    assert result.passed and result.mismatched == 0
    assert "0 of 2 test predictions differ (0 near-ties" in result.message()


def test_a_near_tie_may_flip():
    """Top two within 2 * max|dprob| of the agreeing rows in both: rounding may decide."""
    a = _probs([0.5 + 1e-15, 0.5 - 1e-15, 0.0], [0.9, 0.05, 0.05])
    b = _probs([0.5 - 1e-15, 0.5 + 1e-15, 0.0], [0.9 - 3e-15, 0.05 + 3e-15, 0.05])
    result = compare_predictions(a, b, ("torch", "numpy"), "float64")
    assert result.passed, result.message()
    assert "0 of 2 test predictions differ (1 near-ties" in result.message()
    assert "first at test[0]: torch 0 vs numpy 1" in result.message()


def test_a_near_tie_needs_the_agreeing_rows_to_differ_that_much():
    a = _probs([0.5 + 1e-15, 0.5 - 1e-15, 0.0], [0.9, 0.05, 0.05])
    b = _probs([0.5 - 1e-15, 0.5 + 1e-15, 0.0], [0.9, 0.05, 0.05])  # the rest: identical
    result = compare_predictions(a, b, ("torch", "numpy"), "float64")
    assert not result.passed and result.mismatched == 1, result.message()


def test_a_real_flip_does_not_excuse_itself():
    """Its own large difference does not widen the near-tie band."""
    a = _probs([0.5 + 1e-15, 0.5 - 1e-15, 0.0], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1])
    b = _probs([0.5 - 1e-15, 0.5 + 1e-15, 0.0], [0.3, 0.6, 0.1], [0.2 + 3e-15, 0.7, 0.1])
    result = compare_predictions(a, b, ("torch", "numpy"), "float64")
    assert not result.passed and result.mismatched == 1
    assert "MISMATCH 1 of 3 test predictions differ (1 near-ties" in result.message()
    assert "first at test[1]: torch 0 vs numpy 1" in result.message()
