"""Smaller datasets: the first `n` of each split, or a stratified, seeded `n`; history kept."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from parity.data.dataset import N_CLASSES, Dataset
from parity.data.errors import DataError

__all__ = ["stratified_counts", "subset"]


def subset(
    ds: Dataset,
    n_train: int | None = None,
    n_test: int | None = None,
    *,
    stratified: bool = False,
    seed: int = 0,
) -> Dataset:
    """The first `n` (or a stratified, seeded `n`) of each split; None keeps a split whole.

    Stratified: per digit, proportional to its share (largest remainder, ties to the lower
    digit), drawn at random with `seed`, kept in the original order. The source record is kept
    and its `subset` says what was taken.
    """
    rng_train, rng_test = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    rows_train = _pick(ds.y_train, n_train, stratified, rng_train, "train")
    rows_test = _pick(ds.y_test, n_test, stratified, rng_test, "test")
    how = f"stratified (seed {seed})" if stratified else "first"
    parts = [
        f"{how} {rows.size:,} of {y.size:,} {split}"
        if rows is not None
        else f"all {y.size:,} {split}"
        for rows, y, split in ((rows_train, ds.y_train, "train"), (rows_test, ds.y_test, "test"))
    ]
    described = ", ".join(parts)
    if ds.source.subset:
        described = f"{ds.source.subset}; then {described}"
    X_train, y_train = _take(ds.X_train, ds.y_train, rows_train)
    X_test, y_test = _take(ds.X_test, ds.y_test, rows_test)
    return Dataset(X_train, y_train, X_test, y_test, replace(ds.source, subset=described))


def stratified_counts(labels: np.ndarray, n: int) -> np.ndarray:
    """How many of each digit a stratified `n` takes: (10,) ints summing to `n`."""
    counts = np.bincount(labels, minlength=N_CLASSES)
    base, remainder = np.divmod(n * counts, labels.size)
    short = n - int(base.sum())
    # Stable sort of -remainder: the largest remainders first, ties to the lower digit.
    base[np.argsort(-remainder, kind="stable")[:short]] += 1
    return base


def _pick(
    labels: np.ndarray, n: int | None, stratified: bool, rng: np.random.Generator, split: str
) -> np.ndarray | None:
    if n is None:
        return None
    if not 1 <= n <= labels.size:
        raise DataError(
            f"n_{split}={n} is out of range: the {split} split has {labels.size:,} digits; "
            f"choose 1..{labels.size:,}"
        )
    if not stratified:
        return np.arange(n)
    chosen = [
        rng.permutation(np.flatnonzero(labels == digit))[:count]
        for digit, count in enumerate(stratified_counts(labels, n))
    ]
    return np.sort(np.concatenate(chosen))


def _take(X: np.ndarray, y: np.ndarray, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    return (X, y) if rows is None else (X[rows], y[rows])
