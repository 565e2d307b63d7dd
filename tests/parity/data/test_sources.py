"""Where the data comes from, reading the four files, scaling, verify, and the full MNIST."""

from __future__ import annotations

import json
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from parity.data.dataset import DataSource, to_float
from parity.data.download import default_cache_dir
from parity.data.errors import DataError
from parity.data.idx import write_idx
from parity.data.load import load_mnist
from parity.data.registry import MNIST_FILES, verify
from parity.data.sources import ENV_VAR, locate, read_split
from parity.data.subset import subset

FakeMnist = Callable[..., Path]  # the fake_mnist fixture (conftest.py)

# Per-digit label counts of the full MNIST (../shared/datasets/mnist/README.md).
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


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
def test_no_extra_full_size_copy(tmp_path: Path, fake_mnist: FakeMnist, dtype: str) -> None:
    n = 3000
    fake_mnist(tmp_path / "d", n_train=n, n_test=10)
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


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_CACHE_HOME is the Linux convention")
@pytest.mark.parametrize(
    "xdg", ["absolute", "unset", "relative"], ids=["absolute", "unset", "relative"]
)
def test_default_cache_dir_follows_xdg(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, xdg: str
) -> None:
    """$XDG_CACHE_HOME when absolute (the XDG spec ignores a relative one), else ~/.cache."""
    if xdg == "unset":
        monkeypatch.delenv("XDG_CACHE_HOME")
    elif xdg == "relative":
        monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    base = isolated_env / ("xdg-cache" if xdg == "absolute" else "home/.cache")
    assert default_cache_dir() == base / "mlp-parity" / "mnist"


def test_locate_order(tmp_path: Path, fake_mnist: FakeMnist, monkeypatch) -> None:
    arg, env, cache = (fake_mnist(tmp_path / name) for name in ("arg", "env", "cache"))
    monkeypatch.setenv(ENV_VAR, str(env))
    assert locate(arg, cache_dir=cache) == DataSource("argument", str(arg))
    assert locate(cache_dir=cache) == DataSource("environment", str(env))
    monkeypatch.delenv(ENV_VAR)
    assert locate(cache_dir=cache) == DataSource("cache", str(cache))
    empty = locate(cache_dir=tmp_path / "empty")
    assert (empty.kind, empty.path, empty.is_sample) == ("download", str(tmp_path / "empty"), False)
    assert empty.notice is not None and "will be downloaded" in empty.notice


def test_locate_default_cache(isolated_env: Path, fake_mnist: FakeMnist) -> None:
    cache = fake_mnist(isolated_env / "xdg-cache" / "mlp-parity" / "mnist")
    assert locate() == DataSource("cache", str(cache))


@pytest.mark.parametrize("how", ["argument", "environment"], ids=["argument", "environment"])
def test_named_dir_with_some_files_is_an_error(
    tmp_path: Path, fake_mnist: FakeMnist, monkeypatch, how: str
) -> None:
    folder = fake_mnist(tmp_path / "partial")
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    fake_mnist(tmp_path / "cache")  # a complete cache must NOT be used instead
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
def test_load_from_dir(tmp_path: Path, fake_mnist: FakeMnist, dtype: str, compress: bool) -> None:
    folder = fake_mnist(tmp_path / "d", n_train=30, n_test=20, compress=compress)
    ds = load_mnist(folder, dtype=dtype, cache_dir=tmp_path / "cache")
    assert (ds.X_train.shape, ds.X_test.shape) == ((30, 784), (20, 784))
    assert ds.X_train.dtype == ds.X_test.dtype == np.dtype(dtype)
    assert ds.y_train.dtype == ds.y_test.dtype == np.int64
    assert ds.X_train.min() >= 0.0 and ds.X_train.max() <= 1.0
    np.testing.assert_array_equal(ds.y_test, np.arange(20) % 10)
    assert ds.source == DataSource("argument", str(folder))
    assert not (tmp_path / "cache").exists()  # reading never creates the cache


def test_images_and_labels_count_mismatch(tmp_path: Path, fake_mnist: FakeMnist) -> None:
    folder = fake_mnist(tmp_path / "d")
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(19, dtype=np.uint8))
    with pytest.raises(DataError) as caught:
        load_mnist(folder)
    message = str(caught.value)
    assert "t10k-images-idx3-ubyte.gz has 20 images" in message, message
    assert "t10k-labels-idx1-ubyte.gz has 19 labels" in message, message


def test_label_above_9_in_a_dir(tmp_path: Path, fake_mnist: FakeMnist) -> None:
    folder = fake_mnist(tmp_path / "d")
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.full(30, 11, dtype=np.uint8))
    with pytest.raises(DataError, match="label 11 at index 0 is not a digit"):
        load_mnist(folder)


def test_load_from_cache_then_env(tmp_path: Path, fake_mnist: FakeMnist, monkeypatch) -> None:
    cache = fake_mnist(tmp_path / "cache")
    assert load_mnist(cache_dir=cache, download=False).source.kind == "cache"
    monkeypatch.setenv(ENV_VAR, str(cache))
    assert load_mnist(cache_dir=tmp_path / "other").source == DataSource("environment", str(cache))


# --- verify ---------------------------------------------------------------------------------------


def test_verify_reports_each_file(tmp_path: Path, fake_mnist: FakeMnist) -> None:
    folder = fake_mnist(tmp_path / "d")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    statuses = verify(folder)
    assert [s.name for s in statuses] == list(MNIST_FILES)
    assert [s.status for s in statuses] == ["mismatch", "mismatch", "mismatch", "missing"]
    assert statuses[3].actual is None and statuses[0].actual is not None
    assert json.dumps([s.describe() for s in statuses])


# --- the full MNIST (../shared/datasets/mnist) ----------------------------------------------------


@pytest.fixture(scope="module")
def full(mnist_dir: Path):
    return load_mnist(mnist_dir)


def test_full_mnist(full, mnist_dir: Path) -> None:
    assert (full.X_train.shape, full.X_test.shape) == ((60000, 784), (10000, 784))
    assert full.X_train.dtype == np.float64 and full.y_train.dtype == np.int64
    assert full.X_train.min() == 0.0 and full.X_train.max() == 1.0
    assert np.bincount(full.y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(full.y_test).tolist() == TEST_COUNTS
    assert full.source == DataSource("argument", str(mnist_dir))


def test_full_mnist_float32_is_float64_rounded(full, mnist_dir: Path) -> None:
    X32, y = read_split(mnist_dir, "test", "float32")
    np.testing.assert_array_equal(X32, full.X_test.astype(np.float32))
    np.testing.assert_array_equal(y, full.y_test)


def test_full_mnist_sums_verify(mnist_dir: Path) -> None:
    statuses = verify(mnist_dir)
    assert [(s.name, s.status) for s in statuses] == [(name, "ok") for name in MNIST_FILES]


def test_full_mnist_stratified_subset(full) -> None:
    cut = subset(full, 1000, 500, stratified=True)
    # Proportional to the full counts: 5923 * 1000 / 60000 = 98.7 -> 99, etc.
    assert cut.n_train == 1000 and cut.n_test == 500
    expected = np.asarray(TRAIN_COUNTS) * 1000 / 60000
    assert np.all(np.abs(np.bincount(cut.y_train) - expected) < 1)
