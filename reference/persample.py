"""Per-sample SGD (batch size 1), the material's algorithm written for speed.

Same math as ``model.forward_unchecked``/``backward_unchecked`` on one row, with the same
activation, loss and delta functions, but on 1-D vectors with outer-product updates (as the
material does) and two savings that change no number beyond rounding:

- W1 is kept transposed, ``W1T`` (n_features, n_hidden), and a step reads and updates only the
  rows where the input is nonzero: a zero input adds nothing to Z1 and its row of
  outer(x, delta1) is exactly zero. MNIST digits are ~80% zeros.
- updates are applied in place on the loop's own arrays.
"""

from __future__ import annotations

import numpy as np

from frameworks.contract import Params
from reference.activations import ACTIVATIONS, DERIVATIVES, softmax
from reference.losses import loss_value, output_delta
from reference.spec import Spec

Array = np.ndarray


class SampleStepper:
    """Owns a working copy of the params and takes one SGD step per sample."""

    def __init__(self, spec: Spec, params: Params) -> None:
        self.spec = spec
        self.W1T = np.ascontiguousarray(params["W1"].T)  # (n_features, n_hidden)
        self.rest = {key: value.copy() for key, value in params.items() if key != "W1"}

    def params(self) -> Params:
        """A copy of the current params in the reference layout."""
        current = {"W1": np.ascontiguousarray(self.W1T.T), **self.rest}
        return {key: current[key].copy() for key in self.spec.param_keys()}

    def step(self, x: Array, y: Array) -> float:
        """One SGD step on x (n_features,), one-hot y (n_classes,); returns the loss before it."""
        spec, p = self.spec, self.rest
        L, lr = spec.n_layers, spec.lr
        f, f_grad = ACTIVATIONS[spec.activation], DERIVATIVES[spec.activation]
        nz = np.flatnonzero(x)
        x_nz = x[nz]  # (m,) the nonzero inputs
        rows = self.W1T[nz]  # (m, n_hidden) = W1[:, nz].T, a gathered copy
        Z: dict[int, Array] = {}
        A: dict[int, Array] = {}
        for l in range(1, L + 1):
            if l == 1:
                Z[l] = x_nz @ rows  # (m,) @ (m, fan_out)
            else:
                Z[l] = p[f"W{l}"] @ A[l - 1]  # (fan_out, fan_in) @ (fan_in,)
            if spec.bias:
                Z[l] += p[f"b{l}"]
            A[l] = f(Z[l]) if l < L else softmax(Z[l])
        loss = loss_value(spec, Z[L][None], A[L][None], y[None])
        delta = output_delta(spec, A[L][None], y[None])[0]  # (n_classes,)
        for l in range(L, 0, -1):
            below = (delta @ p[f"W{l}"]) * f_grad(Z[l - 1], A[l - 1]) if l > 1 else None
            if spec.bias:
                p[f"b{l}"] -= lr * delta
            if l > 1:
                grad = np.multiply.outer(delta, A[l - 1])  # (fan_out,) x (fan_in,): dW
                grad *= lr
                p[f"W{l}"] -= grad
            else:
                grad = np.multiply.outer(x_nz, delta)  # (m,) x (n_hidden,): rows of dW1.T
                grad *= lr
                rows -= grad
                self.W1T[nz] = rows
            if below is not None:
                delta = below
        return loss
