"""What the judge learnt for issue 7: the data stage, the large-logit probe, a given init, and a
subject that crashes reported as a failing stage instead of a traceback."""

from __future__ import annotations

import numpy as np
import pytest

import frameworks
from parity.datacheck import check_data
from parity.judge import LARGE_LOGITS, judge
from parity.probes import large_logit_params, target_logit
from reference.model import forward, init_params
from reference.spec import standard

SMALL = standard(sizes=(12, 8, 5), batch_size=8, epochs=1, seed=3)


@pytest.fixture
def torch_here() -> None:
    reason = frameworks.availability()["torch"]
    if reason is not None:
        pytest.skip(reason)


def _synthetic(n: int, n_features: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random((n, n_features))


def _pixels(n: int, rng: np.random.Generator) -> np.ndarray:
    """8-bit images as the loader gives them: pixels / 255, mostly 0 as in MNIST."""
    pixels = rng.integers(0, 256, (n, 784)) * (rng.random((n, 784)) < 0.2)
    pixels[0, 0] = 255
    return pixels / 255.0


# --------------------------------------------------------------------------- data


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pixels_over_255_pass_the_data_checks(rng, dtype):
    X = _pixels(64, rng).astype(dtype)
    results = check_data(X, X[:16], dtype)
    assert [c.tensor for c in results] == [
        "X_train [min, max]",
        "X_train * 255 (8-bit levels)",
        "X_test [min, max]",
        "X_test * 255 (8-bit levels)",
    ]
    assert all(c.passed for c in results), [c.message() for c in results]


@pytest.mark.parametrize(
    ("bug", "tensor"),
    [
        (lambda X: np.rint(X * 255) / 256, "X_train * 255 (8-bit levels)"),
        (lambda X: np.rint(X * 255), "X_train [min, max]"),
        (lambda X: X - 0.5, "X_train [min, max]"),
    ],
    ids=["divided-by-256", "unscaled", "centred"],
)
def test_a_wrong_pipeline_fails_the_data_checks(rng, bug, tensor):
    X = _pixels(64, rng)
    results = check_data(bug(X), X, "float64")
    failing = [c for c in results if not c.passed]
    assert [c.tensor for c in failing][:1] == [tensor], [c.message() for c in results]
    assert all(c.passed for c in results if c.tensor.startswith("X_test"))


def test_continuous_data_is_held_to_the_range_only(rng):
    """A few continuous values (fewer than 256) are not mistaken for 8-bit pixels."""
    X = _synthetic(16, 4, rng)  # 64 distinct values
    results = check_data(X, X, "float64")
    assert [c.tensor for c in results] == ["X_train [min, max]", "X_test [min, max]"]
    assert all(c.passed for c in results)


# --------------------------------------------------------------------------- large logits


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["positive", "negative"])
def test_large_logit_params_put_the_largest_logit_at_the_target(rng, dtype, sign):
    """The largest logit reaches +1.5 log(max float), even when the largest one was negative."""
    spec = SMALL.replace(dtype=dtype)
    params = init_params(spec)
    params["W2"] = (sign * np.abs(params["W2"])).astype(dtype)  # all logits one sign
    params["b2"] = (sign * np.abs(params["b2"])).astype(dtype)
    X = _synthetic(32, 12, rng)
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
    assert large_logit_params(spec, params, _synthetic(8, 12, rng)) is None


@pytest.mark.usefixtures("torch_here")
def test_the_forward_stage_compares_large_logits(rng):
    X, y = _synthetic(64, 12, rng), rng.integers(0, 5, 64)
    report = judge(SMALL, X, y, X[:16], y[:16], names=["numpy", "torch"])
    (forward_stage,) = [s for s in report.stages if s.stage == "forward"]
    assert [c.tensor for c in forward_stage.comparisons] == ["probs", LARGE_LOGITS]
    assert forward_stage.passed, [c.message() for c in forward_stage.comparisons]


# --------------------------------------------------------------------------- given init, crashes


@pytest.mark.usefixtures("torch_here")
def test_params0_is_the_starting_point_and_is_checked(rng):
    X, y = _synthetic(64, 12, rng), rng.integers(0, 5, 64)
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


@pytest.mark.usefixtures("torch_here")
def test_a_subject_that_crashes_fails_its_stage_instead_of_raising(rng):
    X, y = _synthetic(64, 12, rng), rng.integers(0, 5, 64)
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


# --------------------------------------------------------------------------- gradient scale


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
    from parity.conditioning import gradient_scale
    from reference.model import gradients

    spec = SMALL.replace(sizes=(12, 9, 7, 5), **changes)
    params = init_params(spec)
    X, y = _synthetic(32, 12, rng), rng.integers(0, 5, 32)
    scale, grads = gradient_scale(spec, params, X, y), gradients(spec, params, X, y)
    for key in spec.param_keys():
        slack = scale[key] - np.abs(grads[key])
        assert slack.min() >= -1e-15, f"{key}: scale below |gradient| by {-slack.min():.1e}"
    one = spec.replace(sizes=(12, 5))
    p1 = init_params(one)
    s1, g1 = gradient_scale(one, p1, X[:1], y[:1]), gradients(one, p1, X[:1], y[:1])
    if one.loss == "cross_entropy":  # the softmax Jacobian itself sums terms for squared error
        np.testing.assert_allclose(s1["W1"], np.abs(g1["W1"]), rtol=1e-12)
