"""Activations, softmax, losses and output deltas: values, the material's softmax example and
its listed properties, dtypes, and extreme inputs (no warnings, no NaN, the right limits).

pytest turns every RuntimeWarning into an error (pyproject.toml), so a test passing here means
no overflow or invalid-value warning was raised. ``np.errstate`` additionally raises on
overflow, division by zero and invalid values; underflow (exp(-1000) -> 0) is the correct,
expected result of a stable formula and is left alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from parity.compare import assert_close
from reference import forward, gradients, loss, material, one_hot
from reference.activations import (
    ACTIVATIONS,
    DERIVATIVES,
    log_softmax,
    relu,
    sigmoid,
    sigmoid_grad,
    softmax,
    tanh,
)
from reference.losses import cross_entropy, output_delta, squared_error
from reference.spec import lecture, standard


def raising() -> np.errstate:
    """Floating-point overflow, division by zero and invalid values raise (underflow may not)."""
    return np.errstate(over="raise", divide="raise", invalid="raise")


BIG = np.finfo(np.float64).max

# ------------------------------------------------------------------ the material's softmax example

MATERIAL_LOGITS = np.array([[1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0]])
MATERIAL_SOFTMAX = np.array([[0.024, 0.064, 0.175, 0.475, 0.024, 0.064, 0.175]])


def test_softmax_material_example() -> None:
    got = softmax(MATERIAL_LOGITS)
    # The material prints 3 decimals: agree to half a unit in the third place.
    assert np.array_equal(got.round(3), MATERIAL_SOFTMAX), f"softmax {got} rounds to {got.round(3)}"


def _in_unit_interval(Z: np.ndarray) -> None:
    P = softmax(Z)
    assert ((P >= 0) & (P <= 1)).all(), f"softmax({Z.tolist()}) = {P.tolist()} leaves [0, 1]"


def _sums_to_one(Z: np.ndarray) -> None:
    total = softmax(Z).sum(axis=1)
    assert_close(total, np.ones(Z.shape[0]), stage="forward", tensor="row sums", dtype="float64")


def _unchanged_by_adding_a_constant(Z: np.ndarray) -> None:
    for c in (-100.0, 3.0, 1000.0):
        assert_close(
            softmax(Z + c), softmax(Z), stage="forward", tensor=f"softmax(Z + {c})", dtype="float64"
        )


def _changed_by_scaling(Z: np.ndarray) -> None:
    for c in (0.5, 2.0, 10.0):
        diff = np.abs(softmax(c * Z) - softmax(Z)).max()
        assert diff > 1e-3, f"softmax({c} * Z) should differ from softmax(Z); max diff {diff:.1e}"


def _order_preserved(Z: np.ndarray) -> None:
    P = softmax(Z)
    for i in range(Z.shape[1]):
        for j in range(Z.shape[1]):
            if Z[0, i] < Z[0, j]:
                assert P[0, i] < P[0, j], f"z{i} < z{j} but p{i} = {P[0, i]} >= p{j} = {P[0, j]}"
            if Z[0, i] == Z[0, j]:
                assert P[0, i] == P[0, j], f"z{i} == z{j} but p{i} = {P[0, i]} != p{j} = {P[0, j]}"


PROPERTIES: dict[str, Callable[[np.ndarray], None]] = {
    "each-in-0-1": _in_unit_interval,
    "sums-to-1": _sums_to_one,
    "unchanged-by-adding-a-constant": _unchanged_by_adding_a_constant,
    "changed-by-scaling": _changed_by_scaling,
    "order-preserved": _order_preserved,
}


@pytest.mark.parametrize("prop", list(PROPERTIES), ids=list(PROPERTIES))
def test_softmax_material_property(prop: str) -> None:
    PROPERTIES[prop](MATERIAL_LOGITS)


@pytest.mark.parametrize("prop", list(PROPERTIES), ids=list(PROPERTIES))
def test_softmax_property_on_random_rows(prop: str, rng: np.random.Generator) -> None:
    # Multiples of 1/8: adding the constants below is exact, so shift invariance can be
    # checked without the input rounding that Z + 1000 would add to arbitrary floats.
    Z = rng.integers(-40, 40, size=(1 if prop == "order-preserved" else 6, 10)) / 8
    PROPERTIES[prop](Z)


def test_one_hot_material_example() -> None:
    got = one_hot(np.array([7]), 10)
    assert got.tolist() == [[0, 0, 0, 0, 0, 0, 0, 1, 0, 0]], f"one_hot(7) = {got.tolist()}"


def test_one_hot_rows_and_dtype() -> None:
    got = one_hot(np.array([0, 2, 1]), 3, "float32")
    assert got.dtype == np.float32, f"one_hot dtype {got.dtype}"
    assert got.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]], got.tolist()


# ------------------------------------------------------------------ activations and derivatives

CLOSED_FORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": lambda z: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z)),
    "relu": lambda z: np.where(z > 0, z, 0.0),
}
DERIVATIVE_FORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2,
    "tanh": lambda z: 4 / (np.exp(z) + np.exp(-z)) ** 2,
    "relu": lambda z: np.where(z > 0, 1.0, 0.0),
}
NAMES = list(ACTIVATIONS)


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_activation_matches_closed_form(name: str) -> None:
    Z = np.linspace(-20, 20, 81).reshape(9, 9)
    assert_close(
        ACTIVATIONS[name](Z),
        CLOSED_FORMS[name](Z),
        stage="forward",
        tensor=name,
        dtype="float64",
        pair=(name, "closed form"),
    )


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_derivative_matches_closed_form(name: str) -> None:
    Z = np.linspace(-20, 20, 81).reshape(9, 9)
    got = DERIVATIVES[name](Z, ACTIVATIONS[name](Z))
    assert_close(
        got,
        DERIVATIVE_FORMS[name](Z),
        stage="forward",
        tensor=f"{name}'",
        dtype="float64",
        pair=(f"{name}'", "closed form"),
    )


def test_relu_derivative_is_zero_at_zero() -> None:
    Z = np.array([[-1.0, 0.0, 1.0]])
    assert DERIVATIVES["relu"](Z, relu(Z)).tolist() == [[0.0, 0.0, 1.0]], "relu'(0) must be 0"


@pytest.mark.parametrize("dtype", ["float64", "float32"], ids=["float64", "float32"])
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_activation_keeps_dtype_and_input(name: str, dtype: str, rng: np.random.Generator) -> None:
    Z = rng.standard_normal((4, 5)).astype(dtype)
    before = Z.copy()
    A = ACTIVATIONS[name](Z)
    G = DERIVATIVES[name](Z, A)
    assert (A.dtype, G.dtype) == (Z.dtype, Z.dtype), f"{name}: {A.dtype}, {G.dtype} from {dtype}"
    assert np.array_equal(Z, before), f"{name} or its derivative modified its input Z"
    assert np.array_equal(A, ACTIVATIONS[name](Z)), f"{name}'s derivative modified A"


@pytest.mark.parametrize("dtype", ["float64", "float32"], ids=["float64", "float32"])
def test_softmax_keeps_dtype(dtype: str, rng: np.random.Generator) -> None:
    Z = rng.standard_normal((4, 5)).astype(dtype)
    assert softmax(Z).dtype == Z.dtype, f"softmax of {dtype} gave {softmax(Z).dtype}"
    assert log_softmax(Z).dtype == Z.dtype, f"log_softmax of {dtype} gave {log_softmax(Z).dtype}"


def test_log_softmax_is_log_of_softmax(rng: np.random.Generator) -> None:
    Z = rng.standard_normal((5, 10)) * 4
    assert_close(
        log_softmax(Z),
        np.log(softmax(Z)),
        stage="forward",
        tensor="log_softmax",
        dtype="float64",
        pair=("log_softmax", "log(softmax)"),
    )


# ------------------------------------------------------------------ losses and output deltas


def test_cross_entropy_is_mean_negative_log_prob(rng: np.random.Generator) -> None:
    Z = rng.standard_normal((6, 4))
    y = np.array([0, 3, 1, 2, 2, 0])
    expected = -np.mean(np.log(softmax(Z)[np.arange(6), y]))
    assert_close(
        cross_entropy(Z, one_hot(y, 4)),
        expected,
        stage="forward",
        tensor="loss",
        dtype="float64",
        pair=("cross_entropy", "-mean log p_y"),
    )


def test_squared_error_is_mean_over_batch_and_outputs(rng: np.random.Generator) -> None:
    P = softmax(rng.standard_normal((6, 4)))
    Y = one_hot(np.array([0, 3, 1, 2, 2, 0]), 4)
    expected = np.mean([np.mean((P[i] - Y[i]) ** 2) for i in range(6)])
    assert_close(
        squared_error(P, Y),
        expected,
        stage="forward",
        tensor="loss",
        dtype="float64",
        pair=("squared_error", "mean of per-sample means"),
    )


DELTA_SPECS = {
    "cross_entropy": standard(sizes=(3, 4)),
    "squared_error-jacobian": lecture(sizes=(3, 4), softmax_grad="jacobian"),
    "squared_error-diagonal": lecture(sizes=(3, 4)),
}


def _delta_by_matrices(name: str, Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """dLoss/dZ row by row with the explicit softmax Jacobian J = diag(p) - p p^T."""
    n, k = Z.shape
    rows = []
    for z, y in zip(Z, Y, strict=True):
        p = softmax(z[None])[0]
        J = np.diag(p) - np.outer(p, p)
        # d(-sum y log p)/dp for cross-entropy; d(mean (p - y)^2)/dp for squared error
        dL_dp = -y / p if name == "cross_entropy" else 2 * (p - y) / k
        if name == "squared_error-diagonal":
            J = np.diag(np.diag(J))  # the material's a (1 - a): the diagonal only
        rows.append(J @ dL_dp / n)  # J is symmetric; 1/n: the batch mean
    return np.array(rows)


@pytest.mark.parametrize("name", list(DELTA_SPECS), ids=list(DELTA_SPECS))
def test_output_delta_against_explicit_jacobian(name: str, rng: np.random.Generator) -> None:
    Z = rng.standard_normal((5, 4))
    Y = one_hot(np.array([0, 3, 1, 2, 2]), 4)
    got = output_delta(DELTA_SPECS[name], softmax(Z), Y)
    assert_close(
        got,
        _delta_by_matrices(name, Z, Y),
        stage="gradients",
        tensor="delta",
        dtype="float64",
        pair=("output_delta", "explicit Jacobian"),
    )


# ------------------------------------------------------------------ extreme inputs

EXTREME_Z = {
    "pm1000": np.array([[-1000.0, 1000.0, 0.0]]),
    "pm1e308": np.array([[-1e308, 1e308, 0.0]]),
    "pm-max-float": np.array([[-BIG, BIG, 1.0]]),
    "all-plus-1e308": np.array([[1e308, 1e308, 1e308]]),
    "all-minus-1e308": np.array([[-1e308, -1e308, -1e308]]),
    "mixed-rows": np.array([[-1000.0, 0.5, 1000.0], [-1e308, -1e308, 0.0], [710.0, -710.0, 0]]),
}
EXTREME_IDS = list(EXTREME_Z)


@pytest.mark.parametrize("case", EXTREME_IDS, ids=EXTREME_IDS)
def test_sigmoid_extreme(case: str) -> None:
    Z = EXTREME_Z[case]
    with raising():
        A = sigmoid(Z)
        G = sigmoid_grad(Z, A)
    assert np.isfinite(A).all() and np.isfinite(G).all(), f"sigmoid({Z}) = {A}, grad {G}"
    # The limits: 0 far below, 1 far above, derivative 0 at both ends.
    far = np.abs(Z) >= 1000
    assert np.array_equal(A[far], (Z[far] > 0).astype(float)), f"sigmoid({Z[far]}) = {A[far]}"
    assert np.array_equal(G[far], np.zeros(far.sum())), f"sigmoid'({Z[far]}) = {G[far]}"
    assert ((A >= 0) & (A <= 1)).all(), f"sigmoid({Z}) = {A} leaves [0, 1]"


@pytest.mark.parametrize("case", EXTREME_IDS, ids=EXTREME_IDS)
def test_tanh_extreme(case: str) -> None:
    Z = EXTREME_Z[case]
    with raising():
        A = tanh(Z)
        G = DERIVATIVES["tanh"](Z, A)
    far = np.abs(Z) >= 1000
    assert np.array_equal(A[far], np.sign(Z[far])), f"tanh({Z[far]}) = {A[far]}"
    assert np.array_equal(G[far], np.zeros(far.sum())), f"tanh'({Z[far]}) = {G[far]}"


@pytest.mark.parametrize("case", EXTREME_IDS, ids=EXTREME_IDS)
def test_softmax_extreme(case: str) -> None:
    Z = EXTREME_Z[case]
    with raising():
        P = softmax(Z)
    assert np.isfinite(P).all(), f"softmax({Z.tolist()}) = {P.tolist()}"
    assert_close(
        P.sum(axis=1), np.ones(Z.shape[0]), stage="forward", tensor="row sums", dtype="float64"
    )
    for row, (z, p) in enumerate(zip(Z, P, strict=True)):
        top = z == z.max()
        if top.all():
            expected = np.full(z.size, 1 / z.size)  # all equal: uniform
        elif z[~top].max() <= z.max() - 1000:
            expected = top / top.sum()  # exp(-1000) is 0: one-hot (ties share the mass)
        else:
            continue
        assert_close(p, expected, stage="forward", tensor=f"softmax row {row}", dtype="float64")


@pytest.mark.parametrize("case", EXTREME_IDS, ids=EXTREME_IDS)
def test_log_softmax_extreme(case: str) -> None:
    Z = EXTREME_Z[case]
    with raising():
        out = log_softmax(Z)
    assert not np.isnan(out).any(), f"log_softmax({Z.tolist()}) = {out.tolist()}"
    assert (out <= 0).all(), f"log_softmax({Z.tolist()}) = {out.tolist()} > 0"
    top = Z.max(axis=1, keepdims=True) == Z
    single = top.sum(axis=1) == 1
    assert (out[top & single[:, None]] == 0).all(), f"log p of a clear winner must be 0: {out}"


@pytest.mark.parametrize("case", EXTREME_IDS, ids=EXTREME_IDS)
def test_cross_entropy_extreme_logits(case: str) -> None:
    # The loss at the winning class: log_softmax there is exactly 0 when it leads by >= 1000
    # (so the loss is 0); at a losing class the loss is the gap (inf when it overflows).
    Z = EXTREME_Z[case]
    winner = one_hot(Z.argmax(axis=1), Z.shape[1])
    with raising():
        value = cross_entropy(Z, winner)
    assert not np.isnan(value), f"cross_entropy({Z.tolist()}, argmax) is NaN"
    assert value >= 0, f"cross_entropy({Z.tolist()}, argmax) = {value}"


def test_material_sigmoid_derivative_overflows_ours_does_not() -> None:
    z = np.array([-1000.0])
    # exp(1000) overflows to inf (warning), then inf / inf is NaN (a second warning).
    with pytest.warns(RuntimeWarning) as caught:
        theirs = material.sigmoid(z, derivative=True)
    messages = [str(w.message) for w in caught]
    assert any("overflow" in m for m in messages), f"expected an overflow warning: {messages}"
    assert np.isnan(theirs).all(), f"the material's exp(-z)/(exp(-z)+1)**2 gave {theirs}, not NaN"
    with raising():
        ours = sigmoid_grad(z, sigmoid(z))
    assert ours.tolist() == [0.0], f"sigmoid'(-1000) = {ours}, want 0 (the limit)"


@pytest.mark.parametrize("z", [-30.0, -1.0, 0.0, 0.7, 25.0], ids=lambda z: f"z={z}")
def test_material_sigmoid_and_ours_agree_where_it_is_defined(z: float) -> None:
    Z = np.array([[z]])
    assert_close(
        sigmoid(Z),
        material.sigmoid(Z),
        stage="forward",
        tensor="sigmoid",
        dtype="float64",
        pair=("ours", "material"),
    )
    assert_close(
        sigmoid_grad(Z, sigmoid(Z)),
        material.sigmoid(Z, derivative=True),
        stage="forward",
        tensor="sigmoid'",
        dtype="float64",
        pair=("ours", "material"),
    )


NET_CASES = [
    (activation, loss_name, scale)
    for activation in ("sigmoid", "tanh", "relu")
    for loss_name in ("cross_entropy", "squared_error")
    for scale in (1000.0, -1000.0, "mixed")
]


def _net_spec(activation: str, loss_name: str):
    if loss_name == "squared_error":
        return lecture(sizes=(6, 5, 4, 3), activation=activation)
    return standard(sizes=(6, 5, 4, 3), activation=activation)


@pytest.mark.parametrize(
    ("activation", "loss_name", "scale"),
    NET_CASES,
    ids=[f"{a}-{lo}-{s}" for a, lo, s in NET_CASES],
)
def test_forward_loss_gradients_extreme_inputs(
    activation: str, loss_name: str, scale: object, rng: np.random.Generator
) -> None:
    spec = _net_spec(activation, loss_name)
    if scale == "mixed":
        X = rng.choice([-1000.0, 1000.0, 0.0, 1e-3], size=(8, 6))
    else:
        X = np.full((8, 6), scale)
    params = {k: rng.standard_normal(s) for k, s in spec.param_shapes().items()}
    y = rng.integers(0, 3, 8)
    with raising():
        P, _ = forward(spec, params, X)
        value = loss(spec, params, X, y)
        grads = gradients(spec, params, X, y)
    assert np.isfinite(P).all() and np.isfinite(value), f"probs {P}, loss {value}"
    assert_close(P.sum(axis=1), np.ones(8), stage="forward", tensor="row sums", dtype="float64")
    for key, grad in grads.items():
        assert np.isfinite(grad).all(), f"d{key} not finite for inputs {scale}: {grad}"


def test_forward_with_pre_activations_near_float_max() -> None:
    # Weights +-1 on one input of +-1e308 put the hidden pre-activations at +-1e308 exactly
    # (no product overflows); sigmoid saturates to 0/1 and everything downstream is finite.
    spec = standard(sizes=(1, 2, 2))
    params = {
        "W1": np.array([[1.0], [-1.0]]),
        "b1": np.zeros(2),
        "W2": np.array([[2.0, -1.0], [-1.0, 2.0]]),
        "b2": np.zeros(2),
    }
    X = np.array([[1e308], [-1e308], [-BIG]])
    y = np.array([0, 1, 1])
    with raising():
        P, cache = forward(spec, params, X)
        grads = gradients(spec, params, X, y)
    assert cache.A[1].tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], f"A1 {cache.A[1]}"
    assert np.isfinite(P).all(), f"probs {P}"
    assert all(np.isfinite(g).all() for g in grads.values()), f"grads {grads}"
    # The hidden deltas vanish at saturation: sigmoid' = a (1 - a) = 0 exactly.
    assert np.array_equal(grads["W1"], np.zeros((2, 1))), f"dW1 {grads['W1']}"


def test_softmax_output_of_huge_logits_through_forward() -> None:
    # No hidden layer: the inputs are the logits. A row spanning -1e308..1e308 is one-hot.
    spec = standard(sizes=(3, 3), bias=False)
    params = {"W1": np.eye(3)}
    X = np.array([[-1e308, 1e308, 0.0], [1000.0, -1000.0, 0.0]])
    with raising():
        P, _ = forward(spec, params, X)
        value = loss(spec, params, X, np.array([1, 0]))
    assert P.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], f"softmax {P.tolist()}"
    assert value == 0.0, f"cross-entropy of certain, correct predictions: {value}, want 0"
