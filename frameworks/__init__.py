"""Implementations behind one interface, and the registry that loads them by name.

A framework that is not installed is reported unavailable with the reason, never an import
error: ``load`` raises ``FrameworkUnavailable``, ``availability`` lists every reason.
"""

from __future__ import annotations

import importlib
from typing import Any

from frameworks.base import Framework, FrameworkUnavailable, Unsupported, require_support

__all__ = [
    "NAMES",
    "Framework",
    "FrameworkUnavailable",
    "Unsupported",
    "availability",
    "load",
    "require_support",
]

# name -> (module, class, the package whose absence makes it unavailable)
_REGISTRY: dict[str, tuple[str, str, str]] = {
    "numpy": ("frameworks.numpy_ref", "NumpyMLP", "numpy"),
    "torch": ("frameworks.torch_mlp", "TorchMLP", "torch"),
    "sklearn": ("frameworks.sklearn_mlp", "SklearnMLP", "sklearn"),
    "jax": ("frameworks.jax_mlp", "JaxMLP", "jax"),
}
NAMES = tuple(_REGISTRY)


def load(name: str, **options: Any) -> Framework:
    """An instance of the named framework's adapter (options such as torch's ``device``)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown framework {name!r}; choose from {', '.join(NAMES)}")
    module_name, class_name, package = _REGISTRY[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        missing = getattr(error, "name", None) or package
        raise FrameworkUnavailable(
            f"{name} is unavailable: cannot import {missing} ({error}); "
            f"install it with: pip install 'mlp-parity[{name}]'"
        ) from error
    framework: Framework = getattr(module, class_name)(**options)
    return framework


def availability() -> dict[str, str | None]:
    """For every known framework: None when it loads, else the reason it does not."""
    reasons: dict[str, str | None] = {}
    for name in NAMES:
        try:
            load(name)
        except FrameworkUnavailable as error:
            reasons[name] = str(error)
        else:
            reasons[name] = None
    return reasons
