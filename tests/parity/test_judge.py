"""The judge's orchestration: a given init is the starting point and is checked; a subject
that crashes is reported as a failing stage, not a traceback."""

from __future__ import annotations

import pytest

import frameworks
from parity.judge import judge
from reference.model import init_params
from tests.support.inputs import SMALL, needs, synthetic


@pytest.mark.torch
def test_params0_is_the_starting_point_and_is_checked(rng):
    needs("torch")
    X, y = synthetic(64, 12, rng), rng.integers(0, 5, 64)
    wide = {k: v * 3 for k, v in init_params(SMALL).items()}  # 3x the stated sigma
    report = judge(SMALL, X, y, X[:16], y[:16], names=["numpy", "torch"], params0=wide)
    assert report.first_failure is not None and report.first_failure.stage == "init"
    assert all(s.passed for s in report.stages if s.stage != "init"), report.verdict()


class _CrashesInTraining:
    """The reference, except that its training raises (a subject blowing up into NaN)."""

    name = "numpy"

    def __init__(self) -> None:
        self.inner = frameworks.load("numpy")

    def __getattr__(self, attr: str):
        return getattr(self.inner, attr)

    def train(self, *args, **kwargs):
        raise FloatingPointError("overflow in the update")


@pytest.mark.torch
def test_a_subject_that_crashes_fails_its_stage_instead_of_raising(rng):
    needs("torch")
    X, y = synthetic(64, 12, rng), rng.integers(0, 5, 64)
    report = judge(
        SMALL,
        X,
        y,
        X[:16],
        y[:16],
        names=["numpy", "torch"],
        loaded={"numpy": _CrashesInTraining()},
    )
    failure = report.first_failure
    assert failure is not None and failure.stage == "step", report.verdict()
    assert failure.worst is not None
    assert "numpy raised FloatingPointError: overflow in the update" in failure.worst.message()
    assert report.runs["numpy"].status == "error" and not report.passed
    trained = [s for s in report.stages if s.stage == "train_params"]
    assert [s.pair for s in trained] == [("torch", "numpy")], trained
