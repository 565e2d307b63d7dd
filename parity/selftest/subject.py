"""Wrong versions of the subject's functions: each the reference's own code with one mistake.

Every function here has the signature of the reference function it replaces (see the
catalogue for which) and marks its mistake with ``# BUG``. The originals are imported by
value, so a mutant that calls the true function keeps calling it while the patch is on.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from unittest import mock

import numpy as np

from frameworks.contract import History, Orders, Params, StepCallback
from frameworks.contract import as_orders as _true_as_orders
from parity.selftest.patching import Mutated
from reference.activations import DERIVATIVES, sigmoid
from reference.losses import loss_value, output_delta
from reference.model import Cache, backward_unchecked, forward_unchecked
from reference.spec import Spec

Array = np.ndarray
# The module, not the function ``reference.train`` that the package re-exports under its name.
reference_train = importlib.import_module("reference.train")
WeightGrad = Callable[[Array, Array], Array]  # (delta (n, fan_out), A_prev (n, fan_in)) -> dW
BiasGrad = Callable[[Array], Array]  # delta (n, fan_out) -> db (fan_out,)
Update = Callable[[str, Array, Array, float], Array]  # (key, W, dW, lr) -> new W


# --------------------------------------------------------------------------- forward


def softmax_without_shift(Z: Array) -> Array:
    """exp(Z) / sum exp(Z), (n, k) -> (n, k): inf / inf = NaN once a logit passes 709.8."""
    # The student's version warns and returns NaN; the warning is silenced so that a test run
    # (RuntimeWarning is an error under pytest) sees the NaN the judge has to catch.
    with np.errstate(over="ignore", invalid="ignore"):
        E = np.exp(Z)  # BUG: no Z - max(Z) first
        return E / E.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------- derivatives


def sigmoid_grad_of_activation(Z: Array, A: Array) -> Array:
    """sigmoid'(A) = s(A)(1 - s(A)) where s'(Z) = A(1 - A) was meant."""
    S = sigmoid(A)  # BUG: the derivative formula of Z applied to the activation
    return S * (1 - S)


def tanh_grad_of_preactivation(Z: Array, A: Array) -> Array:
    """1 - Z² where 1 - A² = 1 - tanh(Z)² was meant."""
    return 1 - Z * Z  # BUG: the pre-activation where the activation belongs


# --------------------------------------------------------------------------- output delta


def delta_summed_over_batch(spec: Spec, P: Array, Y: Array) -> Array:
    """dL/dZ without the batch mean's 1/n: the gradient of the SUM of per-sample losses."""
    return output_delta(spec, P, Y) * P.shape[0]  # BUG: the 1/n undone


def delta_diagonal_softmax(spec: Spec, P: Array, Y: Array) -> Array:
    """The material's a(1-a) "softmax derivative" although the spec says jacobian."""
    return output_delta(spec.replace(softmax_grad="diagonal"), P, Y)  # BUG


def delta_squared_error_unscaled(spec: Spec, P: Array, Y: Array) -> Array:
    """Squared error's dL/dP taken as (P - Y) / n, the 2/k of its mean over outputs dropped."""
    G = (P - Y) / P.shape[0]  # BUG: 2 * (P - Y) / (k * n)
    return P * (G - (G * P).sum(axis=1, keepdims=True))  # the true Jacobian, as the spec says


# --------------------------------------------------------------------------- targets


def one_hot_one_based(y: Array, n_classes: int, dtype: str | np.dtype = "float64") -> Array:
    """One-hot rows for labels read as 1-based (a MATLAB/R habit): 0 lands in the last column."""
    Y = np.zeros((y.shape[0], n_classes), dtype=dtype)
    Y[np.arange(y.shape[0]), y - 1] = 1  # BUG: y - 1; NumPy's -1 silently means the last class
    return Y


# --------------------------------------------------------------------------- backward


def backward_with(weight_grad: WeightGrad, bias_grad: BiasGrad) -> Callable[..., Params]:
    """``reference.model.backward_unchecked`` with its dW and db lines replaced."""

    def backward(spec: Spec, params: Params, cache: Cache, Y: Array) -> Params:
        L = spec.n_layers
        Z, A = cache.Z, cache.A
        f_grad = DERIVATIVES[spec.activation]
        grads: Params = {}
        delta = output_delta(spec, A[L], Y)  # (n, n_classes), carries the 1/n
        for l in range(L, 0, -1):
            grads[f"W{l}"] = weight_grad(delta, A[l - 1])
            if spec.bias:
                grads[f"b{l}"] = bias_grad(delta)
            if l > 1:
                delta = (delta @ params[f"W{l}"]) * f_grad(Z[l - 1], A[l - 1])
        return {key: grads[key] for key in spec.param_keys()}

    return backward


def weight_grad(delta: Array, A_prev: Array) -> Array:
    """The true dW: (fan_out, n) @ (n, fan_in)."""
    return delta.T @ A_prev


def bias_grad(delta: Array) -> Array:
    """The true db: delta summed over the batch, (fan_out,)."""
    return delta.sum(axis=0)


def bias_grad_averaged(delta: Array) -> Array:
    """db as the batch MEAN of delta, which already carries 1/n: divided by n twice."""
    return delta.mean(axis=0)  # BUG: sum(axis=0)


def weight_grad_transposed_if_square(delta: Array, A_prev: Array) -> Array:
    """The outer product the wrong way round, A_prev.T @ delta, where the shapes let it pass."""
    if delta.shape[1] == A_prev.shape[1]:  # a square layer: numpy raises nowhere
        return A_prev.T @ delta  # BUG: (fan_in, fan_out) = dW.T
    return delta.T @ A_prev  # elsewhere the shapes would not fit, so this was "fixed"


def weight_grad_float32(delta: Array, A_prev: Array) -> Array:
    """dW summed over the batch in float32 (e.g. a float32 buffer), stored back as float64."""
    return (delta.T.astype(np.float32) @ A_prev.astype(np.float32)).astype(delta.dtype)  # BUG


# --------------------------------------------------------------------------- the SGD step


def step_with(update: Update) -> Callable[[Spec, Params, Array, Array], float]:
    """``reference.train._step`` with its update line replaced (in place on the loop's dict)."""

    def step(spec: Spec, p: Params, Xb: Array, Yb: Array) -> float:
        P, cache = forward_unchecked(spec, p, Xb)
        batch_loss = loss_value(spec, cache.Z[spec.n_layers], P, Yb)
        grads = backward_unchecked(spec, p, cache, Yb)
        for key, grad in grads.items():
            p[key] = update(key, p[key], grad, spec.lr)
        return batch_loss

    return step


def ascend(key: str, W: Array, dW: Array, lr: float) -> Array:
    """W + lr dW: a step up the loss."""
    return W + lr * dW  # BUG: the sign


def bias_lr_twice(key: str, W: Array, dW: Array, lr: float) -> Array:
    """The bias update scaled by lr twice (once in the gradient helper, once in the update)."""
    if key.startswith("b"):
        return W - lr * (lr * dW)  # BUG: lr * lr
    return W - lr * dW


def step_updating_as_it_goes(spec: Spec, p: Params, Xb: Array, Yb: Array) -> float:
    """Backprop that updates each layer as soon as its gradient is known, then sends the delta
    down through the UPDATED weights (``reference.train._step``'s signature)."""
    L, lr = spec.n_layers, spec.lr
    P, cache = forward_unchecked(spec, p, Xb)
    batch_loss = loss_value(spec, cache.Z[L], P, Yb)
    Z, A = cache.Z, cache.A
    f_grad = DERIVATIVES[spec.activation]
    delta = output_delta(spec, A[L], Yb)  # (n, n_classes)
    for l in range(L, 0, -1):
        p[f"W{l}"] = p[f"W{l}"] - lr * (delta.T @ A[l - 1])
        if spec.bias:
            p[f"b{l}"] = p[f"b{l}"] - lr * delta.sum(axis=0)
        if l > 1:
            delta = (delta @ p[f"W{l}"]) * f_grad(Z[l - 1], A[l - 1])  # BUG: W{l} already moved
    return batch_loss


# --------------------------------------------------------------------------- batches


def batches_full_only(order: Array, batch_size: int) -> list[Array]:
    """Consecutive chunks of ``order``, the last, smaller one left out."""
    stop = order.shape[0] - batch_size + 1  # BUG: the remainder never makes a batch
    return [order[i : i + batch_size] for i in range(0, stop, batch_size)]


def orders_drawn_once(orders: Orders, n_epochs: int, n_samples: int) -> list[Array]:
    """The first epoch's order for every epoch: a shuffle drawn once, before the epoch loop."""
    first = _true_as_orders(orders, n_epochs, n_samples)[0]
    return [first] * n_epochs  # BUG: the plan's later epochs are never used


def orders_in_file_order(orders: Orders, n_epochs: int, n_samples: int) -> list[Array]:
    """Every epoch in dataset order: the plan the judge passes is ignored."""
    return [np.arange(n_samples)] * n_epochs  # BUG: the given orders are never read


# --------------------------------------------------------------------------- init


def init_fan_in(spec: Spec) -> Params:
    """The material's init randn(out, in) * sqrt(1/out), written with sqrt(1/in)."""
    rng = np.random.default_rng(spec.seed)
    params: Params = {}
    for key, shape in spec.param_shapes().items():
        if key.startswith("b"):
            params[key] = np.zeros(shape, dtype=spec.dtype)
            continue
        fan_in = shape[1]
        params[key] = (rng.standard_normal(shape) * np.sqrt(1.0 / fan_in)).astype(spec.dtype)  # BUG
    return params


# --------------------------------------------------------------------------- data


def pixels(X: Array) -> Array:
    """The 8-bit pixel values (0..255) behind images given as pixels / 255."""
    return np.rint(np.asarray(X, dtype=np.float64) * 255.0)


def divided_by_256(X_train: Array, X_test: Array) -> tuple[Array, Array]:
    """Pixels scaled by 1/256 (the byte range's size) instead of 1/255 (its maximum)."""
    return pixels(X_train) / 256.0, pixels(X_test) / 256.0  # BUG: 256


def unscaled_test_set(X_train: Array, X_test: Array) -> tuple[Array, Array]:
    """The training images divided by 255, the test images left as 0..255."""
    return X_train, pixels(X_test)  # BUG: the test set skipped the / 255


# --------------------------------------------------------------------------- what train reports


class EpochLossUnweighted(Mutated):
    """Reports each epoch's loss as the plain mean of its batch losses, so the smaller last
    batch weighs as much as a full one (the reference weights each by its size)."""

    def train(
        self,
        spec: Spec,
        params: Params,
        X: Array,
        y: Array,
        orders: Orders,
        *,
        eval_data: tuple[Array, Array] | None = None,
        on_step: StepCallback | None = None,
    ) -> tuple[Params, History]:
        losses: list[float] = []
        true_step = reference_train._step

        def recording_step(spec: Spec, p: Params, Xb: Array, Yb: Array) -> float:
            losses.append(true_step(spec, p, Xb, Yb))
            return losses[-1]

        with swap_step(recording_step):
            params, history = super().train(
                spec, params, X, y, orders, eval_data=eval_data, on_step=on_step
            )
        per_epoch = np.array_split(np.array(losses), len(history.loss))
        history.loss = [float(np.mean(epoch)) for epoch in per_epoch]  # BUG: unweighted mean
        return params, history


class AccuracyOnTrainingData(Mutated):
    """Scores each epoch on the training data it was handed instead of the evaluation data."""

    def train(
        self,
        spec: Spec,
        params: Params,
        X: Array,
        y: Array,
        orders: Orders,
        *,
        eval_data: tuple[Array, Array] | None = None,
        on_step: StepCallback | None = None,
    ) -> tuple[Params, History]:
        scored_on = (X, y)  # BUG: the training data where eval_data was meant
        return super().train(spec, params, X, y, orders, eval_data=scored_on, on_step=on_step)


def swap_step(step: Callable[..., float]) -> AbstractContextManager[Any]:
    """``reference.train._step`` replaced during the block."""
    return mock.patch.object(reference_train, "_step", step)
