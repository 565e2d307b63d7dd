"""Hidden activations, their derivatives, and a numerically stable softmax.

Every function is elementwise (or row-wise for softmax) over arrays of any shape ``(n, units)``
and keeps the input's dtype. None of them overflows or returns NaN for inputs like ±1000.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray


def sigmoid(Z: Array) -> Array:
    """1 / (1 + exp(-Z)), evaluated as exp(-|Z|) based halves so that exp never overflows."""
    # The material's 1/(1+exp(-z)) overflows (with a warning) for z < -709; here exp only ever
    # sees -|z| <= 0, and the z < 0 half is written as e/(1+e), which is the same function.
    # Branch-free: with E = exp(-|z|), sigmoid(z) = exp(min(z, 0)) / (1 + E) on both halves.
    # In-place on the function's own temporaries: this runs on every hidden layer every step.
    E = np.abs(Z)
    np.negative(E, out=E)
    np.exp(E, out=E)  # exp(-|z|) in (0, 1]
    N = np.minimum(Z, 0)
    np.exp(N, out=N)  # 1 for z >= 0, exp(z) for z < 0
    E += 1
    N /= E
    return N


def tanh(Z: Array) -> Array:
    """Hyperbolic tangent (NumPy's is already stable)."""
    return np.tanh(Z)


def relu(Z: Array) -> Array:
    """max(Z, 0)."""
    return np.maximum(Z, 0)


# Derivatives take both the pre-activation Z and the activation A = f(Z) and use whichever is
# cheaper and exact: sigmoid' = A(1-A) and tanh' = 1-A² reuse A; relu' needs Z (0 at Z = 0,
# as in torch and scikit-learn). The material's sigmoid' = exp(-z)/(exp(-z)+1)**2 overflows at
# z < -354; A(1-A) cannot.
def sigmoid_grad(Z: Array, A: Array) -> Array:
    """dA/dZ of sigmoid."""
    G = 1 - A
    G *= A
    return G


def tanh_grad(Z: Array, A: Array) -> Array:
    """dA/dZ of tanh."""
    G = A * A
    np.subtract(1, G, out=G)
    return G


def relu_grad(Z: Array, A: Array) -> Array:
    """dA/dZ of relu (0 at Z = 0)."""
    return (Z > 0).astype(Z.dtype)


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
}
DERIVATIVES: dict[str, Callable[[Array, Array], Array]] = {
    "sigmoid": sigmoid_grad,
    "tanh": tanh_grad,
    "relu": relu_grad,
}


def shift_by_max(Z: Array) -> Array:
    """Z minus its row max, (n, k) -> (n, k): every entry <= 0, the max exactly 0."""
    # A row spanning more than the float range (say -1e308 and 1e308) makes the difference
    # overflow to -inf, which is the right limit (exp gives 0); only the warning is dropped.
    with np.errstate(over="ignore"):
        return Z - Z.max(axis=-1, keepdims=True)


def softmax(Z: Array) -> Array:
    """Row-wise softmax, (n, k) -> (n, k); shifted by the row max so exp never overflows."""
    E = np.exp(shift_by_max(Z))
    return E / E.sum(axis=-1, keepdims=True)


def log_softmax(Z: Array) -> Array:
    """Row-wise log(softmax(Z)), (n, k) -> (n, k), without forming softmax (no log(0))."""
    shifted = shift_by_max(Z)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
