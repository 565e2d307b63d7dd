"""The hand-written MLP: init, forward, backward, loss, predict: pure functions of a params dict.

Layout: ``W{l}`` is (fan_out, fan_in) as in the material and ``torch.nn.Linear.weight``,
``b{l}`` is (fan_out,). A layer computes ``Z = A_prev @ W.T + b`` on row-major batches
(one sample per row), so ``Z`` is (n, fan_out). Hidden layers apply ``spec.activation``; the
output applies softmax. Gradients share the params' keys and are of the batch-MEAN loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from frameworks.contract import Params, as_inputs, as_labels, as_params
from reference.activations import ACTIVATIONS, DERIVATIVES, softmax
from reference.losses import loss_value, output_delta
from reference.spec import Spec

Array = np.ndarray


@dataclass(frozen=True)
class Cache:
    """What backward needs from forward: Z[l] for l = 1..L and A[l] for l = 0..L (A[0] = X)."""

    Z: dict[int, Array]
    A: dict[int, Array]


# --------------------------------------------------------------------------- initialization


def init_params(spec: Spec) -> Params:
    """The one set of initial weights every implementation starts from (seeded by spec.seed).

    Drawn in float64 and rounded to ``spec.dtype``, so a float32 run starts from the float64
    run's weights rounded to float32. Schemes (``spec.init``):
      lecture  W ~ randn(out, in) * sqrt(1/out), b = 0 (the material's formula)
      glorot   W, b ~ U(-r, r), r = sqrt(f / (in + out)), f = 2 for sigmoid else 6 (scikit-learn)
      torch    W, b ~ U(-r, r), r = 1 / sqrt(in) (torch.nn.Linear's default)
    """
    rng = np.random.default_rng(spec.seed)
    params: Params = {}
    for key, shape in spec.param_shapes().items():
        fan_out = shape[0]
        fan_in = spec.sizes[int(key[1:]) - 1]
        params[key] = _draw(spec, rng, key[0], shape, fan_in, fan_out)
    return params


def _draw(
    spec: Spec,
    rng: np.random.Generator,
    kind: str,
    shape: tuple[int, ...],
    fan_in: int,
    fan_out: int,
) -> Array:
    if spec.init == "lecture":
        if kind == "b":
            return np.zeros(shape, dtype=spec.dtype)
        return (rng.standard_normal(shape) * np.sqrt(1.0 / fan_out)).astype(spec.dtype)
    if spec.init == "glorot":
        factor = 2.0 if spec.activation == "sigmoid" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
    else:
        bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(spec.dtype)


# --------------------------------------------------------------------------- targets


def one_hot(y: Array, n_classes: int, dtype: str | np.dtype = "float64") -> Array:
    """Integer labels (n,) -> one-hot rows (n, n_classes); e.g. 7 -> [0 0 0 0 0 0 0 1 0 0]."""
    Y = np.zeros((y.shape[0], n_classes), dtype=dtype)
    Y[np.arange(y.shape[0]), y] = 1
    return Y


# --------------------------------------------------------------------------- the math


def forward_unchecked(spec: Spec, params: Params, X: Array) -> tuple[Array, Cache]:
    """``forward`` on inputs already checked (params and X in the spec's dtype): the math alone."""
    L = spec.n_layers
    f = ACTIVATIONS[spec.activation]
    Z: dict[int, Array] = {}
    A: dict[int, Array] = {0: X}
    for l in range(1, L + 1):
        Z[l] = A[l - 1] @ params[f"W{l}"].T  # (n, fan_in) @ (fan_in, fan_out) -> (n, fan_out)
        if spec.bias:
            Z[l] += params[f"b{l}"]
        A[l] = f(Z[l]) if l < L else softmax(Z[l])
    return A[L], Cache(Z, A)


def backward_unchecked(spec: Spec, params: Params, cache: Cache, Y: Array) -> Params:
    """``backward`` on checked params and one-hot Y (n, n_classes): the chain rule alone."""
    L = spec.n_layers
    Z, A = cache.Z, cache.A
    f_grad = DERIVATIVES[spec.activation]
    grads: Params = {}
    delta = output_delta(spec, A[L], Y)  # dLoss/dZ[L], (n, n_classes), carries the 1/n
    for l in range(L, 0, -1):
        grads[f"W{l}"] = delta.T @ A[l - 1]  # (fan_out, n) @ (n, fan_in): summed over the batch
        if spec.bias:
            grads[f"b{l}"] = delta.sum(axis=0)  # (fan_out,)
        if l > 1:
            # Chain rule into the layer below: (n, fan_out) @ (fan_out, fan_in) -> (n, fan_in)
            delta = delta @ params[f"W{l}"]
            delta *= f_grad(Z[l - 1], A[l - 1])
    return {key: grads[key] for key in spec.param_keys()}


def forward(spec: Spec, params: Mapping[str, object], X: object) -> tuple[Array, Cache]:
    """Softmax probabilities (n, n_classes) and the cache for ``backward``."""
    return forward_unchecked(spec, as_params(spec, params), as_inputs(spec, X))


def backward(spec: Spec, params: Mapping[str, object], cache: Cache, y: object) -> Params:
    """Gradients of the batch-mean loss w.r.t. every parameter, same keys and shapes as params."""
    p = as_params(spec, params)
    labels = as_labels(spec, y, cache.A[0].shape[0])
    return backward_unchecked(spec, p, cache, one_hot(labels, spec.n_classes, spec.dtype))


def gradients(spec: Spec, params: Mapping[str, object], X: object, y: object) -> Params:
    """forward + backward on one batch: X (n, n_features), integer labels y (n,)."""
    p = as_params(spec, params)
    X = as_inputs(spec, X)
    labels = as_labels(spec, y, X.shape[0])
    _, cache = forward_unchecked(spec, p, X)
    return backward_unchecked(spec, p, cache, one_hot(labels, spec.n_classes, spec.dtype))


def loss(spec: Spec, params: Mapping[str, object], X: object, y: object) -> float:
    """The batch-mean loss that ``gradients`` differentiates."""
    p = as_params(spec, params)
    X = as_inputs(spec, X)
    labels = as_labels(spec, y, X.shape[0])
    P, cache = forward_unchecked(spec, p, X)
    return loss_value(spec, cache.Z[spec.n_layers], P, one_hot(labels, spec.n_classes, P.dtype))


def predict_proba(spec: Spec, params: Mapping[str, object], X: object, chunk: int = 8192) -> Array:
    """Softmax probabilities (n, n_classes), computed in chunks of rows to bound memory."""
    p = as_params(spec, params)
    X = as_inputs(spec, X)
    parts = [forward_unchecked(spec, p, X[i : i + chunk])[0] for i in range(0, X.shape[0], chunk)]
    return np.concatenate(parts) if parts else np.empty((0, spec.n_classes), dtype=spec.dtype)


def predict(spec: Spec, params: Mapping[str, object], X: object) -> Array:
    """Predicted class labels (n,), int64: the argmax of the softmax output."""
    return predict_proba(spec, params, X).argmax(axis=1)
