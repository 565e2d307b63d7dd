"""Subsets: first n, stratified and seeded, history kept in the source record."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from parity.data.dataset import Dataset
from parity.data.errors import DataError
from parity.data.load import load_mnist
from parity.data.subset import stratified_counts, subset


@pytest.fixture
def small(tmp_path: Path, fake_mnist: Callable[..., Path]) -> Dataset:
    return load_mnist(fake_mnist(tmp_path / "d", n_train=50, n_test=30))


def test_first_n(small: Dataset) -> None:
    cut = subset(small, 12, 5)
    np.testing.assert_array_equal(cut.X_train, small.X_train[:12])
    np.testing.assert_array_equal(cut.y_test, small.y_test[:5])
    assert cut.source.kind == small.source.kind and cut.source.path == small.source.path
    assert cut.source.subset == "first 12 of 50 train, first 5 of 30 test"


def test_none_keeps_a_split(small: Dataset) -> None:
    cut = subset(small, n_train=10)
    assert (cut.n_train, cut.n_test) == (10, 30)
    assert cut.source.subset == "first 10 of 50 train, all 30 test"


def test_stratified_is_proportional_and_seeded(sample: Dataset) -> None:
    cut = subset(sample, 100, 50, stratified=True, seed=3)
    assert np.bincount(cut.y_train).tolist() == [10] * 10
    assert np.bincount(cut.y_test).tolist() == [5] * 10
    again = subset(sample, 100, 50, stratified=True, seed=3)
    np.testing.assert_array_equal(cut.X_train, again.X_train)
    other = subset(sample, 100, 50, stratified=True, seed=4)
    assert not np.array_equal(cut.X_train, other.X_train)
    assert cut.source.is_sample and cut.source.notice == sample.source.notice
    assert (
        cut.source.subset
        == "stratified (seed 3) 100 of 4,000 train, stratified (seed 3) 50 of 1,000 test"
    )


def test_stratified_counts_by_hand() -> None:
    # Shares 5:3:2 of 10 labels, n = 4: exact 2.0, 1.2, 0.8 -> floors 2, 1, 0 and the one
    # left over goes to the largest remainder (digit 2: 0.8).
    labels = np.array([0] * 5 + [1] * 3 + [2] * 2)
    assert stratified_counts(labels, 4).tolist() == [2, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    # Ties (0.5 each for digits 0 and 1) go to the lower digit.
    assert stratified_counts(np.array([0, 1]), 1).tolist() == [1] + [0] * 9


def test_subset_of_subset_keeps_history(small: Dataset) -> None:
    twice = subset(subset(small, 20), 10, 3, stratified=True, seed=1)
    assert twice.source.subset == (
        "first 20 of 50 train, all 30 test; then stratified (seed 1) 10 of 20 train, "
        "stratified (seed 1) 3 of 30 test"
    )


@pytest.mark.parametrize(
    ("n_train", "n_test", "match"),
    [
        (0, None, "n_train=0"),
        (51, None, "n_train=51"),
        (None, -1, "n_test=-1"),
        (None, 31, "n_test=31"),
    ],
    ids=["train-zero", "train-too-many", "test-negative", "test-too-many"],
)
def test_subset_out_of_range(small: Dataset, n_train, n_test, match: str) -> None:
    with pytest.raises(DataError, match=match):
        subset(small, n_train, n_test)


def test_describe_is_json(small: Dataset) -> None:
    described = subset(small, 10, stratified=True).describe()
    assert json.loads(json.dumps(described)) == described
    assert described["source"]["kind"] == "argument" and described["n_train"] == 10
    assert sum(described["train_label_counts"]) == 10 and described["dtype"] == "float64"
    assert "train=50" in repr(small)


def test_dataset_checks_shapes(small: Dataset) -> None:
    with pytest.raises(ValueError, match="y_train"):
        Dataset(small.X_train, small.y_train[:-1], small.X_test, small.y_test, small.source)
