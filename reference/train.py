"""Plain mini-batch SGD over a given batch order: the reference's training loop."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

# The contract's types and checks, bound here by name (the selftest swaps some of them here).
from frameworks.contract import (
    History,
    Orders,
    Params,
    StepCallback,
    as_inputs,
    as_labels,
    as_orders,
    as_params,
)
from reference.losses import loss_value
from reference.model import backward_unchecked, forward_unchecked, one_hot, predict
from reference.persample import SampleStepper
from reference.spec import Spec

Array = np.ndarray


def sgd_step(params: Params, grads: Params, lr: float) -> Params:
    """New params ``W - lr * dW`` for every key (inputs untouched)."""
    return {key: value - lr * grads[key] for key, value in params.items()}


def batches(order: Array, batch_size: int) -> list[Array]:
    """Consecutive chunks of ``order``; the last one is kept even when it is smaller."""
    return [order[i : i + batch_size] for i in range(0, order.shape[0], batch_size)]


def train(
    spec: Spec,
    params: Mapping[str, object],
    X: object,
    y: object,
    orders: Orders | None = None,
    *,
    eval_data: tuple[object, object] | None = None,
    on_step: StepCallback | None = None,
) -> tuple[Params, History]:
    """Train a copy of ``params`` with SGD for ``spec.epochs`` epochs over the given order.

    X (n_samples, n_features), y (n_samples,) integer labels, orders one index array per epoch
    (see ``as_orders``), eval_data (X_test, y_test) for per-epoch accuracy. Returns the trained
    params and the History; the given params are not modified.
    """
    p = {key: value.copy() for key, value in as_params(spec, params).items()}
    X = as_inputs(spec, X)
    Y = one_hot(as_labels(spec, y, X.shape[0]), spec.n_classes, spec.dtype)
    plan = as_orders(orders, spec.epochs, X.shape[0])
    if eval_data is not None:
        X_eval = as_inputs(spec, eval_data[0])
        y_eval = as_labels(spec, eval_data[1], X_eval.shape[0])
    history = History()
    if spec.batch_size == 1:
        stepper = SampleStepper(spec, p)

        def step(idx: Array) -> float:
            return stepper.step(X[idx[0]], Y[idx[0]])

        snapshot = stepper.params
    else:

        def step(idx: Array) -> float:
            return _step(spec, p, X[idx], Y[idx])

        def snapshot() -> Params:
            return {key: value.copy() for key, value in p.items()}

    for order in plan:
        start = time.perf_counter()
        total = 0.0
        for idx in batches(order, spec.batch_size):
            total += step(idx) * idx.shape[0]
            history.steps += 1
            if on_step is not None:
                on_step(history.steps, snapshot)
        history.seconds.append(time.perf_counter() - start)
        history.loss.append(total / order.shape[0])
        if eval_data is not None:
            history.accuracy.append(float((predict(spec, snapshot(), X_eval) == y_eval).mean()))
    return snapshot(), history


def _step(spec: Spec, p: Params, Xb: Array, Yb: Array) -> float:
    """One in-place SGD step on the loop's own params copy; returns the batch loss before it."""
    P, cache = forward_unchecked(spec, p, Xb)
    batch_loss = loss_value(spec, cache.Z[spec.n_layers], P, Yb)
    grads = backward_unchecked(spec, p, cache, Yb)
    for key, grad in grads.items():
        grad *= spec.lr  # the grads are this step's own: scale in place, no temporary
        p[key] -= grad
    return batch_loss
