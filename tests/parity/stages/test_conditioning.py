"""The gradients' conditioning: sums of absolute terms bound every gradient entry."""

from __future__ import annotations

import numpy as np
import pytest

from frameworks.numpy_ref import NumpyMLP
from parity.judge import judge
from parity.stages.conditioning import gradient_scale
from parity.stages.plan import batch_plan
from reference.model import gradients, init_params
from reference.spec import standard
from tests.support.inputs import SMALL, synthetic


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"activation": "tanh", "bias": False},
        {"activation": "relu"},
        {"loss": "squared_error"},
        {"loss": "squared_error", "softmax_grad": "diagonal", "activation": "tanh"},
    ],
    ids=["ce-sigmoid", "ce-tanh-nobias", "ce-relu", "se-jacobian", "se-diagonal"],
)
def test_gradient_scale_bounds_every_gradient_entry(rng, changes):
    """|sum of terms| <= sum of |terms|: the scale is an upper bound, entry by entry, and
    equals |gradient| for one sample through one layer (nothing to cancel)."""
    spec = SMALL.replace(sizes=(12, 9, 7, 5), **changes)
    params = init_params(spec)
    X, y = synthetic(32, 12, rng), rng.integers(0, 5, 32)
    scale, grads = gradient_scale(spec, params, X, y), gradients(spec, params, X, y)
    for key in spec.param_keys():
        slack = scale[key] - np.abs(grads[key])
        assert slack.min() >= -1e-15, f"{key}: scale below |gradient| by {-slack.min():.1e}"
    one = spec.replace(sizes=(12, 5))
    p1 = init_params(one)
    s1, g1 = gradient_scale(one, p1, X[:1], y[:1]), gradients(one, p1, X[:1], y[:1])
    if one.loss == "cross_entropy":  # the softmax Jacobian itself sums terms for squared error
        np.testing.assert_allclose(s1["W1"], np.abs(g1["W1"]), rtol=1e-12)


# --------------------------------------------------------------------------- cancellation
# Two gradients the no-false-alarm generator found to cancel: their entries are tiny next to
# the terms they sum, so two summation orders differ by a large RELATIVE error. Whether torch
# and numpy actually round them apart depends on the CPU's kernels (on an AVX2-only machine
# they agree exactly), so the rule is tested on planted differences of known size instead.

CANCELLING = {
    # 2 classes, 3 sigmoid layers on 3 features: the last layer's inputs are nearly constant,
    # so dW4 = sum over 119 digits of delta * A cancels to 1e-4 of its terms (2400x).
    "float32-dW4-cancels": (
        standard(
            sizes=(3, 53, 52, 6, 2), bias=False, init="torch", dtype="float32", lr=0.5,
            batch_size=120, seed=14275, epochs=1,
        ),
        (119, 18), 230, "W4",
    ),
    # a dead relu layer: logits = b4 = 0, so db4 = mean(P - Y) over a class-balanced batch is
    # exactly 0 in exact arithmetic, -6.9e-18 in the reference's.
    "float64-db4-is-zero": (
        standard(
            sizes=(8, 43, 2, 16, 2), activation="relu", init="lecture", lr=0.18979015538188534,
            batch_size=24, epochs=3, seed=17002,
        ),
        (64, 22), 47454, "b4",
    ),
}  # fmt: skip


class GradientOff(NumpyMLP):
    """The reference, with ``amount`` added to every entry of one gradient tensor."""

    name = "planted"

    def __init__(self, key: str, amount: float) -> None:
        self.key, self.amount = key, amount

    def gradients(self, spec, params, X, y):
        grads = super().gradients(spec, params, X, y)
        grads[self.key] = (grads[self.key] + self.amount).astype(spec.dtype)
        return grads


@pytest.mark.parametrize("case", list(CANCELLING), ids=list(CANCELLING))
@pytest.mark.parametrize(
    ("terms", "passes"),
    [(4.0, True), (1e9, False)],  # in units of eps x the largest sum of |terms|
    ids=["4-ulp-of-the-terms", "a-bug"],
)
def test_a_cancelling_gradient_is_held_to_its_terms(case, terms, passes):
    spec, (n_train, n_test), data_seed, key = CANCELLING[case]
    rng = np.random.default_rng(data_seed)  # the generator's data: X first, then labels
    X = rng.random((n_train + n_test, spec.n_features)).astype(spec.dtype)  # as the judge has it
    y = rng.integers(0, spec.n_classes, n_train + n_test)
    batch = batch_plan(n_train, spec.epochs, spec.seed)[0][: spec.batch_size]
    scale = float(gradient_scale(spec, init_params(spec), X[batch], y[batch])[key].max())
    exact = gradients(spec, init_params(spec), X[batch], y[batch])[key]
    assert np.abs(exact).max() < 1e-3 * scale  # it does cancel
    amount = terms * float(np.finfo(spec.dtype).eps) * scale
    report = judge(
        spec, X[:n_train], y[:n_train], X[n_train:], y[n_train:], names=["numpy"],
        loaded={"planted": GradientOff(key, amount)},
    )  # fmt: skip
    (stage,) = [s for s in report.stages if s.stage == "gradients"]
    (comparison,) = [c for c in stage.comparisons if c.tensor == key]
    assert comparison.scale == pytest.approx(scale, rel=1e-12)
    assert comparison.passed is passes, comparison.message()
    if not passes:
        assert report.first_failure is not None and report.first_failure.stage == "gradients"
