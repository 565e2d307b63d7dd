"""Shared fixtures: seeds and the location of the full MNIST files; one thread per test
process; the xdist work units (tests sharing a trained run stay together)."""

from __future__ import annotations

import os

# One BLAS/OpenMP thread per test process, set before NumPy (or torch) loads its thread pool:
# pytest-xdist runs one process per core, the tests' tensors are small, and on a busy machine
# a second, idle-spinning OpenMP thread per process made the torch tests up to 10x slower.
# The run's own worker processes size theirs again (parity/workers.py: one per core share).
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import functools  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

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
    witness (``-m sklearn`` then selects it); whole files mark themselves with ``pytestmark``.

    Then the long tests first (full-MNIST trainings, the property suites), so that xdist
    starts them early and the short ones fill in around them.
    """
    for item in items:
        if "driver" in getattr(item, "fixturenames", ()):  # a real browser (tests/support/browser)
            item.add_marker(pytest.mark.browser)
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            continue
        named = {n for v in callspec.params.values() for n in _witnesses_named(v)}
        for name in sorted(named):
            item.add_marker(getattr(pytest.mark, name))
    items.sort(key=_long_first)  # stable: the order within each class of tests is kept


def _long_first(item: pytest.Item) -> int:
    if item.get_closest_marker("slow") is not None:
        return 0
    return 1 if "tests/properties/" in item.nodeid else 2


# --------------------------------------------------------------------------- xdist groups
# Tests that share an expensive module-scoped fixture (a trained run) must run in one worker,
# which builds it once. xdist's loadgroup cannot say so under pytest 9 (it renames
# ``item._nodeid``, which pytest 9 no longer reads), so the scheduler is loadscope with its
# scopes drawn here: the agreement matrix per configuration, the full-MNIST runs per dtype,
# another module with a module-scoped fixture as a whole, every other test on its own.

_MODULE_FIXTURE = re.compile(r"@pytest\.fixture\(scope=\"module\"")


def work_unit(nodeid: str) -> str:
    """The work unit of a test for the xdist scheduler (its nodeid when it shares nothing)."""
    path, _, test = nodeid.partition("::")
    name, _, params = test.partition("[")
    if path.endswith("parity/test_agreement.py") and params:
        return f"{path}::{'-'.join(params.rstrip(']').split('-')[1:5])}"  # drop witness, stage
    if path.endswith("parity/test_full_mnist.py"):
        return f"{path}::{'float32' if 'float32' in name else 'float64'}"
    return path if _shares_module_fixture(path) else nodeid


@functools.cache
def _shares_module_fixture(path: str) -> bool:
    try:
        return bool(_MODULE_FIXTURE.search((ROOT / path).read_text()))
    except OSError:
        return False


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # pragma: no cover - pytest-xdist is in the test extra
    pass
else:

    class _SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling:
        return _SharedFixtureScheduling(config, log)


def _witnesses_named(value: object) -> set[str]:
    """Framework names in a parameter: a name, names in a tuple, a catalogue mutant's target."""
    if isinstance(value, str):
        return {value} & set(WITNESS_MARKS)
    if isinstance(value, (tuple, list)):
        return {n for v in value for n in _witnesses_named(v)}
    target = getattr(value, "target", None)
    return _witnesses_named(target) if isinstance(target, str) else set()
