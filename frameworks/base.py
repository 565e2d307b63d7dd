"""The one interface every implementation is used through, the reference included.

Params in and out are always NumPy dicts in the reference layout (``W{l}`` (fan_out, fan_in),
``b{l}`` (fan_out,)), so the judge compares dicts key by key and never sees a framework's
internals. Each adapter owns its framework's conversions and traps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from reference.model import Params
from reference.spec import Spec
from reference.train import History, StepCallback

Array = np.ndarray
Orders = Sequence[Array] | Array  # one 1-D index array per epoch (or a 2-D plan)


class FrameworkUnavailable(RuntimeError):
    """The framework cannot be used here (not installed, no such device); says why."""


class Unsupported(ValueError):
    """The framework cannot express this spec; the message is the reason."""


@runtime_checkable
class Framework(Protocol):
    """What the judge needs from an implementation."""

    name: str  # "numpy", "torch", "sklearn"

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
        eval_data: tuple[Array, Array] | None = None,
        on_step: StepCallback | None = None,
    ) -> tuple[Params, History]:
        """SGD from ``params`` over exactly the batches ``orders`` gives (no shuffling of its own).

        History as the reference defines it: per-epoch mean pre-update batch loss, weighted by
        batch size; per-epoch accuracy on eval_data; seconds per epoch. ``on_step(step,
        snapshot)`` after every update, snapshot() giving params in the reference layout.
        """
        ...


def require_support(framework: Framework, spec: Spec) -> None:
    """Raise Unsupported with the framework's reason when it cannot express ``spec``."""
    reason = framework.supports(spec)
    if reason is not None:
        raise Unsupported(f"{framework.name} cannot express this spec: {reason}")
