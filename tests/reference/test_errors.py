"""Bad arguments raise ValueError naming the bad value, at every entry point a user calls."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from reference import backward, forward, gradcheck, gradients, loss, predict, train
from reference.spec import Spec, lecture, standard


@contextmanager
def raises_naming(*fragments: str) -> Iterator[None]:
    """Expect a ValueError whose message contains every fragment verbatim."""
    with pytest.raises(ValueError) as caught:
        yield
    message = str(caught.value)
    missing = [f for f in fragments if f not in message]
    assert not missing, f"ValueError {message!r} does not name {missing}"


SPEC = standard(sizes=(4, 3, 2), epochs=1, batch_size=2)


def good_params() -> dict[str, np.ndarray]:
    return {key: np.full(shape, 0.1) for key, shape in SPEC.param_shapes().items()}


GOOD_X = np.arange(12, dtype=float).reshape(3, 4) / 12
GOOD_Y = np.array([0, 1, 1])

# ------------------------------------------------------------------ the Spec

SPEC_ERRORS: dict[str, tuple[dict[str, Any], str]] = {
    # id: (fields, a fragment the message must contain, verbatim)
    "activation-unknown": ({"activation": "softplus"}, "activation='softplus'"),
    "loss-unknown": ({"loss": "hinge"}, "loss='hinge'"),
    "softmax_grad-unknown": ({"softmax_grad": "full"}, "softmax_grad='full'"),
    "init-unknown": ({"init": "he"}, "init='he'"),
    "dtype-unknown": ({"dtype": "float16"}, "dtype='float16'"),
    "lr-zero": ({"lr": 0.0}, "lr=0.0"),
    "lr-negative": ({"lr": -0.1}, "lr=-0.1"),
    "lr-nan": ({"lr": float("nan")}, "lr=nan"),
    "lr-inf": ({"lr": float("inf")}, "lr=inf"),
    "lr-bool": ({"lr": True}, "lr=True"),
    "lr-string": ({"lr": "0.1"}, "lr='0.1'"),
    "batch_size-zero": ({"batch_size": 0}, "batch_size=0"),
    "batch_size-negative": ({"batch_size": -4}, "batch_size=-4"),
    "batch_size-float": ({"batch_size": 2.0}, "batch_size=2.0"),
    "batch_size-bool": ({"batch_size": True}, "batch_size=True"),
    "epochs-zero": ({"epochs": 0}, "epochs=0"),
    "seed-negative": ({"seed": -1}, "seed=-1"),
    "sizes-one-entry": ({"sizes": (784,)}, "sizes=(784,)"),
    "sizes-one-class": ({"sizes": (784, 1)}, "sizes=(784, 1)"),
    "sizes-zero-units": ({"sizes": (784, 0, 10)}, "sizes=(784, 0, 10)"),
    "sizes-float": ({"sizes": (784, 12.5, 10)}, "sizes=(784, 12.5, 10)"),
    "bias-string": ({"bias": "yes"}, "bias='yes'"),
    "bias-int": ({"bias": 1}, "bias=1"),
    "diagonal-with-cross-entropy": (
        {"softmax_grad": "diagonal", "loss": "cross_entropy"},
        "with loss='cross_entropy'",
    ),
}


@pytest.mark.parametrize("case", list(SPEC_ERRORS.values()), ids=list(SPEC_ERRORS))
def test_bad_spec_field(case: tuple[dict[str, Any], str]) -> None:
    fields, fragment = case
    with pytest.raises(ValueError, match=re.escape(fragment)):
        Spec(**fields)


def test_lecture_preset_with_cross_entropy_names_the_conflict() -> None:
    # lecture()'s diagonal softmax derivative is a squared-error shortcut only.
    with pytest.raises(ValueError, match=re.escape("softmax_grad='diagonal'")):
        lecture(loss="cross_entropy")


def test_unknown_activation_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=re.escape("choose one of sigmoid, tanh, relu")):
        Spec(activation="Sigmoid")


# ------------------------------------------------------------------ inputs X

ENTRY_POINTS: dict[str, Callable[[Any, Any, Any], object]] = {
    "forward": lambda p, X, y: forward(SPEC, p, X),
    "gradients": lambda p, X, y: gradients(SPEC, p, X, y),
    "loss": lambda p, X, y: loss(SPEC, p, X, y),
    "predict": lambda p, X, y: predict(SPEC, p, X),
    "train": lambda p, X, y: train(SPEC, p, X, y),
    "gradcheck": lambda p, X, y: gradcheck(SPEC, p, X, y),
}
ENTRY_IDS = list(ENTRY_POINTS)

BAD_X: dict[str, tuple[Any, tuple[str, ...]]] = {
    # id: (X, fragments the message must contain)
    "width-5": (np.zeros((3, 5)), ("X has shape (3, 5); the spec needs (n_samples, 4)",)),
    "width-784-for-4": (np.zeros((3, 784)), ("X has shape (3, 784)",)),
    "one-dimensional": (np.zeros(4), ("X has shape (4,)",)),
    "nan": (np.where(np.arange(12).reshape(3, 4) == 6, np.nan, 0.5), ("X is not finite", ": nan")),
    "inf": (np.where(np.arange(12).reshape(3, 4) == 11, -np.inf, 0.5), ("not finite", ": -inf")),
    "strings": (np.full((3, 4), "a"), ("X has dtype <U1",)),
}


@pytest.mark.parametrize("entry", ENTRY_IDS, ids=ENTRY_IDS)
@pytest.mark.parametrize("case", list(BAD_X.values()), ids=list(BAD_X))
def test_bad_inputs(case: tuple[Any, tuple[str, ...]], entry: str) -> None:
    X, fragments = case
    with raises_naming(*fragments):
        ENTRY_POINTS[entry](good_params(), X, GOOD_Y)


# ------------------------------------------------------------------ params


def _with(key: str, value: object) -> dict[str, object]:
    params: dict[str, object] = dict(good_params())
    params[key] = value
    return params


def _without(key: str) -> dict[str, object]:
    return {k: v for k, v in good_params().items() if k != key}


BAD_PARAMS: dict[str, tuple[Callable[[], dict], tuple[str, ...]]] = {
    # id: (params maker, fragments the message must contain)
    "nan-W2": (
        lambda: _with("W2", np.where(np.eye(2, 3) > 0, np.nan, 0.1)),
        ("params['W2'] is not finite at", ": nan"),
    ),
    "inf-b1": (
        lambda: _with("b1", np.array([0.1, np.inf, 0.1])),
        ("params['b1'] is not finite at", ": inf"),
    ),
    "transposed-W1": (
        lambda: _with("W1", np.zeros((4, 3))),
        ("params['W1'] has shape (4, 3), the spec needs (3, 4)",),
    ),
    "W1-flat": (lambda: _with("W1", np.zeros(12)), ("params['W1'] has shape (12,)",)),
    "b2-column": (lambda: _with("b2", np.zeros((2, 1))), ("params['b2'] has shape (2, 1)",)),
    "strings": (lambda: _with("W2", np.full((2, 3), "x")), ("params['W2'] has dtype <U1",)),
    "missing-b2": (lambda: _without("b2"), ("missing ['b2']",)),
    "extra-W3": (lambda: _with("W3", np.zeros((2, 2))), ("unexpected ['W3']",)),
    "stray-b0": (lambda: _with("b0", np.zeros(3)), ("unexpected ['b0']",)),
}


@pytest.mark.parametrize("entry", ENTRY_IDS, ids=ENTRY_IDS)
@pytest.mark.parametrize("case", list(BAD_PARAMS.values()), ids=list(BAD_PARAMS))
def test_bad_params(case: tuple[Callable[[], dict], tuple[str, ...]], entry: str) -> None:
    make, fragments = case
    with raises_naming(*fragments):
        ENTRY_POINTS[entry](make(), GOOD_X, GOOD_Y)


def test_bad_params_in_backward() -> None:
    _, cache = forward(SPEC, good_params(), GOOD_X)
    with pytest.raises(ValueError, match=re.escape("params['W1'] has shape (4, 3)")):
        backward(SPEC, _with("W1", np.zeros((4, 3))), cache, GOOD_Y)


# ------------------------------------------------------------------ labels

LABEL_ENTRY_POINTS = {k: ENTRY_POINTS[k] for k in ("gradients", "loss", "train", "gradcheck")}
LABEL_ENTRY_IDS = list(LABEL_ENTRY_POINTS)

BAD_LABELS: dict[str, tuple[Any, str]] = {
    "too-large": (np.array([0, 2, 1]), "label y[1] = 2 is out of range 0..1"),
    "negative": (np.array([0, 1, -1]), "label y[2] = -1 is out of range 0..1"),
    "floats": (np.array([0.0, 1.0, 1.0]), "y has dtype float64; labels must be integers 0..1"),
    "bools": (np.array([False, True, True]), "y has dtype bool"),
    "too-short": (np.array([0, 1]), "y has shape (2,); need (3,), one label per row of X"),
    "too-long": (np.array([0, 1, 1, 0]), "y has shape (4,); need (3,)"),
    "one-hot-instead": (np.eye(2)[[0, 1, 1]], "y has shape (3, 2); need (3,)"),
}


@pytest.mark.parametrize("entry", LABEL_ENTRY_IDS, ids=LABEL_ENTRY_IDS)
@pytest.mark.parametrize("case", list(BAD_LABELS.values()), ids=list(BAD_LABELS))
def test_bad_labels(case: tuple[Any, str], entry: str) -> None:
    y, fragment = case
    with pytest.raises(ValueError, match=re.escape(fragment)):
        LABEL_ENTRY_POINTS[entry](good_params(), GOOD_X, y)


@pytest.mark.parametrize("case", list(BAD_LABELS.values()), ids=list(BAD_LABELS))
def test_bad_labels_in_backward(case: tuple[Any, str]) -> None:
    y, fragment = case
    _, cache = forward(SPEC, good_params(), GOOD_X)
    with pytest.raises(ValueError, match=re.escape(fragment)):
        backward(SPEC, good_params(), cache, y)


@pytest.mark.parametrize("case", list(BAD_LABELS.values()), ids=list(BAD_LABELS))
def test_bad_eval_labels_in_train(case: tuple[Any, str]) -> None:
    y, fragment = case
    with pytest.raises(ValueError, match=re.escape(fragment)):
        train(SPEC, good_params(), GOOD_X, GOOD_Y, eval_data=(GOOD_X, y))


def test_bad_eval_inputs_in_train() -> None:
    with pytest.raises(ValueError, match=re.escape("X has shape (3, 5)")):
        train(SPEC, good_params(), GOOD_X, GOOD_Y, eval_data=(np.zeros((3, 5)), GOOD_Y))


# ------------------------------------------------------------------ batch orders

EPOCH_0 = "batch order of epoch 0 must be a non-empty 1-D int array, got "
BAD_ORDERS: dict[str, tuple[Any, str]] = {
    "two-epochs-for-one": ([np.arange(3)] * 2, "batch order has 2 epochs; the spec trains 1"),
    "no-epochs": ([], "batch order has 0 epochs"),
    "float-indices": ([np.array([0.0, 1.0, 2.0])], EPOCH_0 + "shape (3,) dtype float64"),
    "two-dimensional": ([np.arange(4).reshape(2, 2) % 3], EPOCH_0 + "shape (2, 2)"),
    "empty": ([np.array([], dtype=int)], EPOCH_0 + "shape (0,)"),
    "index-too-large": ([np.array([0, 3, 1])], "epoch 0 indexes outside 0..2 (min 0, max 3)"),
    "index-negative": ([np.array([2, -1])], "epoch 0 indexes outside 0..2 (min -1, max 2)"),
}


@pytest.mark.parametrize("batch_size", [1, 2], ids=["per-sample", "vectorized"])
@pytest.mark.parametrize("case", list(BAD_ORDERS.values()), ids=list(BAD_ORDERS))
def test_bad_batch_order(case: tuple[Any, str], batch_size: int) -> None:
    orders, fragment = case
    spec = SPEC.replace(batch_size=batch_size)
    with pytest.raises(ValueError, match=re.escape(fragment)):
        train(spec, good_params(), GOOD_X, GOOD_Y, orders)


def test_bad_order_in_a_later_epoch_names_the_epoch() -> None:
    spec = SPEC.replace(epochs=2)
    with pytest.raises(ValueError, match=re.escape("batch order of epoch 1 indexes outside")):
        train(spec, good_params(), GOOD_X, GOOD_Y, [np.arange(3), np.array([5])])


# ------------------------------------------------------------------ where a non-finite value is


def test_nonfinite_input_location_reads_as_plain_ints() -> None:
    # The message should point at "(1, 2)", not at "(np.int64(1), np.int64(2))" (NumPy 2 reprs).
    X = np.where(np.arange(12).reshape(3, 4) == 6, np.nan, 0.5)
    with raises_naming("X is not finite at (1, 2): nan"):
        forward(SPEC, good_params(), X)


def test_nonfinite_param_location_reads_as_plain_ints() -> None:
    with raises_naming("params['b1'] is not finite at (1,): inf"):
        forward(SPEC, _with("b1", np.array([0.1, np.inf, 0.1])), GOOD_X)


def test_complex_inputs_are_rejected() -> None:
    # Casting complex to float would silently drop the imaginary part.
    X = GOOD_X.astype(complex)
    X[0, 0] += 1j
    with raises_naming("X has dtype complex128"):
        forward(SPEC, good_params(), X)


def test_complex_params_are_rejected() -> None:
    with raises_naming("params['W1'] has dtype complex128"):
        forward(SPEC, _with("W1", np.full((3, 4), 0.1 + 0.5j)), GOOD_X)
