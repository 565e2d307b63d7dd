"""The forward stage's stress probe: the output layer scaled until exp would overflow."""

from __future__ import annotations

import numpy as np
import pytest

from parity.judge import LARGE_LOGITS, judge
from parity.stages.probes import large_logit_params, target_logit
from reference.model import forward, init_params
from tests.support.inputs import SMALL, needs, synthetic


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["positive", "negative"])
def test_large_logit_params_put_the_largest_logit_at_the_target(rng, dtype, sign):
    """The largest logit reaches +1.5 log(max float), even when the largest one was negative."""
    spec = SMALL.replace(dtype=dtype)
    params = init_params(spec)
    params["W2"] = (sign * np.abs(params["W2"])).astype(dtype)  # all logits one sign
    params["b2"] = (sign * np.abs(params["b2"])).astype(dtype)
    X = synthetic(32, 12, rng)
    stressed = large_logit_params(spec, params, X)
    assert stressed is not None
    _, cache = forward(spec, stressed, X)
    top = float(cache.Z[2].max())
    assert top == pytest.approx(target_logit(dtype), rel=1e-5)
    assert top > np.log(np.finfo(dtype).max)  # exp overflows there
    assert all(np.array_equal(stressed[k], params[k]) for k in ("W1", "b1"))


def test_no_stress_when_every_logit_is_zero(rng):
    spec = SMALL.replace(bias=False)
    params = {k: np.zeros_like(v) for k, v in init_params(spec).items()}
    assert large_logit_params(spec, params, synthetic(8, 12, rng)) is None


@pytest.mark.torch
def test_the_forward_stage_compares_large_logits(rng):
    needs("torch")
    X, y = synthetic(64, 12, rng), rng.integers(0, 5, 64)
    report = judge(SMALL, X, y, X[:16], y[:16], names=["numpy", "torch"])
    (forward_stage,) = [s for s in report.stages if s.stage == "forward"]
    assert [c.tensor for c in forward_stage.comparisons] == ["probs", LARGE_LOGITS]
    assert forward_stage.passed, [c.message() for c in forward_stage.comparisons]
