"""Finding a user's own implementation: an installed entry point, a file, or a module.

``frameworks.load(name)`` resolves, in order: a built-in name (numpy, torch, sklearn, ...);
an entry point of the group ``mlp_parity.frameworks`` of an installed package, e.g. in its
pyproject.toml::

    [project.entry-points."mlp_parity.frameworks"]
    mine = "my_package.mlp:MyMLP"

then ``path/to/file.py:Attr`` (a file, imported as it stands, its folder on ``sys.path``
while it imports) or ``package.module:Attr`` (imported; the working folder is searched after
everything else, as ``python -m`` would). ``Attr`` is a class, instantiated with no
arguments, a factory function, called with none, or an instance. What loads is wrapped in the
contract's checks (``frameworks/checked.py``); anything that goes wrong on the way is one
``ContractError`` line, with the user's own frame for an exception at import time.
``checked(obj)`` does the same for an object in hand (``parity.testing``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from frameworks.checked import (
    DOCS,
    FILE_MODULE_PREFIX,
    Checked,
    CheckedTrainable,
    ContractError,
)
from frameworks.frames import describe, locate, user_files

GROUP = "mlp_parity.frameworks"
SYNTAX = "path/to/file.py:Class or package.module:Class"
REQUIRED = {  # method -> the positional arguments the judge passes
    "forward": ("spec", "params", "X"),
    "gradients": ("spec", "params", "X", "y"),
}
OPTIONAL = {"train": ("spec", "params", "X", "y", "orders")}


def entry_points() -> list[metadata.EntryPoint]:
    """The installed entry points of the group ``mlp_parity.frameworks``."""
    return list(metadata.entry_points(group=GROUP))


def find_entry_point(name: str) -> metadata.EntryPoint | None:
    return next((ep for ep in entry_points() if ep.name == name), None)


def is_source(name: str) -> bool:
    """Whether ``name`` is written ``file.py:Attr`` or ``module:Attr`` (not a registered name)."""
    return ":" in name


def resolve(name: str, *, reserved: Iterable[str] = ()) -> Checked:
    """A registered entry point's implementation, else the one ``name`` points at (``SYNTAX``)."""
    ep = find_entry_point(name)
    if ep is not None:
        return from_entry_point(ep)
    if is_source(name):
        return from_source(name, reserved=reserved)
    raise ValueError(f"{name!r} is no entry point of {GROUP} and not {SYNTAX}")


def reload(source: str, name: str) -> Checked:
    """``resolve`` again under the same report name (how a wrapper pickles)."""
    framework = resolve(source)
    framework.name = name
    return framework


def from_entry_point(ep: metadata.EntryPoint) -> Checked:
    """The implementation an installed package registered under ``ep.name`` (its report name)."""
    try:
        obj = ep.load()
    except (Exception, SystemExit) as error:
        files = _module_files(ep.value.partition(":")[0].strip())
        raise ContractError(
            f"cannot load framework {ep.name!r} (entry point {ep.value} of {GROUP}): importing "
            f"it raised {describe(error, files)}"
        ) from None
    return checked(obj, name=ep.name, source=ep.name)


def from_source(source: str, *, reserved: Iterable[str] = ()) -> Checked:
    """The implementation ``source`` (``SYNTAX``) names; report name: its ``name`` attribute
    or class name (one that is a built-in's gets the source appended)."""
    target, _, attribute = source.rpartition(":")
    if not target.strip() or not attribute.strip():
        raise ContractError(f"cannot load {source!r}: expected {SYNTAX}")
    if target.endswith(".py") or "/" in target or os.sep in target:
        module = _import_path(Path(target).expanduser(), source)
    else:
        module = _import_module(target, source)
    obj: object = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            defined = sorted(
                n
                for n, v in vars(module).items()
                if not n.startswith("_")
                and callable(v)
                and getattr(v, "__module__", None) == module.__name__
            )
            raise ContractError(
                f"cannot load {source!r}: {target} defines no {attribute!r}"
                + (f" (it defines {', '.join(defined)})" if defined else "")
            )
        obj = getattr(obj, part)
    return checked(obj, source=source, reserved=reserved)


def _import_path(path: Path, source: str) -> ModuleType:
    if not path.is_file():
        raise ContractError(f"cannot load {source!r}: no such file {path} (from {Path.cwd()})")
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:8]
    module_name = f"{FILE_MODULE_PREFIX}{_identifier(path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise ContractError(f"cannot load {source!r}: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # before running it: dataclasses and pickle look it up
    folder = str(resolved.parent)
    sys.path.insert(0, folder)  # its own sibling modules import, as with `python file.py`
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:
        del sys.modules[module_name]
        raise ContractError(
            f"cannot load {source!r}: importing {path} raised {describe(error, [str(resolved)])}"
        ) from None
    finally:
        sys.path.remove(folder)
    return module


def _import_module(name: str, source: str) -> ModuleType:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)  # after everything installed: a module beside you is found last
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and (name == error.name or name.startswith(error.name + ".")):
            raise ContractError(
                f"cannot load {source!r}: no module named {error.name!r} (not installed, nor in "
                f"{cwd}); a file is named as path/to/file.py:Class"
            ) from None
        files = _module_files(name)
        raise ContractError(
            f"cannot load {source!r}: importing {name} raised {describe(error, files)}"
        ) from None
    except (Exception, SystemExit) as error:
        files = _module_files(name)
        raise ContractError(
            f"cannot load {source!r}: importing {name} raised {describe(error, files)}"
        ) from None


def _module_files(name: str) -> list[str]:
    """The files of a module's top-level package (or the module's own file): the user's."""
    try:
        spec = importlib.util.find_spec(name.partition(".")[0])
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    return list(spec.submodule_search_locations or []) or ([spec.origin] if spec.origin else [])


def _identifier(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


# --------------------------------------------------------------------------- wrapping


def checked(
    obj: object, *, name: str | None = None, source: str | None = None, reserved: Iterable[str] = ()
) -> Checked:
    """``obj`` (an instance, or a class or factory called with no arguments) behind the checks.

    Its report name: ``name``, else its ``name`` attribute, else its class name; one in
    ``reserved`` (the built-ins' names) gets ``source`` (or "yours") appended.
    """
    if isinstance(obj, Checked):
        return obj
    impl = _instantiate(obj, source)
    for method, args in {**REQUIRED, **OPTIONAL}.items():
        _check_signature(impl, method, args, required=method in REQUIRED, source=source)
    files = user_files(impl) | user_files(obj)
    chosen = _report_name(impl, name)
    if chosen in set(reserved):
        chosen = f"{chosen} ({short_source(source) if source else 'yours'})"
    cls = CheckedTrainable if callable(getattr(impl, "train", None)) else Checked
    return cls(impl, name=chosen, source=source, files=files)


def _instantiate(obj: Any, source: str | None) -> object:
    """An instance of a class, the result of a factory, or ``obj`` itself when it already has
    ``forward``: a class is called with no arguments."""
    prefix = f"cannot load {source!r}: " if source else ""
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "forward")):
        what = getattr(obj, "__qualname__", type(obj).__name__)
        try:
            return obj()
        except Exception as error:
            hint = ""
            if isinstance(error, TypeError) and not locate(error, user_files(obj)):
                hint = (
                    "; the class is instantiated with no arguments: give its arguments defaults,"
                    " or name a factory function instead (file.py:make_mlp)"
                )
            raise ContractError(
                f"{prefix}{what}() raised {describe(error, user_files(obj))}{hint}"
            ) from None
    return obj


def _check_signature(
    impl: object, method: str, args: tuple[str, ...], *, required: bool, source: str | None
) -> None:
    prefix = f"cannot load {source!r}: " if source else ""
    label = prefix + type(impl).__name__
    function = getattr(impl, method, None)
    if function is None:
        if required:
            raise ContractError(
                f"{label} has no {method}({', '.join(args)}) method; an implementation needs "
                f"forward and gradients (train, supports, versions and name are optional): "
                f"see {DOCS}"
            )
        return
    if not callable(function):
        raise ContractError(f"{label}.{method} is a {type(function).__name__}, not a method")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some builtins have none: let the call tell
        return
    try:
        signature.bind(*args)
    except TypeError as error:
        raise ContractError(
            f"{label}.{method}{signature} cannot be called as {method}({', '.join(args)}): "
            f"{error}; see {DOCS}"
        ) from None


def short_source(source: str) -> str:
    """``dir/sub/file.py:Class`` as ``file.py:Class``; a module source or a name as it is."""
    target, _, attribute = source.rpartition(":")
    if target.endswith(".py") or "/" in target or os.sep in target:
        return f"{Path(target).name}:{attribute}"
    return source


def _report_name(impl: object, name: str | None) -> str:
    if name:
        return name
    own = getattr(impl, "name", None)
    if isinstance(own, str) and own.strip():
        return own.strip()
    return type(impl).__name__
