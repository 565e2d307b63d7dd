"""The equivalence map: how each framework expresses each part of "the same model".

One row per concept, one entry per framework (Markdown inline code allowed). The README's table,
docs and the HTML report are generated from it (tests/docs checks the README against it), so the
map and the adapters' own docstrings are the only two places a trap is written down.
"""

from __future__ import annotations

# The frameworks, in column order, with the module that owns their traps.
COLUMNS: dict[str, str] = {
    "numpy": "NumPy reference (`reference/`)",
    "torch": "PyTorch (`frameworks/torch_mlp.py`)",
    "sklearn": "scikit-learn (`frameworks/sklearn_mlp.py`)",
    "jax": "JAX (`frameworks/jax_mlp.py`)",
}

MAP: dict[str, dict[str, str]] = {
    "weight layout": {
        "numpy": "`W{l}` (fan_out, fan_in), `Z = A @ W.T + b`",
        "torch": "`nn.Linear.weight` is (fan_out, fan_in): copied as is",
        "sklearn": "`coefs_[i]` is (fan_in, fan_out): transposed in one pair of functions, shapes asserted",
        "jax": "`W{l}` (fan_out, fan_in) as the reference, `Z = A @ W.T + b`: no transpose of the stored params",
    },
    "bias": {
        "numpy": "`b{l}` (fan_out,), or none (`bias=False`)",
        "torch": "`nn.Linear(bias=spec.bias)`",
        "sklearn": "`intercepts_[i]`; always present, so `bias=False` is unsupported (reason given)",
        "jax": "`b{l}` added after the dot (XLA keeps that order), or none (`bias=False`)",
    },
    "dtype": {
        "numpy": "`spec.dtype` everywhere",
        "torch": "every layer built in the spec's dtype (torch defaults to float32); TF32 and reduced-precision matmul off inside every call, restored after",
        "sklearn": "float32 kept when X is float32; coefs in the spec's dtype",
        "jax": "every array in the spec's dtype inside a thread-local `jax.enable_x64(True)` (JAX computes in float32 and silently narrows float64 without it); the user's global config untouched; every dot `precision=HIGHEST`",
    },
    "softmax placement": {
        "numpy": "softmax output, loss on probabilities",
        "torch": "`CrossEntropyLoss` takes **logits** (log-softmax inside); forward returns softmax(logits)",
        "sklearn": "softmax output layer (`out_activation_`), >2 classes only",
        "jax": "cross-entropy on **logits** through `jax.nn.log_softmax`; forward returns `jax.nn.softmax(logits)`",
    },
    "loss and reduction": {
        "numpy": "batch **mean** of per-sample cross-entropy; lecture: mean over batch and 10 outputs of (a-y)^2",
        "torch": "`CrossEntropyLoss()` (mean); lecture: `((P - Y)**2).mean()`",
        "sklearn": "`log_loss` (mean; clips probabilities to [eps, 1-eps] in the reported loss only); squared error on softmax is unsupported",
        "jax": "mean of `-log_softmax(Z)[i, y_i]`; lecture: `jnp.mean((P - Y)**2)` with `jax.nn.one_hot`",
    },
    "output delta": {
        "numpy": "`(P - Y)/n` for softmax + CE; lecture: through softmax's Jacobian or its diagonal",
        "torch": "autograd; the diagonal via a custom `autograd.Function`",
        "sklearn": "`activations[-1] - y`, divided by n in `_backprop`",
        "jax": "`jax.value_and_grad` of the loss; the diagonal via a `jax.custom_vjp`",
    },
    "optimizer": {
        "numpy": "`W <- W - lr*dW`",
        "torch": "`optim.SGD(lr, momentum=0, dampening=0, weight_decay=0, nesterov=False)`; update `W.add_(dW, alpha=-lr)`, one rounding",
        "sklearn": "`SGDOptimizer` with momentum 0: `W += -lr*dW`",
        "jax": "`W - lr*dW` in one jitted step (params donated); XLA contracts it to one FMA, `fma(-lr, dW, W)`: one rounding, as torch",
    },
    "defaults changed": {
        "numpy": "none",
        "torch": "dtype (float32), TF32/matmul precision",
        "sklearn": "solver adam->sgd, alpha 1e-4->0, momentum 0.9->0, nesterov True->False, shuffle True->False, batch_size auto->spec, tol/n_iter_no_change->never stop, max_iter->epochs",
        "jax": "dtype (float32 without x64), matmul precision; the device pinned to the CPU (a GPU build would pick its GPU)",
    },
    "batch order": {
        "numpy": "the plan: one permutation per epoch from `default_rng([seed, 1])`, consecutive chunks, last smaller batch kept",
        "torch": "same index arrays, indexed from one tensor",
        "sklearn": "`fit` is never called: `_backprop` + `update_params` per batch of the plan",
        "jax": "same index arrays; each batch gathered on the host, the step compiled for at most two batch shapes (full, last)",
    },
    "init": {
        "numpy": "`init_params(spec)`: lecture `randn(out,in)*sqrt(1/out)`; glorot (scikit-learn's); torch (`nn.Linear`'s)",
        "torch": "weights copied in (`skip_init`: torch's RNG never used)",
        "sklearn": "`_initialize`, then the reference's weights written **into** the arrays its optimizer holds",
        "jax": "weights copied onto the device (`jnp.array(..., copy=True)`: JAX's PRNG never used)",
    },
    "private API": {
        "numpy": "-",
        "torch": "-",
        "sklearn": "`_backprop` gained `sample_weight` in 1.7: dispatched on its signature (1.5 to 1.9)",
        "jax": "-",
    },
}


def rows(frameworks: list[str] | tuple[str, ...] | None = None) -> list[list[str]]:
    """[concept, entry per framework] for the named frameworks (all columns by default)."""
    names = list(COLUMNS) if frameworks is None else [n for n in frameworks if n in COLUMNS]
    return [[concept, *(entries.get(n, "-") for n in names)] for concept, entries in MAP.items()]


def header(frameworks: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """["concept", column title per framework], matching ``rows``."""
    names = list(COLUMNS) if frameworks is None else [n for n in frameworks if n in COLUMNS]
    return ["concept", *(COLUMNS[n] for n in names)]
