"""The contract on its own: the input checks every implementation shares, prepare(), the
history a user may return as a plain mapping, and require_support."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from frameworks.contract import (
    History,
    Unsupported,
    as_history,
    as_inputs,
    as_labels,
    as_orders,
    as_params,
    prepare,
    require_support,
)
from reference.spec import standard

SPEC = standard(sizes=(4, 3, 2), epochs=2, batch_size=2)


def _params(dtype: str = "float64") -> dict[str, np.ndarray]:
    return {key: np.full(shape, 0.5, dtype=dtype) for key, shape in SPEC.param_shapes().items()}


# --------------------------------------------------------------------------- params


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("b2"), r"missing \['b2'\], unexpected \[\]"),
        (lambda p: p.update(W3=np.zeros((1, 1))), r"missing \[\], unexpected \['W3'\]"),
        (lambda p: p.update(W1=np.zeros((4, 3))), r"params\['W1'\] has shape \(4, 3\), the spec"),
        (lambda p: p.update(b1=np.zeros(3, dtype=complex)), r"params\['b1'\] has dtype complex128"),
        (lambda p: p.update(b1=np.zeros(3, dtype=bool)), r"params\['b1'\] has dtype bool"),
        (lambda p: p["W2"].__setitem__((1, 2), np.nan), r"params\['W2'\] is not finite at \(1,"),
    ],
    ids=["missing-key", "extra-key", "transposed", "complex", "bool", "nan"],
)
def test_bad_params_say_what_and_where(change, message):
    params = _params()
    change(params)
    with pytest.raises(ValueError, match=message):
        as_params(SPEC, params)


def test_params_come_back_in_the_spec_dtype_without_a_copy_when_they_already_are():
    given = _params()
    checked = as_params(SPEC, given)
    assert all(checked[k] is given[k] for k in given)
    as32 = as_params(SPEC.replace(dtype="float32"), given)
    assert all(v.dtype == np.float32 for v in as32.values())
    ints = as_params(SPEC, {k: np.ones(v.shape, dtype=np.int64) for k, v in given.items()})
    assert all(v.dtype == np.float64 for v in ints.values())


# --------------------------------------------------------------------------- inputs, labels


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros((3, 5)), r"X has shape \(3, 5\); the spec needs \(n_samples, 4\)"),
        (np.zeros(4), r"X has shape \(4,\)"),
        (np.zeros((3, 4), dtype=complex), "X has dtype complex128"),
        (np.array([[0.0, 1.0, np.inf, 0.0]]), r"X is not finite at \(0, 2\)"),
    ],
    ids=["features", "one-dimensional", "complex", "inf"],
)
def test_bad_inputs_say_what_and_where(X, message):
    with pytest.raises(ValueError, match=message):
        as_inputs(SPEC, X)


def test_finite_inputs_whose_sum_overflows_pass():
    big = np.full((2, 4), np.finfo(np.float64).max / 2)
    assert as_inputs(SPEC, big) is big


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.zeros((3, 1), dtype=int), r"y has shape \(3, 1\); need \(3,\)"),
        (np.zeros(2, dtype=int), r"y has shape \(2,\); need \(3,\)"),
        (np.zeros(3), "y has dtype float64; labels must be integers 0..1"),
        (np.array([0, 2, 1]), r"label y\[1\] = 2 is out of range 0..1"),
        (np.array([0, -1, 1]), r"label y\[1\] = -1 is out of range 0..1"),
    ],
    ids=["column", "count", "float", "above", "negative"],
)
def test_bad_labels_say_what_and_where(y, message):
    with pytest.raises(ValueError, match=message):
        as_labels(SPEC, y, 3)


def test_labels_come_back_int64():
    assert as_labels(SPEC, np.array([1, 0], dtype=np.int8), 2).dtype == np.int64


# --------------------------------------------------------------------------- orders


@pytest.mark.parametrize(
    ("orders", "message"),
    [
        ([np.arange(3)], "batch order has 1 epochs; the spec trains 2"),
        ([np.arange(3), np.array([], dtype=int)], "epoch 1 must be a non-empty 1-D int array"),
        ([np.arange(3), np.arange(3.0)], "epoch 1 must be a non-empty 1-D int array"),
        ([np.arange(3), np.arange(4)], r"epoch 1 indexes outside 0..2 \(min 0, max 3\)"),
        ([np.array([-1, 0]), np.arange(3)], r"epoch 0 indexes outside 0..2 \(min -1, max 0\)"),
    ],
    ids=["epochs", "empty", "float", "too-large", "negative"],
)
def test_bad_orders_name_the_epoch(orders, message):
    with pytest.raises(ValueError, match=message):
        as_orders(orders, 2, 3)


def test_orders_none_is_dataset_order_and_a_2d_plan_is_one_order_per_epoch():
    assert [o.tolist() for o in as_orders(None, 2, 3)] == [[0, 1, 2], [0, 1, 2]]
    plan = np.array([[2, 0, 1], [1, 2, 0]])
    assert [o.tolist() for o in as_orders(plan, 2, 3)] == [[2, 0, 1], [1, 2, 0]]


# --------------------------------------------------------------------------- prepare


def test_prepare_checks_everything_once():
    X, y = np.zeros((3, 4), dtype=np.float32), np.array([0, 1, 1])
    given = prepare(SPEC, _params(), X, y, None, eval_data=(X[:2], y[:2]))
    assert given.X.dtype == np.float64 and given.labels.dtype == np.int64
    assert len(given.plan) == SPEC.epochs and given.eval_data is not None
    assert given.eval_data[0].shape == (2, 4)
    with pytest.raises(ValueError, match=r"label y\[0\] = 5"):
        prepare(SPEC, _params(), X, y, None, eval_data=(X[:1], np.array([5])))


# --------------------------------------------------------------------------- history


@pytest.mark.parametrize(
    "returned",
    [
        History(loss=[1.0, 0.5], accuracy=[0.1, 0.2], seconds=[0.1, 0.1], steps=4),
        {"loss": [1.0, 0.5], "accuracy": [0.1, 0.2], "seconds": [0.1, 0.1], "steps": 4},
        SimpleNamespace(loss=(1.0, 0.5), accuracy=np.array([0.1, 0.2]), seconds=[0.1] * 2, steps=4),
    ],
    ids=["history", "mapping", "object"],
)
def test_a_history_may_be_a_plain_mapping_or_object(returned):
    history = as_history(returned)
    assert history == History(loss=[1.0, 0.5], accuracy=[0.1, 0.2], seconds=[0.1, 0.1], steps=4)
    assert all(isinstance(v, float) for v in history.loss + history.accuracy)


def test_seconds_and_steps_are_optional_loss_and_accuracy_are_not():
    assert as_history({"loss": [1.0], "accuracy": [0.5]}) == History([1.0], [0.5], [], 0)
    with pytest.raises(TypeError, match="history must have 'loss' and 'accuracy'"):
        as_history({"loss": [1.0]})


def test_require_support_raises_the_frameworks_reason():
    refusing = SimpleNamespace(name="mine", supports=lambda spec: "no biases here")
    with pytest.raises(Unsupported, match="mine cannot express this spec: no biases here"):
        require_support(refusing, SPEC)  # type: ignore[arg-type]
    require_support(SimpleNamespace(name="ok", supports=lambda spec: None), SPEC)  # type: ignore[arg-type]
