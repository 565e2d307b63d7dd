"""Every witness against the reference, stage by stage, on real MNIST (issue 3's matrix).

One judge run per configuration (preset x activation x depth x dtype), with every witness, is
cached for the module; each (witness, stage) of it is its own test id, so a failure names the
witness, the configuration and the stage, and the message names the tensor, both values and
the tolerance. A configuration's tests are one xdist work unit (tests/conftest.py): one worker
judges it once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import frameworks
from parity.data import Dataset, load_mnist, subset
from parity.judge import judge
from parity.report.model import Report
from parity.tolerances import STAGES
from reference.spec import Spec, preset

WITNESSES = ("torch", "sklearn", "jax")
PRESETS = ("standard", "lecture")
ACTIVATIONS = ("sigmoid", "tanh", "relu")
HIDDEN = {1: (32,), 2: (32, 16), 3: (32, 16, 16)}
DTYPES = ("float64", "float32")
N_TRAIN, N_TEST = 2000, 500

CASES = [
    pytest.param(
        w,
        p,
        a,
        d,
        t,
        id=f"{w}-{p}-{a}-h{d}-{t}",
        marks=pytest.mark.xdist_group(f"{p}-{a}-h{d}-{t}"),
    )
    for w in WITNESSES
    for p in PRESETS
    for a in ACTIVATIONS
    for d in HIDDEN
    for t in DTYPES
]
Case = tuple[str, str, str, int, str]  # (witness, preset, activation, depth, dtype)


@pytest.fixture(scope="module")
def mnist_small(mnist_dir) -> Dataset:
    return subset(load_mnist(mnist_dir), N_TRAIN, N_TEST, stratified=True, seed=0)


@pytest.fixture(scope="module")
def report_for(mnist_small) -> Callable[[Case], Report]:
    """The judge's report for one configuration and every witness, computed once per module
    (the reference trains once for both witnesses)."""
    cache: dict[tuple[str, ...], Report] = {}

    def get(case: Case) -> Report:
        _, *configuration = case
        key = tuple(map(str, configuration))
        if key not in cache:
            data = mnist_small
            cache[key] = judge(
                _spec(case),
                data.X_train,
                data.y_train,
                data.X_test,
                data.y_test,
                names=["numpy", *WITNESSES],
                k_steps=50,
            )
        return cache[key]

    return get


def _of(report: Report, witness: str, stage: str) -> list:
    """The stage's results that concern ``witness``: against the reference (or no pair of
    implementations, as init and data), not the other witness's."""
    others = set(WITNESSES) - {witness}
    return [s for s in report.stages if s.stage == stage and not others & set(s.pair)]


def _spec(case: Case) -> Spec:
    _, name, activation, depth, dtype = case
    sizes = (784, *HIDDEN[depth], 10)
    # lr 0.1 for the standard preset: at 0.5, 3 hidden tanh/relu layers amplify rounding
    # differences ~10x every 25 steps (a real finding the judge reports: docs/verdicts.md),
    # which would make a 2-epoch parity matrix measure chaos rather than the implementations.
    lr = {"lr": 0.1} if name == "standard" else {}
    return preset(name, sizes=sizes, activation=activation, dtype=dtype, epochs=2, seed=7, **lr)


def _unsupported(case: Case) -> str | None:
    """Skip when the framework is not installed; its reason when it cannot express the spec."""
    try:
        adapter = frameworks.load(case[0])
    except frameworks.FrameworkUnavailable as error:
        pytest.skip(str(error))
    return adapter.supports(_spec(case))


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize(("witness", "name", "activation", "depth", "dtype"), CASES)
def test_stage_agrees(report_for, witness, name, activation, depth, dtype, stage):
    case = (witness, name, activation, depth, dtype)
    reason = _unsupported(case)
    if reason is not None:
        # Not a skip: only scikit-learn may refuse, only the lecture preset, and with a reason;
        # the judge must then leave it out rather than crash.
        assert (witness, name) == ("sklearn", "lecture"), f"{witness} refused: {reason}"
        report = report_for(case)
        assert report.runs[witness].status == "unsupported", report.runs[witness]
        assert report.runs[witness].reason == reason
        return
    report = report_for(case)
    results = _of(report, witness, stage)
    assert results, f"stage {stage} produced no result: {report.verdict()}"
    failures = [c.message() for s in results for c in s.comparisons if not c.passed]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("witness", "name", "activation", "depth", "dtype"), CASES)
def test_identical_test_predictions(report_for, witness, name, activation, depth, dtype):
    """After 2 epochs every test prediction agrees (float32: near-ties are reported apart)."""
    case = (witness, name, activation, depth, dtype)
    if _unsupported(case) is not None:
        pytest.skip(f"{witness} cannot express {name} (covered by test_stage_agrees)")
    report = report_for(case)
    ours, theirs = report.runs["numpy"].test_probs, report.runs[witness].test_probs
    assert ours is not None and theirs is not None, report.verdict()
    differ = np.flatnonzero(ours.argmax(1) != theirs.argmax(1))
    if dtype == "float64":
        assert differ.size == 0, f"{differ.size} of {len(ours)} predictions differ: {differ[:10]}"
    else:
        (comparison,) = _of(report, witness, "predictions")[0].comparisons
        assert comparison.passed, comparison.message()
