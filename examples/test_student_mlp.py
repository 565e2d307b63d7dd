"""The student's MLP in the student's own test suite: one assertion judges it against the
reference, and a planted bug fails at the stage, tensor and values that give it away."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from student_mlp import StudentMLP

from parity.testing import DEFAULT_SPEC, assert_gradients_match, assert_parity, synthetic_digits

HERE = Path(__file__).resolve().parent


def test_the_student_agrees_with_the_reference_at_every_stage():
    report = assert_parity(StudentMLP)
    assert report.runs["student"].history.accuracy[-1] > 0.5  # it learned something


@pytest.mark.parametrize("dtype", ["float64", "float32"], ids=["float64", "float32"])
def test_the_students_gradients_match(dtype):
    assert_gradients_match(StudentMLP(), DEFAULT_SPEC.replace(dtype=dtype))


def test_named_by_its_file_as_on_the_command_line():
    assert_parity(f"{HERE / 'student_mlp.py'}:StudentMLP", stages=("forward", "gradients"))


# Two typical bugs, each a one-method subclass: what the judge says about them.


class SigmoidDerivativeOfZ(StudentMLP):
    """The sigmoid's derivative written as s(1 - s) but applied to z instead of a = s(z)."""

    def sigmoid_prime(self, z, a):
        return z * (1.0 - z)


class BiasGradientAveragedTwice(StudentMLP):
    """The bias gradient as the batch mean, then divided by n once more."""

    def bias_gradient(self, delta, n):
        return delta.mean(axis=0) / n


BUGS = {
    "sigmoid-derivative-of-z": (SigmoidDerivativeOfZ, "W1"),  # every layer below the output
    "bias-gradient-averaged-twice": (BiasGradientAveragedTwice, "b1"),  # every bias
}
VALUES = re.compile(r"at \[([\d, ]+)\]: student (\S+) vs numpy (\S+); mismatched elements")


@pytest.mark.parametrize("bug", BUGS, ids=list(BUGS))
def test_a_bug_is_named_by_stage_tensor_and_values(bug):
    buggy, tensor = BUGS[bug]
    with pytest.raises(AssertionError) as caught:
        assert_gradients_match(buggy)
    first = str(caught.value).splitlines()[0]
    assert first.startswith(f"gradients student vs numpy {tensor}: MISMATCH"), first
    # Both values, at the entry named: the buggy student's and the reference's (which the
    # correct student reproduces), on the batch assert_gradients_match uses.
    found = VALUES.search(first)
    assert found, first
    index = tuple(int(i) for i in found.group(1).split(", "))
    X, y, _, _ = synthetic_digits(32, 0)
    params = _initial_params()
    wrong = buggy().gradients(DEFAULT_SPEC, params, X, y)[tensor][index]
    right = StudentMLP().gradients(DEFAULT_SPEC, params, X, y)[tensor][index]
    assert float(found.group(2)) == wrong
    assert float(found.group(3)) == pytest.approx(right, rel=1e-12)


@pytest.mark.parametrize("bug", BUGS, ids=list(BUGS))
def test_a_judged_run_fails_first_at_gradients(bug):
    buggy, tensor = BUGS[bug]
    with pytest.raises(AssertionError) as caught:
        assert_parity(buggy, stages=("forward", "gradients", "step"))
    message, verdict = str(caught.value).splitlines()
    assert message.startswith(f"gradients student vs numpy {tensor}: MISMATCH"), message
    assert verdict.startswith("FAIL at stage gradients (student vs numpy)"), verdict


def _initial_params():
    """The spec's initial weights, as the judge makes them (reference/model.py)."""
    from reference.model import init_params

    return {k: np.array(v) for k, v in init_params(DEFAULT_SPEC).items()}
