"""The contract every implementation meets, the reference included: types, interface, inputs.

It belongs to no implementation. The subject (``reference/``) and the witnesses (torch,
scikit-learn, JAX, a user's own MLP) share nothing but what is here and the model's ``Spec``.
A user's implementation needs none of it: plain dicts of NumPy arrays in and out, and a
history that may be a plain mapping (see docs/own-mlp.md).

Layout: ``W{l}`` is (fan_out, fan_in) as in ``torch.nn.Linear.weight``, ``b{l}`` (fan_out,).
Every array is in the spec's dtype. Gradients are of the batch-MEAN loss and share the params'
keys. The batch order is one 1-D index array per epoch; batches are its consecutive chunks of
``spec.batch_size``, the last, smaller one kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # the Spec is the model's description; only its attributes are read here
    from reference.spec import Spec

Array = np.ndarray
Params = dict[str, Array]
Orders = Sequence[Array] | Array  # one 1-D index array per epoch (or a 2-D plan)
EvalData = tuple[Array, Array]  # (X_eval (n, n_features), y_eval (n,) int labels)
# on_step(step, snapshot): called after every update, step counting from 1; snapshot() returns
# a copy of the current params in the reference layout (call it only at the steps you log).
StepCallback = Callable[[int, Callable[[], Params]], None]


class FrameworkUnavailable(RuntimeError):
    """The framework cannot be used here (not installed, no such device); says why."""


class Unsupported(ValueError):
    """The framework cannot express this spec; the message is the reason."""


@dataclass
class History:
    """Per-epoch record of a training run.

    loss[e]: mean over epoch e's samples of the loss each batch had BEFORE its update (what
    scikit-learn's loss_curve_ reports); accuracy[e]: accuracy on the evaluation data after
    epoch e (empty without evaluation data); seconds[e]: wall time of epoch e's steps.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    steps: int = 0


@runtime_checkable
class Framework(Protocol):
    """What the judge needs from an implementation (``train``, ``supports`` and ``versions``
    may be missing from a user's own: docs/own-mlp.md)."""

    name: str  # "numpy", "torch", "sklearn", "jax", or a user's

    def versions(self) -> dict[str, str]:
        """Library versions that determine the numbers (for reports)."""
        ...

    def supports(self, spec: Spec) -> str | None:
        """None when this framework can express ``spec``, else the reason it cannot."""
        ...

    def forward(self, spec: Spec, params: Params, X: Array) -> Array:
        """Softmax probabilities (n, n_classes) for X (n, n_features)."""
        ...

    def gradients(self, spec: Spec, params: Params, X: Array, y: Array) -> Params:
        """Gradients of the batch-mean loss, same keys and shapes as params; y (n,) int labels."""
        ...

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
        """SGD from ``params`` over exactly the batches ``orders`` gives (no shuffling of its own).

        History as defined above; ``on_step(step, snapshot)`` after every update.
        """
        ...


def require_support(framework: Framework, spec: Spec) -> None:
    """Raise Unsupported with the framework's reason when it cannot express ``spec``."""
    reason = framework.supports(spec)
    if reason is not None:
        raise Unsupported(f"{framework.name} cannot express this spec: {reason}")


# --------------------------------------------------------------------------- inputs


def as_params(spec: Spec, params: Mapping[str, object]) -> Params:
    """Check keys, shapes and finiteness; return the arrays in ``spec.dtype``."""
    expected = spec.param_shapes()
    missing = [k for k in expected if k not in params]
    extra = [k for k in params if k not in expected]
    if missing or extra:
        raise ValueError(
            f"params keys {sorted(params)} do not match the spec's {list(expected)}"
            f" (missing {missing}, unexpected {extra})"
        )
    out: Params = {}
    for key, shape in expected.items():
        value = np.asarray(params[key])
        if value.shape != shape:
            raise ValueError(f"params[{key!r}] has shape {value.shape}, the spec needs {shape}")
        if not _real(value):
            raise ValueError(f"params[{key!r}] has dtype {value.dtype}; need real numbers")
        if not np.isfinite(value).all():
            bad = _first_non_finite(value)
            raise ValueError(f"params[{key!r}] is not finite at {bad}: {value[bad]}")
        out[key] = value.astype(spec.dtype, copy=False)
    return out


def as_inputs(spec: Spec, X: object) -> Array:
    """Check that X is (n, n_features), finite numbers; return it in ``spec.dtype``."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != spec.n_features:
        raise ValueError(f"X has shape {X.shape}; the spec needs (n_samples, {spec.n_features})")
    if not _real(X):
        raise ValueError(f"X has dtype {X.dtype}; need real numbers")
    X = X.astype(spec.dtype, copy=False)
    # One summing pass (no bool temporary of X's size): the sum is finite when every entry is;
    # only when it is not (a NaN/inf, or finite values overflowing) is each entry examined.
    with np.errstate(over="ignore", invalid="ignore"):
        total = X.sum()
    if not np.isfinite(total) and not np.isfinite(X).all():
        bad = _first_non_finite(X)
        raise ValueError(f"X is not finite at {bad}: {X[bad]}")
    return X


def as_labels(spec: Spec, y: object, n_samples: int) -> Array:
    """Check integer class labels, (n_samples,), each in [0, n_classes); return them as int64."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_samples:
        raise ValueError(f"y has shape {y.shape}; need ({n_samples},), one label per row of X")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y has dtype {y.dtype}; labels must be integers 0..{spec.n_classes - 1}")
    out_of_range = (y < 0) | (y >= spec.n_classes)
    if out_of_range.any():
        i = int(np.argmax(out_of_range))
        raise ValueError(f"label y[{i}] = {y[i]} is out of range 0..{spec.n_classes - 1}")
    return y.astype(np.int64, copy=False)


def as_orders(orders: Orders | None, n_epochs: int, n_samples: int) -> list[Array]:
    """Validate a batch order: one 1-D int index array per epoch, every index in [0, n_samples).

    ``None`` means dataset order every epoch, as the material iterates ``zip(x_train, y_train)``.
    """
    if orders is None:
        return [np.arange(n_samples)] * n_epochs
    out = [np.asarray(order) for order in orders]
    if len(out) != n_epochs:
        raise ValueError(f"batch order has {len(out)} epochs; the spec trains {n_epochs}")
    for epoch, order in enumerate(out):
        if order.ndim != 1 or not np.issubdtype(order.dtype, np.integer) or order.size == 0:
            raise ValueError(
                f"batch order of epoch {epoch} must be a non-empty 1-D int array, got "
                f"shape {order.shape} dtype {order.dtype}"
            )
        if order.min() < 0 or order.max() >= n_samples:
            raise ValueError(
                f"batch order of epoch {epoch} indexes outside 0..{n_samples - 1} "
                f"(min {order.min()}, max {order.max()})"
            )
    return out


@dataclass(frozen=True)
class Prepared:
    """A witness's ``train`` inputs, checked once: params and X in the spec's dtype, labels
    int64 (n,), one index array per epoch, and the evaluation data when given."""

    params: Params
    X: Array  # (n_samples, n_features)
    labels: Array  # (n_samples,)
    plan: list[Array]  # one (n_samples_e,) index array per epoch
    eval_data: EvalData | None


def prepare(
    spec: Spec,
    params: Mapping[str, object],
    X: object,
    y: object,
    orders: Orders | None,
    eval_data: tuple[object, object] | None = None,
) -> Prepared:
    """Everything ``train`` receives, checked and converted (the caller's arrays never copied
    when they already are what the spec needs)."""
    X = as_inputs(spec, X)
    evaluation = None
    if eval_data is not None:
        X_eval = as_inputs(spec, eval_data[0])
        evaluation = (X_eval, as_labels(spec, eval_data[1], X_eval.shape[0]))
    return Prepared(
        params=as_params(spec, params),
        X=X,
        labels=as_labels(spec, y, X.shape[0]),
        plan=as_orders(orders, spec.epochs, X.shape[0]),
        eval_data=evaluation,
    )


def _real(a: Array) -> bool:
    """Integer or floating dtype (not bool, complex or object)."""
    return bool(np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating))


def _first_non_finite(a: Array) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])


def as_history(value: Any) -> History:
    """A History from what an implementation returned: a History, an object with ``loss`` and
    ``accuracy`` attributes, or a mapping with those keys (``seconds`` and ``steps`` optional)."""
    get = (
        value.get
        if isinstance(value, Mapping)
        else lambda key, default=None: getattr(value, key, default)
    )
    loss, accuracy = get("loss"), get("accuracy")
    if loss is None or accuracy is None:
        raise TypeError(
            f"history must have 'loss' and 'accuracy' (per-epoch lists), got {type(value).__name__}"
        )
    return History(
        loss=[float(v) for v in loss],
        accuracy=[float(v) for v in accuracy],
        seconds=[float(v) for v in (get("seconds") or [])],
        steps=int(get("steps") or 0),
    )
