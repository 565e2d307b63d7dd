"""Implementations behind one interface, and the registry that loads them by name.

A framework that is not installed is reported unavailable with the reason, never an import
error: ``load`` raises ``FrameworkUnavailable``, ``availability`` lists every reason. Beside
the built-in names, ``load`` finds a user's own implementation: an installed entry point of
the group ``mlp_parity.frameworks``, ``path/to/file.py:Class`` or ``module:Class``
(``frameworks/external.py``), wrapped in the contract's checks (``frameworks/checked.py``).
"""

from __future__ import annotations

import importlib
from typing import Any

from frameworks.checked import ContractError
from frameworks.contract import Framework, FrameworkUnavailable, Unsupported, require_support

__all__ = [
    "NAMES",
    "REFERENCE",
    "ContractError",
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
REFERENCE = "numpy"  # the subject: every witness is compared with it


def load(name: str, **options: Any) -> Framework:
    """An instance of the named framework's adapter (options such as torch's ``device``).

    Not a built-in name: an entry point's or a ``file.py:Class`` / ``module:Class``
    implementation, checked at the boundary (``ContractError`` when it cannot be loaded).
    """
    if name not in _REGISTRY:
        return _load_external(name, options)
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


def _load_external(name: str, options: dict[str, Any]) -> Framework:
    from frameworks import external

    if not (external.is_source(name) or external.find_entry_point(name)):
        registered = [ep.name for ep in external.entry_points()]
        also = f"; installed: {', '.join(registered)}" if registered else ""
        raise ValueError(
            f"unknown framework {name!r}; choose from {', '.join(NAMES)}{also}, or name your "
            f"own as {external.SYNTAX}"
        )
    if options:
        raise ValueError(f"options {sorted(options)} apply to the built-in frameworks only")
    framework: Framework = external.resolve(name, reserved=NAMES)  # type: ignore[assignment]
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
