"""Losses on the softmax output and the delta they send into the output layer.

Convention: a loss is the MEAN over the batch of a per-sample loss, so gradients of a batch of
one are exactly the material's per-sample gradients and any batch size gives comparable numbers.
"""

from __future__ import annotations

import numpy as np

from reference.activations import log_softmax
from reference.spec import Spec

Array = np.ndarray


def cross_entropy(Z: Array, Y: Array) -> float:
    """Mean over the batch of -sum_k Y log softmax(Z); Z logits (n, k), Y one-hot (n, k)."""
    # Only where Y != 0: a class with log-probability -inf and target 0 contributes 0, not NaN.
    terms = np.multiply(Y, log_softmax(Z), out=np.zeros_like(Z), where=Y != 0)
    return float(-terms.sum() / Z.shape[0])


def squared_error(P: Array, Y: Array) -> float:
    """Mean over the batch of the mean over the k outputs of (P - Y)²; P, Y (n, k)."""
    n, k = P.shape
    return float(((P - Y) ** 2).sum() / (n * k))


def loss_value(spec: Spec, Z: Array, P: Array, Y: Array) -> float:
    """The spec's loss from output logits Z and probabilities P = softmax(Z), both (n, k)."""
    if spec.loss == "cross_entropy":
        return cross_entropy(Z, Y)
    return squared_error(P, Y)


def output_delta(spec: Spec, P: Array, Y: Array) -> Array:
    """dLoss/dZ at the output layer, (n, k), for the batch-mean loss (so it carries 1/n)."""
    n, k = P.shape
    if spec.loss == "cross_entropy":
        # Softmax followed by cross-entropy: dL/dZ = P - Y (the softmax Jacobian and the
        # derivative of -log cancel). This identity holds for this pair only.
        return (P - Y) / n
    # Squared error averaged over k outputs: dL/dP = 2 (P - Y) / k per sample (the material's
    # 2*(output - y)/output.shape[0]), then through softmax.
    G = 2 * (P - Y) / (k * n)
    if spec.softmax_grad == "diagonal":
        # The material's "softmax derivative" a*(1-a) is only the Jacobian's diagonal: it drops
        # the cross terms -a_i a_j. This is NOT the gradient of the loss (gradcheck shows it).
        return G * (P * (1 - P))
    # True chain rule: dL/dZ_j = sum_i G_i dP_i/dZ_j = P_j (G_j - sum_i G_i P_i).
    return P * (G - (G * P).sum(axis=1, keepdims=True))
