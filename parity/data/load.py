"""`load_mnist`: the source order end to end, from `--data-dir` down to the announced sample.

Images are `pixels / 255` as float64 or float32, shape (n, 784); labels int64 in 0..9.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from parity.data.dataset import Dataset, DataSource, float_dtype
from parity.data.download import DEFAULT_RETRIES, DEFAULT_TIMEOUT, fetch
from parity.data.errors import DownloadError
from parity.data.sample import fallback, load_sample
from parity.data.sources import locate, read_dir

__all__ = ["load_mnist"]


def load_mnist(
    data_dir: str | Path | None = None,
    *,
    dtype: Any = "float64",
    sample: bool = False,
    download: bool = True,
    cache_dir: str | Path | None = None,
    mirrors: Sequence[str] | None = None,
    progress: bool | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> Dataset:
    """MNIST from the first source of `locate`, downloading into the cache if needed.

    Falls back to the sample (with notice and SampleWarning) only when the full set cannot be
    downloaded or `download=False`; `sample=True` asks for the sample directly.
    Returns X (n, 784) in `dtype`, y (n,) int64; train 60,000 / test 10,000 for the full set.
    """
    dtype = float_dtype(dtype)
    if sample:
        return load_sample(dtype, reason="the sample was asked for explicitly")
    source = locate(data_dir, cache_dir=cache_dir)
    if source.kind == "download":
        cache = Path(source.path)
        if not download:
            return fallback(
                dtype, f"the full MNIST is not in the cache {cache} and downloading is off"
            )
        try:
            fetch(cache, mirrors=mirrors, timeout=timeout, retries=retries, progress=progress)
        except DownloadError as err:
            return fallback(dtype, f"downloading the full MNIST failed ({err})")
        notice = f"downloaded the full MNIST into {cache} (all 4 files SHA-256 verified)"
        source = DataSource("download", str(cache), notice=notice)
    return read_dir(Path(source.path), source, dtype)
