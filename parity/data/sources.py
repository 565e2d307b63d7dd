"""Where the full MNIST comes from (`locate`, always said) and reading its four files.

First match wins:

1. `data_dir` (the command line's `--data-dir`): kind "argument";
2. the environment variable `MLP_PARITY_DATA`: kind "environment";
3. the user cache folder (`default_cache_dir`), when it holds all four files: kind "cache";
4. otherwise a verified download into that cache folder: kind "download" (parity/data/load.py).

A folder named by 1 or 2 that lacks files is an error, never a fallback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from parity.data.dataset import Dataset, DataSource, Kind, to_float
from parity.data.download import default_cache_dir
from parity.data.errors import DataError
from parity.data.idx import FIX_HINT, read_images, read_labels
from parity.data.registry import MNIST_BYTES, MNIST_FILES

__all__ = ["ENV_VAR", "find_file", "locate", "missing_files", "read_dir", "read_split"]

ENV_VAR = "MLP_PARITY_DATA"
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def find_file(directory: Path, name: str) -> Path | None:
    """`name` in `directory`, or its uncompressed twin (name without .gz); None if neither."""
    for candidate in (directory / name, directory / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def missing_files(directory: Path) -> list[str]:
    """The MNIST file names that `directory` lacks (in canonical order)."""
    return [name for name in MNIST_FILES if find_file(directory, name) is None]


def locate(
    data_dir: str | Path | None = None, *, cache_dir: str | Path | None = None
) -> DataSource:
    """Where `load_mnist` would take the full MNIST from, without downloading anything.

    Kind "download" means: not in the cache yet; `load_mnist` would fetch it into `path`.
    """
    if data_dir is not None:
        return _named_dir(
            Path(data_dir).expanduser(), "argument", "the data_dir argument / --data-dir"
        )
    from_env = os.environ.get(ENV_VAR, "")
    if from_env:
        return _named_dir(Path(from_env).expanduser(), "environment", f"${ENV_VAR}")
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if not missing_files(cache):
        return DataSource("cache", str(cache))
    return DataSource(
        "download",
        str(cache),
        notice=(
            f"the full MNIST is not in the cache {cache} yet: it will be downloaded there "
            f"(about {MNIST_BYTES / 1e6:.1f} MB, each file checked against its SHA-256)"
        ),
    )


def _named_dir(directory: Path, kind: Kind, origin: str) -> DataSource:
    if not directory.is_dir():
        raise DataError(
            f"data directory {directory} (from {origin}) does not exist or is not a folder; "
            f"point it at a folder holding {', '.join(MNIST_FILES)}"
        )
    missing = missing_files(directory)
    if missing:
        raise DataError(
            f"data directory {directory} (from {origin}) lacks {len(missing)} of the 4 MNIST "
            f"files: {', '.join(missing)}; copy them there (gzipped or not), or leave "
            f"{origin} unset to use the cache (`mlp-parity data --fetch` fills it)"
        )
    return DataSource(kind, str(directory))


def read_split(
    directory: Path, split: str, dtype: Any = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """One split's images (n, 784) float in [0, 1] and labels (n,) int64 from `directory`."""
    images_name, labels_name = SPLIT_FILES[split]
    images_path = find_file(directory, images_name) or directory / images_name
    labels_path = find_file(directory, labels_name) or directory / labels_name
    labels = read_labels(labels_path)
    images = read_images(images_path)
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path} has {images.shape[0]:,} images but {labels_path} has "
            f"{labels.shape[0]:,} labels: the two files do not belong together; {FIX_HINT}"
        )
    return to_float(images, dtype), labels.astype(np.int64)


def read_dir(directory: Path, source: DataSource, dtype: Any = np.float64) -> Dataset:
    """The full train and test splits from the four files in `directory`."""
    X_train, y_train = read_split(directory, "train", dtype)
    X_test, y_test = read_split(directory, "test", dtype)
    return Dataset(X_train, y_train, X_test, y_test, source)
