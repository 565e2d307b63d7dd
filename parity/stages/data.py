"""Stage "data": are the inputs what the spec's data contract says (pixels / 255 in [0, 1])?

Every implementation is fed the same arrays, so no witness can notice a wrong data pipeline
(pixels left as 0..255, divided by 256, the test set scaled differently from the training
set); only the contract can. Two checks per image array:

- range: every value in [0, 1];
- 8-bit levels: when the values look like 8-bit pixels (at most 256 distinct levels, each
  used 4 times on average, as pixels read from IDX or CSV files are), each level times 255
  must be a whole number: the grid of ``pixels / 255``. Continuous data (synthetic inputs,
  anything smoothed) has a level per value and is not held to it.

The level check reads a fixed number of rows (a systematic pipeline error shows on any row),
so it costs the same on full MNIST as on a subset and makes no copy of the whole set.
"""

from __future__ import annotations

import numpy as np

from parity.compare import Comparison, compare
from parity.tolerances import tolerance

Array = np.ndarray
PAIR = ("input", "spec")  # the data as given vs what the spec's contract says it must be
LEVEL_ROWS = 512  # rows read by the 8-bit level check
MAX_LEVELS = 256  # an 8-bit source has at most this many distinct values
MIN_REPEATS = 4  # ...and repeats them: a few continuous values are not mistaken for pixels


def check_data(X_train: Array, X_test: Array, dtype: str) -> list[Comparison]:
    """Range and 8-bit-level comparisons for both image arrays, (n, n_features) each."""
    results = []
    for name, X in (("X_train", X_train), ("X_test", X_test)):
        results.append(_range(name, X, dtype))
        levels = _levels(name, X, dtype)
        if levels is not None:
            results.append(levels)
    return results


def _range(name: str, X: Array, dtype: str) -> Comparison:
    """[min, max] of X against the same clipped to [0, 1]: equal for pixels / 255."""
    bounds = np.array([X.min(initial=0.0), X.max(initial=0.0)], dtype=np.float64)  # (2,)
    return compare(
        bounds,
        np.clip(bounds, 0.0, 1.0),
        stage="data",
        tensor=f"{name} [min, max]",
        dtype=dtype,
        pair=PAIR,
        tol=tolerance("data_range", dtype),
    )


def _levels(name: str, X: Array, dtype: str) -> Comparison | None:
    """``X * 255`` against the nearest whole numbers on the first LEVEL_ROWS rows; None when
    those rows do not look like 8-bit data."""
    rows = np.asarray(X[:LEVEL_ROWS], dtype=np.float64)  # (<= LEVEL_ROWS, n_features)
    n_levels = np.unique(rows).size
    if n_levels == 0 or n_levels > MAX_LEVELS or n_levels * MIN_REPEATS > rows.size:
        return None
    scaled = rows * 255.0
    return compare(
        scaled,
        np.rint(scaled),
        stage="data",
        tensor=f"{name} * 255 (8-bit levels)",
        dtype=dtype,
        pair=PAIR,
        tol=tolerance("data_levels", dtype),
    )
