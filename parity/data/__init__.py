"""MNIST for the judge: where it comes from (always said), loading, the offline sample, subsets.

    from parity import data as mnist
    ds = mnist.load_mnist(dtype="float64")  # Dataset: X (n, 784) in [0, 1], y (n,) int64

The source order is `--data-dir`, `$MLP_PARITY_DATA`, the user cache, a verified download
into that cache; offline, the announced 5,000-digit sample (see sources.py, download.py,
sample.py). Modules: errors, idx (the file format), registry (the four files and their sums),
download, sources, sample, subset, load.
"""

from __future__ import annotations

from parity.data.dataset import Dataset, DataSource, to_float
from parity.data.download import MIRRORS_ENV, configured_mirrors, default_cache_dir, fetch
from parity.data.errors import DataError, DownloadError, SampleWarning
from parity.data.load import load_mnist
from parity.data.registry import MNIST_FILES, FileStatus, verify
from parity.data.sample import load_sample
from parity.data.sources import ENV_VAR, locate, read_split
from parity.data.subset import subset

__all__ = [
    "ENV_VAR",
    "MIRRORS_ENV",
    "MNIST_FILES",
    "DataError",
    "DataSource",
    "Dataset",
    "DownloadError",
    "FileStatus",
    "SampleWarning",
    "configured_mirrors",
    "default_cache_dir",
    "fetch",
    "load_mnist",
    "load_sample",
    "locate",
    "read_split",
    "subset",
    "to_float",
    "verify",
]
