"""A student's MLP for MNIST, written from scratch with nothing but NumPy.

It imports nothing from mlp-parity and keeps its own conventions, which differ from the
reference's on purpose, to show what the contract does and does not ask for:

- weights are kept as (fan_in, fan_out), so a layer is ``A @ W + b``; the contract's dicts
  hold (fan_out, fan_in), so they are transposed on the way in (``_unpack``) and out
  (``_pack``), and nowhere else;
- the output delta is P - Y per sample; the 1/n of the batch mean is applied at the weight
  and bias gradients (the reference divides the delta instead);
- its own sigmoid and a softmax with the max shift; the loss as -mean log p of the true class.

Judge it with one command (docs/own-mlp.md)::

    mlp-parity run --frameworks numpy,examples/student_mlp.py:StudentMLP
"""

from __future__ import annotations

import numpy as np

__version__ = "1.0"


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z):
    """Row-wise softmax of z (n, k); shifted by each row's max so exp never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class StudentMLP:
    """Sigmoid hidden layers, softmax output, cross-entropy, plain mini-batch SGD."""

    name = "student"

    def supports(self, spec):
        if spec.activation != "sigmoid":
            return f"only sigmoid hidden layers, not {spec.activation}"
        if spec.loss != "cross_entropy":
            return f"only cross-entropy, not {spec.loss}"
        return None

    # -- the contract: dicts of (fan_out, fan_in) arrays in and out -------------------------

    def forward(self, spec, params, X):
        return self._feedforward(self._unpack(spec, params), X)[1][-1]

    def gradients(self, spec, params, X, y):
        layers = self._unpack(spec, params)
        zs, activations = self._feedforward(layers, X)
        return self._pack(spec, self._backprop(layers, zs, activations, y))

    def train(self, spec, params, X, y, orders, *, eval_data=None, on_step=None):
        layers = [(W.copy(), b if b is None else b.copy()) for W, b in self._unpack(spec, params)]
        history = {"loss": [], "accuracy": [], "steps": 0}
        for order in orders:  # one array of sample indices per epoch
            total = 0.0
            for start in range(0, len(order), spec.batch_size):  # the last batch may be smaller
                batch = order[start : start + spec.batch_size]
                zs, activations = self._feedforward(layers, X[batch])
                total += self._loss(activations[-1], y[batch]) * len(batch)
                grads = self._backprop(layers, zs, activations, y[batch])
                for (W, b), (dW, db) in zip(layers, grads, strict=True):
                    W -= spec.lr * dW
                    if b is not None:
                        b -= spec.lr * db
                history["steps"] += 1
                if on_step is not None:
                    on_step(history["steps"], lambda: self._pack(spec, layers))
            history["loss"].append(total / len(order))  # the mean loss before each update
            if eval_data is not None:
                X_test, y_test = eval_data
                predicted = self._feedforward(layers, X_test)[1][-1].argmax(axis=1)
                history["accuracy"].append(float(np.mean(predicted == y_test)))
        return self._pack(spec, layers), history

    # -- the student's own network: (fan_in, fan_out) weights ------------------------------

    def _unpack(self, spec, params):
        """[(W (fan_in, fan_out), b (fan_out,) or None)] per layer."""
        n_layers = len(spec.sizes) - 1
        return [
            (params[f"W{l}"].T, params[f"b{l}"] if spec.bias else None)
            for l in range(1, n_layers + 1)
        ]

    def _pack(self, spec, layers):
        out = {}
        for l, (W, b) in enumerate(layers, start=1):
            out[f"W{l}"] = W.T.copy()  # back to (fan_out, fan_in)
            if spec.bias:
                out[f"b{l}"] = b.copy()
        return out

    def _feedforward(self, layers, X):
        """Every layer's pre-activation z and activation a (the input first, softmax last)."""
        zs, activations = [None], [X]
        for i, (W, b) in enumerate(layers):
            z = activations[-1] @ W  # (n, fan_in) @ (fan_in, fan_out)
            if b is not None:
                z = z + b
            last = i == len(layers) - 1
            zs.append(z)
            activations.append(softmax(z) if last else sigmoid(z))
        return zs, activations

    def _backprop(self, layers, zs, activations, y):
        """[(dW (fan_in, fan_out), db (fan_out,))] per layer, of the batch-mean loss."""
        n = len(y)
        delta = activations[-1].copy()
        delta[np.arange(n), y] -= 1.0  # softmax + cross-entropy: dL/dz = p - onehot(y)
        grads = []
        for i in range(len(layers) - 1, -1, -1):
            dW = activations[i].T @ delta / n  # (fan_in, n) @ (n, fan_out), the batch mean
            grads.append((dW, self.bias_gradient(delta, n)))
            if i > 0:
                delta = (delta @ layers[i][0].T) * self.sigmoid_prime(zs[i], activations[i])
        return grads[::-1]

    def sigmoid_prime(self, z, a):
        """d sigmoid / dz at z, from a = sigmoid(z)."""
        return a * (1.0 - a)

    def bias_gradient(self, delta, n):
        return delta.sum(axis=0) / n

    def _loss(self, probs, y):
        return -np.mean(np.log(probs[np.arange(len(y)), y]))
