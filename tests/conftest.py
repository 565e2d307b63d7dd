"""Shared fixtures: seeds and the location of the full MNIST files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_ENV = "MLP_PARITY_DATA"
SHARED_MNIST = ROOT.parent / "shared" / "datasets" / "mnist"
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _full_mnist_dir() -> Path | None:
    candidate = Path(os.environ.get(DATA_ENV) or SHARED_MNIST)
    if all((candidate / name).is_file() for name in MNIST_FILES):
        return candidate
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The folder holding the four original MNIST files (read only).

    Under CI (CI=true) a missing folder is a failure, not a skip: the full-MNIST tests are part
    of what CI must prove.
    """
    found = _full_mnist_dir()
    if found is None:
        where = os.environ.get(DATA_ENV) or str(SHARED_MNIST)
        msg = f"full MNIST not found at {where}; set {DATA_ENV} to the folder with the four files"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return found


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test: no global random state."""
    return np.random.default_rng(20261130)


WITNESS_MARKS = ("torch", "sklearn", "jax")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark a test ``torch``, ``sklearn`` or ``jax`` when one of its parameters names that
    witness (``-m sklearn`` then selects it); whole files mark themselves with ``pytestmark``."""
    for item in items:
        if "driver" in getattr(item, "fixturenames", ()):  # a real browser (tests/support/browser)
            item.add_marker(pytest.mark.browser)
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            continue
        named = {n for v in callspec.params.values() for n in _witnesses_named(v)}
        for name in sorted(named):
            item.add_marker(getattr(pytest.mark, name))


def _witnesses_named(value: object) -> set[str]:
    """Framework names in a parameter: a name, names in a tuple, a catalogue mutant's target."""
    if isinstance(value, str):
        return {value} & set(WITNESS_MARKS)
    if isinstance(value, (tuple, list)):
        return {n for v in value for n in _witnesses_named(v)}
    target = getattr(value, "target", None)
    return _witnesses_named(target) if isinstance(target, str) else set()
