"""How a defect is planted without editing a file: an adapter whose calls run with patches on.

The judge calls one adapter at a time, never two at once, so a patch entered at the start of
a mutant's call and left at its end changes that implementation only: the witnesses that run
before and after it see the untouched modules.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from typing import Any
from unittest import mock

import numpy as np

from frameworks.contract import Framework, History, Orders, Params, StepCallback
from reference.spec import Spec

Array = np.ndarray
Patch = Callable[[], AbstractContextManager[Any]]  # a fresh context manager per call

# The subject's modules: a function is re-bound in each that imported it by name.
REFERENCE_MODULES = (
    "reference.activations",
    "reference.losses",
    "reference.model",
    "reference.persample",
    "reference.train",
)


def swap(module: str, name: str, new: object) -> Patch:
    """Replace ``module.name`` by ``new`` in every reference module that binds the same object.

    ``reference.model`` imports ``softmax`` from ``reference.activations`` by name, so patching
    the defining module alone would change nothing that runs: each binding is patched.
    """

    def patches() -> ExitStack:
        original = getattr(sys.modules[module], name)
        stack = ExitStack()
        for holder in REFERENCE_MODULES:
            if getattr(sys.modules[holder], name, None) is original:
                stack.enter_context(mock.patch.object(sys.modules[holder], name, new))
        return stack

    return patches


def attribute(target: object, name: str, new: object) -> Patch:
    """Replace one attribute (a witness module's function) during the call."""
    return lambda: mock.patch.object(target, name, new)


def entries(mapping: dict[str, Any], changes: dict[str, Any]) -> Patch:
    """Change entries of a shared dict (e.g. ``DERIVATIVES``) during the call."""
    return lambda: mock.patch.dict(mapping, changes)


class Mutated:
    """An implementation whose every call runs the wrapped adapter with ``patches`` active.

    It keeps the wrapped adapter's name, so ``judge(loaded={name: Mutated(...)})`` puts it in
    that implementation's place (the subject "numpy" included).
    """

    def __init__(self, inner: Framework, patches: Sequence[Patch] = ()) -> None:
        self.inner = inner
        self.name = inner.name
        self.patches = tuple(patches)

    def active(self) -> ExitStack:
        stack = ExitStack()
        for patch in self.patches:
            stack.enter_context(patch())
        return stack

    def versions(self) -> dict[str, str]:
        return self.inner.versions()

    def supports(self, spec: Spec) -> str | None:
        return self.inner.supports(spec)

    def forward(self, spec: Spec, params: Params, X: Array) -> Array:
        with self.active():
            return self.inner.forward(spec, params, X)

    def gradients(self, spec: Spec, params: Params, X: Array, y: Array) -> Params:
        with self.active():
            return self.inner.gradients(spec, params, X, y)

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
        with self.active():
            return self.inner.train(
                spec, params, X, y, orders, eval_data=eval_data, on_step=on_step
            )
