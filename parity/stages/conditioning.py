"""How much rounding may a gradient carry? Its sums of absolute terms, from backprop in |.|.

A gradient entry is a sum, over the batch and the layers above, of products. Two correct
implementations round those sums in different orders, so they may differ by a few ulp of the
sum of the terms' MAGNITUDES, not of the result: when the terms cancel (a class-balanced
batch with nearly constant features, a dead relu layer) the result is tiny and its
relative error large. The magnitudes come from backprop with every factor replaced by its
absolute value (the running error bound of numerical analysis):

    |delta_L| = |dL/dZ_L| terms,  |delta_l| = (|delta_l+1| @ |W_l+1|) * |f'(Z_l)|,
    scale(W_l) = |delta_l|.T @ |A_l-1|,  scale(b_l) = sum over the batch of |delta_l|.

A gradient difference within ``rtol * max(scale)`` is rounding of an ill-conditioned sum; a
wrong gradient is off by a fraction of the terms themselves.
"""

from __future__ import annotations

import numpy as np

from frameworks.contract import Params, as_labels
from reference.activations import DERIVATIVES
from reference.model import forward, one_hot
from reference.spec import Spec

Array = np.ndarray


def output_delta_terms(spec: Spec, P: Array, Y: Array) -> Array:
    """|dL/dZ_L| term by term, (n, k): the magnitudes ``losses.output_delta`` sums."""
    n, k = P.shape
    if spec.loss == "cross_entropy":
        return np.abs(P - Y) / n
    G = np.abs(2 * (P - Y) / (k * n))  # |dL/dP|
    if spec.softmax_grad == "diagonal":
        return G * P * (1 - P)
    return P * (G + (G * P).sum(axis=1, keepdims=True))  # P (G - sum G P), in magnitudes


def gradient_scale(spec: Spec, params: Params, X: Array, y: Array) -> Params:
    """Per key, the sum of absolute terms behind each gradient entry (float64), same shapes
    as params. X (n, n_features), y (n,) int labels."""
    spec = spec.replace(dtype="float64")
    params = {key: np.asarray(value, dtype=np.float64) for key, value in params.items()}
    P, cache = forward(spec, params, X)
    Y = one_hot(as_labels(spec, y, P.shape[0]), spec.n_classes)
    f_grad = DERIVATIVES[spec.activation]
    delta = output_delta_terms(spec, P, Y)  # (n, n_classes)
    scales: Params = {}
    for l in range(spec.n_layers, 0, -1):
        A_prev = cache.A[l - 1]
        scales[f"W{l}"] = delta.T @ np.abs(A_prev)  # (fan_out, n) @ (n, fan_in)
        if spec.bias:
            scales[f"b{l}"] = delta.sum(axis=0)  # (fan_out,)
        if l > 1:
            below = delta @ np.abs(params[f"W{l}"])  # (n, fan_out) @ (fan_out, fan_in)
            delta = below * np.abs(f_grad(cache.Z[l - 1], cache.A[l - 1]))
    return {key: scales[key] for key in spec.param_keys()}
