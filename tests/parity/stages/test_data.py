"""Stage "data": the inputs against the contract (pixels / 255 in [0, 1], 8-bit levels)."""

from __future__ import annotations

import numpy as np
import pytest

from parity.stages.data import check_data
from tests.support.inputs import pixels, synthetic


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pixels_over_255_pass_the_data_checks(rng, dtype):
    X = pixels(64, rng).astype(dtype)
    results = check_data(X, X[:16], dtype)
    assert [c.tensor for c in results] == [
        "X_train [min, max]",
        "X_train * 255 (8-bit levels)",
        "X_test [min, max]",
        "X_test * 255 (8-bit levels)",
    ]
    assert all(c.passed for c in results), [c.message() for c in results]


@pytest.mark.parametrize(
    ("bug", "tensor"),
    [
        (lambda X: np.rint(X * 255) / 256, "X_train * 255 (8-bit levels)"),
        (lambda X: np.rint(X * 255), "X_train [min, max]"),
        (lambda X: X - 0.5, "X_train [min, max]"),
    ],
    ids=["divided-by-256", "unscaled", "centred"],
)
def test_a_wrong_pipeline_fails_the_data_checks(rng, bug, tensor):
    X = pixels(64, rng)
    results = check_data(bug(X), X, "float64")
    failing = [c for c in results if not c.passed]
    assert [c.tensor for c in failing][:1] == [tensor], [c.message() for c in results]
    assert all(c.passed for c in results if c.tensor.startswith("X_test"))


def test_continuous_data_is_held_to_the_range_only(rng):
    """A few continuous values (fewer than 256) are not mistaken for 8-bit pixels."""
    X = synthetic(16, 4, rng)  # 64 distinct values
    results = check_data(X, X, "float64")
    assert [c.tensor for c in results] == ["X_train [min, max]", "X_test [min, max]"]
    assert all(c.passed for c in results)
