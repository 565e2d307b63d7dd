"""The model's specification: one frozen dataclass from which every implementation is derived."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, replace
from typing import Any

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu")
LOSS_NAMES = ("cross_entropy", "squared_error")
SOFTMAX_GRADS = ("jacobian", "diagonal")
INIT_NAMES = ("lecture", "glorot", "torch")
DTYPE_NAMES = ("float64", "float32")


@dataclass(frozen=True)
class Spec:
    """What "the same model" means: architecture, loss, numerics and SGD settings.

    Every field is validated on construction; a bad value raises ``ValueError`` naming it.
    """

    sizes: tuple[int, ...] = (784, 128, 64, 10)  # n_features, hidden sizes..., n_classes
    activation: str = "sigmoid"  # hidden activation: sigmoid | tanh | relu
    loss: str = "cross_entropy"  # on the softmax output: cross_entropy | squared_error
    # How backprop passes through softmax (squared_error only; cross_entropy uses probs - Y):
    # "jacobian" is the true derivative, "diagonal" the material's a*(1-a) (not the gradient).
    softmax_grad: str = "jacobian"
    bias: bool = True  # biases on every layer, or none at all
    init: str = "glorot"  # lecture: randn(out,in)*sqrt(1/out); glorot: sklearn's; torch: Linear's
    dtype: str = "float64"  # every parameter, activation and gradient
    lr: float = 0.5  # plain SGD step size: W <- W - lr * dW
    batch_size: int = 32  # samples per step; the last batch of an epoch may be smaller
    epochs: int = 10
    seed: int = 0  # seeds init_params and the batch plan

    def __post_init__(self) -> None:
        # NumPy scalars (np.int64(128), np.float32(0.1)) are accepted and stored as Python ones.
        sizes = tuple(_as_int(s) for s in self.sizes)
        object.__setattr__(self, "sizes", sizes)
        for name in ("batch_size", "epochs", "seed"):
            object.__setattr__(self, name, _as_int(getattr(self, name)))
        if isinstance(self.lr, numbers.Real) and not isinstance(self.lr, bool):
            object.__setattr__(self, "lr", float(self.lr))
        if len(sizes) < 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes
        ):
            raise ValueError(
                f"sizes={self.sizes!r}: need at least (n_features, n_classes), ints >= 1"
            )
        if self.sizes[-1] < 2:
            raise ValueError(f"sizes={self.sizes!r}: softmax needs n_classes >= 2")
        _one_of("activation", self.activation, ACTIVATION_NAMES)
        _one_of("loss", self.loss, LOSS_NAMES)
        _one_of("softmax_grad", self.softmax_grad, SOFTMAX_GRADS)
        _one_of("init", self.init, INIT_NAMES)
        _one_of("dtype", self.dtype, DTYPE_NAMES)
        if self.softmax_grad == "diagonal" and self.loss != "squared_error":
            raise ValueError(
                "softmax_grad='diagonal' is the material's squared-error shortcut; "
                f"with loss={self.loss!r} use softmax_grad='jacobian'"
            )
        if not isinstance(self.bias, bool):
            raise ValueError(f"bias={self.bias!r}: must be True or False")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)):
            raise ValueError(f"lr={self.lr!r}: must be a number > 0")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr={self.lr!r}: must be finite and > 0")
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r}: must be an int >= 1")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r}: must be an int >= 0")

    @property
    def n_features(self) -> int:
        return self.sizes[0]

    @property
    def n_classes(self) -> int:
        return self.sizes[-1]

    @property
    def n_layers(self) -> int:
        """Number of weight matrices (hidden layers + 1)."""
        return len(self.sizes) - 1

    def param_keys(self) -> tuple[str, ...]:
        """``('W1', 'b1', 'W2', 'b2', ...)``, or only the ``W`` keys without biases."""
        keys: list[str] = []
        for layer in range(1, self.n_layers + 1):
            keys.append(f"W{layer}")
            if self.bias:
                keys.append(f"b{layer}")
        return tuple(keys)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes by key: ``W{l}`` (fan_out, fan_in) as in torch.nn.Linear, ``b{l}`` (fan_out,)."""
        shapes: dict[str, tuple[int, ...]] = {}
        pairs = zip(self.sizes[:-1], self.sizes[1:], strict=True)
        for layer, (fan_in, fan_out) in enumerate(pairs, start=1):
            shapes[f"W{layer}"] = (fan_out, fan_in)
            if self.bias:
                shapes[f"b{layer}"] = (fan_out,)
        return shapes

    def replace(self, **changes: Any) -> Spec:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (sizes as a list)."""
        out = asdict(self)
        out["sizes"] = list(self.sizes)
        return out


def _as_int(value: object) -> object:
    """Integral numbers (NumPy's too) as int; anything else unchanged, for validation to reject."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def _one_of(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: unknown; choose one of {', '.join(allowed)}")


def standard(**changes: Any) -> Spec:
    """Softmax + cross-entropy, biases, mini-batch SGD: expressible in all three frameworks."""
    return Spec(**changes)


def lecture(**changes: Any) -> Spec:
    """The teaching material's exact network (see DESIGN.md): no biases, squared error,
    per-sample SGD at lr 0.001 for 10 epochs, the material's init and softmax "derivative"."""
    base: dict[str, Any] = dict(
        sizes=(784, 128, 64, 10),
        activation="sigmoid",
        loss="squared_error",
        softmax_grad="diagonal",
        bias=False,
        init="lecture",
        lr=0.001,
        batch_size=1,
        epochs=10,
    )
    base.update(changes)
    return Spec(**base)


PRESETS = {"standard": standard, "lecture": lecture}


def preset(name: str, **changes: Any) -> Spec:
    """The named preset with some fields changed."""
    _one_of("preset", name, tuple(PRESETS))
    return PRESETS[name](**changes)
