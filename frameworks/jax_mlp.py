"""The JAX witness: the MLP as pure jax.numpy functions of a params dict, differentiated by
``jax.value_and_grad``, one jitted SGD step per batch.

Traps this adapter owns (each tested in tests/frameworks/test_jax.py):

- float64: JAX computes in float32 unless ``jax_enable_x64`` is on, and silently rounds
  float64 inputs down. Everything here runs inside ``jax.enable_x64(True)``, a thread-local
  context, so the user's global setting is never changed; a float32 spec stays float32 because
  every array is made in the spec's dtype (Python scalars such as lr are weakly typed).
- matmul precision: on GPU/TPU a float32 dot defaults to TF32/bf16 passes. Every dot here says
  ``precision=HIGHEST``, so neither the backend nor ``jax_default_matmul_precision`` can lower it.
- loss: cross-entropy is taken on the LOGITS through ``jax.nn.log_softmax`` (as torch's
  CrossEntropyLoss); the reference applies softmax first. ``forward`` returns softmax(logits).
- the lecture preset's softmax "derivative" a*(1-a) is no derivative of anything JAX knows:
  ``diagonal_softmax`` is a ``jax.custom_vjp``.
- layout: ``W{l}`` (fan_out, fan_in) as torch's Linear, ``Z = A @ W.T + b``: no transpose of
  the stored params anywhere; ``b{l}`` (fan_out,).
- jit: one compiled step per (spec, batch shape). Batches are gathered on the host and the step
  compiled for at most two shapes per epoch length (the full batch and the smaller last one);
  the compiled functions are cached per spec across calls. The params buffers are donated to
  the step, so an update is written in place, and nothing that can alias them leaves the
  adapter: params in are copied onto the device, params out (and snapshots) are NumPy copies.
- XLA on CPU (jaxlib 0.10.2, x86-64 with FMA; measured, see issue 11's report): fast math is
  off by default (the numbers change when --xla_cpu_enable_fast_math=true: softmax and
  log-softmax move by up to ~7e-15). What it does do by default:
  * contraction: the LLVM backend fuses a*b + c into one FMA. The update ``W - lr*dW``
    compiles to vfnmadd: exactly fma(-lr, dW, W), rounded once, as torch's CPU SGD; the
    reference rounds lr*dW first. Bitwise equal when lr*dW is exact (lr a power of two, the
    standard 0.5), else 1 ulp apart on ~0.3% of entries. Also fused: log-softmax's backward
    g + E * (-sum(g)/S). --xla_cpu_max_isa=AVX (no FMA) gives two roundings instead.
  * reductions are reassociated: row and column sums run in YNNPACK kernels or vectorized
    loops, not left to right (<= 2 eps * sum|terms|, as any summation order).
  * dots: the 784-wide ones differ from OpenBLAS's in ~90% of entries (<= 2 eps * sum|terms|);
    the 128- and 64-wide forward dots happened to match it bitwise.
  * its own exp (<= 2 ulp from NumPy's), tanh (<= 6 ulp) and sigmoid, which it expands as
    1 / (1 + exp(-z)); the reference computes exp(min(z, 0)) / (1 + exp(-|z|)) (<= 3 ulp).
  * the bias add stays after the dot (not folded into its accumulator): same order as the
    reference. Every difference above sits far inside the float64 table; see the tests.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from frameworks.contract import (
    EvalData,
    FrameworkUnavailable,
    History,
    Orders,
    Params,
    StepCallback,
    as_inputs,
    as_labels,
    as_params,
    prepare,
)
from reference.spec import Spec

Array = np.ndarray
JaxParams = dict[str, jax.Array]

DTYPES = {"float64": jnp.float64, "float32": jnp.float32}
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": jax.nn.sigmoid,  # lax.logistic; its derivative is A * (1 - A)
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,  # custom JVP: derivative 0 at Z = 0, as the reference's (Z > 0)
}
HIGHEST = jax.lax.Precision.HIGHEST
EVAL_CHUNK = 8192  # rows per forward when scoring eval data (as reference.model.predict_proba)
LOSS_SLOTS = 1024  # batch losses per device buffer: a fixed shape, so no recompiling per epoch


# --------------------------------------------------------------------------- the scope


@contextmanager
def scope(device: jax.Device) -> Iterator[None]:
    """float64 enabled and ``device`` the default, for this thread only; both restored after.

    ``jax.enable_x64`` and ``jax.default_device`` are JAX config states used as context
    managers: they set a thread-local value and never touch ``jax.config``'s global one.
    """
    with jax.enable_x64(True), jax.default_device(device):
        yield


# --------------------------------------------------------------------------- the model


@jax.custom_vjp
def diagonal_softmax(Z: jax.Array) -> jax.Array:
    """Softmax whose backward multiplies by the Jacobian's DIAGONAL only, P(1-P).

    The teaching material's "softmax derivative": it drops the cross terms -P_i P_j, so it is
    NOT the gradient (reference/losses.py, ``softmax_grad="diagonal"``). Z, P: (n, n_classes).
    """
    return jax.nn.softmax(Z, axis=1)


def _diagonal_fwd(Z: jax.Array) -> tuple[jax.Array, jax.Array]:
    P = jax.nn.softmax(Z, axis=1)
    return P, P  # the output, and the residual the backward needs


def _diagonal_bwd(P: jax.Array, G: jax.Array) -> tuple[jax.Array]:
    return (G * (P * (1 - P)),)  # the reference's G * (P * (1 - P)), same rounding order


diagonal_softmax.defvjp(_diagonal_fwd, _diagonal_bwd)


def logits(spec: Spec, params: JaxParams, X: jax.Array) -> jax.Array:
    """Output logits Z_L (n, n_classes): per layer Z = A @ W.T + b, the activation between."""
    f = ACTIVATIONS[spec.activation]
    A = X  # (n, n_features)
    for l in range(1, spec.n_layers + 1):
        Z = jnp.matmul(A, params[f"W{l}"].T, precision=HIGHEST)  # (n, fan_in) @ (fan_in, fan_out)
        if spec.bias:
            Z = Z + params[f"b{l}"]  # (fan_out,) broadcast over rows
        A = f(Z) if l < spec.n_layers else Z
    return A


def loss(spec: Spec, params: JaxParams, X: jax.Array, y: jax.Array) -> jax.Array:
    """The batch-mean loss, a 0-d array; X (n, n_features), y (n,) int labels.

    cross_entropy: -log_softmax(Z)[i, y_i] averaged over rows, on the logits as torch's
    CrossEntropyLoss (a gather, so a -inf log-probability of another class is never touched).
    squared_error: mean over the batch AND the k outputs of (P - Y)², Y = jax.nn.one_hot(y),
    so dL/dP = 2(P - Y)/(n k) as in reference/losses.py; P through ``diagonal_softmax`` when
    the spec asks for the material's shortcut, else through softmax's true derivative.
    """
    Z = logits(spec, params, X)  # (n, k)
    if spec.loss == "cross_entropy":
        log_P = jax.nn.log_softmax(Z, axis=1)  # (n, k)
        return -jnp.mean(jnp.take_along_axis(log_P, y[:, None], axis=1))
    softmax = diagonal_softmax if spec.softmax_grad == "diagonal" else jax.nn.softmax
    P = softmax(Z)  # (n, k); jax.nn.softmax's default axis is the last
    Y = jax.nn.one_hot(y, spec.n_classes, dtype=Z.dtype)  # JAX's own one-hot, (n, k)
    return jnp.mean((P - Y) ** 2)


def probs(spec: Spec, params: JaxParams, X: jax.Array) -> jax.Array:
    """Softmax probabilities (n, n_classes)."""
    return jax.nn.softmax(logits(spec, params, X), axis=1)


def sgd_step(
    spec: Spec, params: JaxParams, losses: jax.Array, slot: jax.Array, X: jax.Array, y: jax.Array
) -> tuple[JaxParams, jax.Array]:
    """One SGD step ``W - lr * dW`` on every key, the loss before it written to losses[slot].

    losses (LOSS_SLOTS,) in the spec's dtype: the batch losses stay on the device until the
    epoch ends (fetching one 0-d array per step cost ~0.1 ms each, as much as a whole step).
    """
    value, grads = jax.value_and_grad(functools.partial(loss, spec))(params, X, y)
    return {key: W - spec.lr * grads[key] for key, W in params.items()}, losses.at[slot].set(value)


@dataclass(frozen=True)
class Compiled:
    """The jitted functions of one spec (traced under x64; JAX keys its cache on that too)."""

    probs: Callable[[JaxParams, ArrayLike], jax.Array]
    gradients: Callable[[JaxParams, ArrayLike, ArrayLike], JaxParams]
    step: jax.stages.Wrapped  # sgd_step without its spec; .lower() compiles ahead of a call


def compiled(spec: Spec) -> Compiled:
    """The jitted functions for ``spec``, shared by every spec that computes the same numbers."""
    # epochs, batch_size, seed and init change no formula: one cache entry for all of them.
    return _compiled(spec.replace(epochs=1, batch_size=1, seed=0, init="glorot"))


@functools.lru_cache(maxsize=32)
def _compiled(spec: Spec) -> Compiled:
    return Compiled(
        probs=jax.jit(functools.partial(probs, spec)),
        gradients=jax.jit(jax.grad(functools.partial(loss, spec))),
        # donated params and losses: written in place, no fresh 100k-entry arrays every step
        step=jax.jit(functools.partial(sgd_step, spec), donate_argnums=(0, 1)),
    )


# --------------------------------------------------------------------------- conversions


def to_device(spec: Spec, params: Params) -> JaxParams:
    """Fresh device arrays in ``spec.dtype`` (copies: a donated buffer never is the caller's)."""
    return {
        key: jnp.array(value, dtype=DTYPES[spec.dtype], copy=True) for key, value in params.items()
    }


def to_numpy(spec: Spec, params: JaxParams) -> Params:
    """NumPy copies in the reference layout and key order (never a view of a device buffer).

    JAX returns dicts from a jitted function with their keys sorted (W1, W2, ..., b1, ...):
    the order is put back to the spec's (W1, b1, W2, ...).
    """
    return {key: np.array(params[key], copy=True) for key in spec.param_keys()}


def resolve_device(device: str) -> jax.Device:
    """The first JAX device of platform ``device`` ("cpu", "gpu", "tpu" or "cuda")."""
    try:
        return jax.devices(device)[0]
    except RuntimeError as error:
        # JAX's message names the backends that are present
        raise FrameworkUnavailable(
            f"jax on {device!r} is unavailable: {error} (jax {jax.__version__})"
        ) from error


# --------------------------------------------------------------------------- the adapter


class JaxMLP:
    """JAX behind the common interface; every spec is expressible.

    ``device``: a JAX platform, "cpu" by default (a GPU build of jax would otherwise pick the
    GPU silently). Results always come back as NumPy arrays in the spec's dtype.
    """

    name = "jax"

    def __init__(self, device: str = "cpu") -> None:
        self.platform = device
        self.device = resolve_device(device)

    def __getstate__(self) -> dict[str, str]:
        """What a worker process needs to rebuild it (a jax.Device does not pickle)."""
        return {"platform": self.platform}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__init__(state["platform"])  # type: ignore[misc]

    def versions(self) -> dict[str, str]:
        import jaxlib

        return {
            "jax": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "device": f"{self.device.platform} ({self.device.device_kind})",
        }

    def supports(self, spec: Spec) -> str | None:
        return None  # both presets, every activation, loss, softmax_grad and dtype

    def forward(self, spec: Spec, params: Params, X: Array) -> Array:
        p, X = as_params(spec, params), as_inputs(spec, X)
        with scope(self.device):
            return np.array(compiled(spec).probs(to_device(spec, p), X), copy=True)

    def gradients(self, spec: Spec, params: Params, X: Array, y: Array) -> Params:
        p, X = as_params(spec, params), as_inputs(spec, X)
        labels = as_labels(spec, y, X.shape[0])
        with scope(self.device):
            return to_numpy(spec, compiled(spec).gradients(to_device(spec, p), X, labels))

    def train(
        self,
        spec: Spec,
        params: Params,
        X: Array,
        y: Array,
        orders: Orders,
        *,
        eval_data: EvalData | None = None,
        on_step: StepCallback | None = None,
    ) -> tuple[Params, History]:
        """SGD over consecutive chunks of each epoch's order (the last, smaller one kept).

        Each batch is gathered on the host (X[idx], y[idx]) and handed to the jitted step,
        which compiles once per batch shape (whatever the number of samples, so the judge's
        step, steps and training stages share them). Losses stay on the device until the
        epoch ends. History as frameworks.contract defines it.
        """
        given = prepare(spec, params, X, y, orders, eval_data)
        X, labels = given.X, given.labels  # (n_samples, n_features), (n_samples,)
        # NumPy, as forward's X: a device array would be a separate jit cache entry (compile)
        eval_chunks: list[EvalData] = []
        if given.eval_data is not None:
            X_eval, y_eval = given.eval_data
            for row in range(0, X_eval.shape[0], EVAL_CHUNK):
                rows = slice(row, row + EVAL_CHUNK)
                eval_chunks.append((X_eval[rows], y_eval[rows]))
        history = History()
        device = self.device
        with scope(device):
            fns = compiled(spec)
            state = {"params": to_device(spec, given.params)}
            # Compile the step for every batch shape now, so no epoch's seconds include XLA's
            # compile (~0.5 s a shape on an idle core, several on a loaded one).
            for size in batch_sizes(given.plan, spec.batch_size):
                fns.step.lower(
                    state["params"],
                    jax.ShapeDtypeStruct((LOSS_SLOTS,), DTYPES[spec.dtype]),
                    0,
                    jax.ShapeDtypeStruct((size, X.shape[1]), X.dtype),
                    jax.ShapeDtypeStruct((size,), labels.dtype),
                ).compile()

        def snapshot() -> Params:
            return to_numpy(spec, state["params"])

        for order in given.plan:
            start = time.perf_counter()
            buffers: list[jax.Array] = []
            sizes: list[int] = []
            # its own chunking (the last, smaller batch kept), not the reference's.
            for first in range(0, order.shape[0], spec.batch_size):
                idx = order[first : first + spec.batch_size]
                slot = len(sizes) % LOSS_SLOTS
                # The scope per step, not per run: on_step runs in the caller's own JAX config
                # (~8 us a step to enter and leave, measured; a per-sample step is ~150 us).
                with scope(device):
                    if slot == 0:
                        buffers.append(jnp.zeros(LOSS_SLOTS, dtype=DTYPES[spec.dtype]))
                    state["params"], buffers[-1] = fns.step(
                        state["params"], buffers[-1], slot, X[idx], labels[idx]
                    )
                sizes.append(idx.shape[0])
                history.steps += 1
                if on_step is not None:
                    on_step(history.steps, snapshot)
            # One transfer per LOSS_SLOTS steps; summed in Python floats in step order, as the
            # reference accumulates loss * batch size.
            values = np.concatenate([np.asarray(b) for b in buffers])[: len(sizes)]
            total = 0.0
            for batch_loss, size in zip(values.tolist(), sizes, strict=True):
                total += batch_loss * size
            jax.block_until_ready(state["params"])
            history.seconds.append(time.perf_counter() - start)
            history.loss.append(total / order.shape[0])
            if given.eval_data is not None:
                with scope(device):
                    history.accuracy.append(_accuracy(fns, state["params"], eval_chunks))
        return snapshot(), history


def batch_sizes(plan: list[Array], batch_size: int) -> list[int]:
    """The distinct batch sizes the plan's chunks have: batch_size and each epoch's remainder."""
    sizes = set()
    for order in plan:
        if order.shape[0] >= batch_size:
            sizes.add(batch_size)
        if order.shape[0] % batch_size:
            sizes.add(order.shape[0] % batch_size)
    return sorted(sizes)


def _accuracy(fns: Compiled, params: JaxParams, chunks: list[EvalData]) -> float:
    """Fraction of rows whose softmax argmax is the label (as reference.predict), by chunks.

    Through ``probs``, the function ``forward`` uses: scoring the test set each epoch and the
    judge's forward on it after training share one compiled shape (each costs ~0.5 s of XLA).
    """
    n_rows = sum(int(y.shape[0]) for _, y in chunks)
    if n_rows == 0:
        return float("nan")  # as NumPy's mean of no rows, without its warning
    correct = 0
    for X, y in chunks:
        correct += int((np.asarray(fns.probs(params, X)).argmax(axis=1) == y).sum())
    return correct / n_rows
