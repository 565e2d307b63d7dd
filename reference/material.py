"""The teaching material's network, transcribed as the material writes it.

This is the baseline the ``lecture`` preset is checked against (tests) and raced against
(benchmarks); the library never uses it. It is deliberately NOT improved: per-sample loop,
1-D vectors, ``np.outer`` updates, the overflowing sigmoid derivative and the softmax
"derivative" ``a*(1-a)``. Only the global ``np.random`` init was replaced by given params, and
the params dict holds only weights (the material also stores activations in it).
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def sigmoid(x: Array, derivative: bool = False) -> Array:
    if derivative:
        return (np.exp(-x)) / ((np.exp(-x) + 1) ** 2)
    return 1 / (1 + np.exp(-x))


def softmax(x: Array, derivative: bool = False) -> Array:
    # Numerically stable with large exponentials
    exps = np.exp(x - x.max())
    if derivative:
        return exps / np.sum(exps, axis=0) * (1 - exps / np.sum(exps, axis=0))
    return exps / np.sum(exps, axis=0)


def forward_pass(params: dict[str, Array], x_train: Array) -> dict[str, Array]:
    """One sample x (784,) through 784-128-64-10; returns the activations the material keeps."""
    cache = {"A0": x_train}
    cache["Z1"] = np.dot(params["W1"], cache["A0"])
    cache["A1"] = sigmoid(cache["Z1"])
    cache["Z2"] = np.dot(params["W2"], cache["A1"])
    cache["A2"] = sigmoid(cache["Z2"])
    cache["Z3"] = np.dot(params["W3"], cache["A2"])
    cache["A3"] = softmax(cache["Z3"])
    return cache


def backward_pass(params: dict[str, Array], cache: dict[str, Array], y_train: Array) -> dict:
    """The material's weight changes for one sample (y_train one-hot, (10,))."""
    output = cache["A3"]
    change_w = {}
    # Calculate W3 update
    error = 2 * (output - y_train) / output.shape[0] * softmax(cache["Z3"], derivative=True)
    change_w["W3"] = np.outer(error, cache["A2"])
    # Calculate W2 update
    error = np.dot(params["W3"].T, error) * sigmoid(cache["Z2"], derivative=True)
    change_w["W2"] = np.outer(error, cache["A1"])
    # Calculate W1 update
    error = np.dot(params["W2"].T, error) * sigmoid(cache["Z1"], derivative=True)
    change_w["W1"] = np.outer(error, cache["A0"])
    return change_w


def train(
    params: dict[str, Array], x_train: Array, y_train: Array, l_rate: float = 0.001, epochs: int = 1
) -> dict[str, Array]:
    """The material's loop: every sample in dataset order, one SGD step each, ``epochs`` times.

    x_train (n, 784) floats, y_train (n, 10) one-hot. Returns new params (inputs untouched).
    """
    params = {key: value.copy() for key, value in params.items()}
    for _ in range(epochs):
        for x, y in zip(x_train, y_train, strict=True):
            cache = forward_pass(params, x)
            changes_to_w = backward_pass(params, cache, y)
            for key, value in changes_to_w.items():
                params[key] -= l_rate * value
    return params
