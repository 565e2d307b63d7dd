"""The gradients' conditioning: sums of absolute terms bound every gradient entry."""

from __future__ import annotations

import numpy as np
import pytest

from parity.stages.conditioning import gradient_scale
from reference.model import gradients, init_params
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
