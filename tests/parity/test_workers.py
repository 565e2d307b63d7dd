"""Trainings in worker processes (parity/workers.py, parity/shared.py): the same numbers as in
this process, errors reported per run, instances kept here, the data shared read-only."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

import frameworks
from frameworks.contract import Params
from parity import shared
from parity.judge import judge
from parity.stages.floor import nudged
from parity.stages.setup import Setup
from parity.workers import Result, Task, movable, thread_limits, threads_for, train_many
from reference.model import init_params
from reference.spec import standard
from reference.train import train
from tests.support.inputs import SMALL, needs, pixels, synthetic

LOGGED = (1, 2, 5, 13)


def _setup(rng: np.random.Generator) -> Setup:
    X, y = synthetic(96, 12, rng), rng.integers(0, 5, 96)
    return Setup.make(SMALL.replace(epochs=2), X, y, X[:24], y[:24])


def _assert_same(a: Result, b: Result) -> None:
    assert a.status == b.status == "ok", (a.reason, b.reason)
    assert a.params is not None and b.params is not None
    for key in a.params:
        assert np.array_equal(a.params[key], b.params[key]), f"{a.label} {key} differs"
    assert a.history is not None and b.history is not None
    assert (a.history.loss, a.history.accuracy, a.history.steps) == (
        b.history.loss,
        b.history.accuracy,
        b.history.steps,
    )
    assert np.array_equal(a.test_probs, b.test_probs)
    assert a.steps == b.steps == list(LOGGED)
    for key in a.snapshots:
        assert np.array_equal(a.snapshots[key], b.snapshots[key]), f"{a.label} snapshot {key}"


def test_workers_give_the_numbers_of_this_process(rng):
    """The noise floor's use: several reference trainings at once, from nudged inits."""
    setup = _setup(rng)
    tasks = [
        Task("numpy", "numpy", logged=LOGGED),
        Task("nudged", "numpy", params0=nudged(setup.params0, seed=1), logged=LOGGED),
    ]
    here = train_many(tasks, setup, jobs=1)
    there = train_many(tasks, setup, jobs=2)
    assert [r.label for r in there] == ["numpy", "nudged"]
    for a, b in zip(here, there, strict=True):
        _assert_same(a, b)
    assert not np.array_equal(here[0].params["W1"], here[1].params["W1"]), "nudge had no effect"


def test_snapshots_are_the_params_at_the_logged_steps(rng):
    setup = _setup(rng)
    (result,) = train_many([Task("numpy", "numpy", logged=LOGGED)], setup, jobs=2)
    kept: dict[int, Params] = {}

    def on_step(step, snapshot):
        if step in LOGGED:
            kept[step] = snapshot()

    train(setup.spec, setup.params0, setup.X_train, setup.y_train, setup.plan, on_step=on_step)
    for i, step in enumerate(result.steps):
        for key, value in result.snapshot(i).items():
            assert np.array_equal(value, kept[step][key]), f"step {step} {key}"


def test_an_error_in_a_worker_is_that_runs_error(rng):
    setup = _setup(rng)
    wrong = {k: v[..., :1] if k == "W1" else v for k, v in setup.params0.items()}
    good, bad = train_many(
        [Task("numpy", "numpy", logged=LOGGED), Task("bad", "numpy", params0=wrong)],
        setup,
        jobs=2,
    )
    assert good.status == "ok"
    assert bad.status == "error" and bad.params is None
    assert bad.reason is not None and bad.reason.startswith("raised ValueError: params['W1']")
    assert bad.trace is not None and "Traceback" in bad.trace


class _Here:
    """The reference behind another class: not the registry's, so it cannot move to a worker."""

    name = "numpy"

    def __init__(self) -> None:
        self.inner = frameworks.load("numpy")
        self.pids: set[int] = set()

    def __getattr__(self, attr: str):
        return getattr(self.inner, attr)

    def train(self, *args, **kwargs):
        self.pids.add(os.getpid())
        return self.inner.train(*args, **kwargs)


def test_an_instance_trains_in_this_process_beside_the_workers(rng):
    setup = _setup(rng)
    here = _Here()
    assert not movable(here) and movable("numpy") and movable(frameworks.load("numpy"))
    tasks = [Task("in-process", here, logged=LOGGED), Task("worker", "numpy", logged=LOGGED)]
    results = train_many(tasks, setup, jobs=2)
    assert here.pids == {os.getpid()}
    _assert_same(results[0], results[1])


@pytest.mark.torch
def test_the_report_is_the_same_for_any_jobs(rng):
    needs("torch")
    X, y = synthetic(96, 12, rng), rng.integers(0, 5, 96)
    reports = [
        judge(SMALL.replace(epochs=2), X, y, X[:24], y[:24], names=["numpy", "torch"], jobs=jobs)
        for jobs in (1, 2)
    ]
    dicts = [_without_timings(r.to_dict()) for r in reports]
    assert dicts[0] == dicts[1]
    for name, run in reports[0].runs.items():
        other = reports[1].runs[name]
        assert run.divergence_steps == other.divergence_steps
        assert bool(run.divergence_steps) == (name != "numpy"), name  # witnesses only
        assert run.divergence == other.divergence
        assert run.params is not None and other.params is not None
        assert all(np.array_equal(run.params[k], other.params[k]) for k in run.params), name


def _without_timings(report: dict) -> dict:
    report = dict(report, timing=None)
    report["frameworks"] = {
        name: dict(run, seconds=None, seconds_per_epoch=None)
        for name, run in report["frameworks"].items()
    }
    return report


@pytest.mark.parametrize("batch_size", [32, 128])
def test_the_thread_count_does_not_change_the_references_numbers(batch_size, rng):
    """Why the reference may take whatever thread count a worker gets: with 784-128-64-10 and
    these batches, OpenBLAS splits a product's output, never a dot product, between threads."""
    spec = standard(batch_size=batch_size, epochs=1)
    X, y = pixels(1024, rng), rng.integers(0, 10, 1024)
    runs = {}
    for threads in (1, 2):
        with thread_limits(threads):
            runs[threads], _ = train(spec, init_params(spec), X, y)
    for key in runs[1]:
        assert np.array_equal(runs[1][key], runs[2][key]), f"{key} differs with 2 threads"


def test_threads_are_each_trainings_share_of_idle_cores():
    assert threads_for(cores=2, trainings=3, load=0.0) == 1
    assert threads_for(cores=2, trainings=1, load=0.0) == 2
    assert threads_for(cores=16, trainings=3, load=0.0) == 5
    assert threads_for(cores=2, trainings=1, load=1.5) == 1, "busy: one thread"


def test_thread_limits_at_most_keeps_a_lower_limit():
    from threadpoolctl import threadpool_info

    with thread_limits(1), thread_limits(2, at_most=True):
        assert {pool["num_threads"] for pool in threadpool_info()} == {1}


def test_a_shared_dataset_is_placed_where_it_lies(rng):
    """Arrays already in a shared block go to the workers as they are: no second copy."""
    from parity.data import Dataset, DataSource

    X = pixels(20, rng)
    data = Dataset(X, np.arange(20) % 10, X[:5], np.arange(5), DataSource("argument", "."))
    with shared.shared_dataset(data) as data:
        assert not data.X_train.flags.writeable
        where, block = shared.place({"X": data.X_train, "plan": np.arange(3)})
        assert block is not None, "the plan is not in a block: it is copied into a new one"
        assert where["X"][0] != block.name and where["plan"][0] == block.name
        arrays, _ = shared.attach(where)
        assert np.array_equal(arrays["X"], X) and not arrays["X"].flags.writeable
        shared.free(block)


@pytest.mark.parametrize("name", frameworks.NAMES)
def test_every_registered_adapter_pickles_for_a_worker(name):
    """A registry instance moves to a worker as a pickle (a jax.Device does not pickle: the
    JAX adapter sends its platform name and rebuilds the device there)."""
    try:
        adapter = frameworks.load(name)
    except frameworks.FrameworkUnavailable as error:
        pytest.skip(str(error))
    assert movable(adapter)
    rebuilt = pickle.loads(pickle.dumps(adapter))
    assert type(rebuilt) is type(adapter) and rebuilt.versions() == adapter.versions()
