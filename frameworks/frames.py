"""Where an exception arose in a user's code: the last frame in the user's own files.

One line for a user's exception, ``at file:line in function: `source line`: Type: message``,
so that a bad implementation is reported at the user's line rather than as a traceback through
mlp-parity.
"""

from __future__ import annotations

import inspect
import os
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

OUR_ROOTS = tuple(str(Path(__file__).resolve().parents[1] / d) for d in ("frameworks", "parity"))


def user_files(obj: object) -> set[str]:
    """The files a user's implementation is written in: those of every class of its MRO (a
    subclass in a test file, its base elsewhere) and of a factory, outside mlp-parity."""
    cls = obj if isinstance(obj, type) else type(obj)
    files = set()
    found: tuple[Any, ...] = (*inspect.getmro(cls), obj)
    for klass in found:
        try:
            source = inspect.getsourcefile(klass)
        except TypeError:  # builtins and instances have no file of their own
            continue
        if source is not None and not _ours(source):
            files.add(os.path.realpath(source))
    return files


def locate(error: BaseException, files: Iterable[str] = ()) -> str:
    """Where ``error`` arose, as ``file:line in function: `source line```: the last frame in
    the user's ``files`` (files or folders), else the last frame outside mlp-parity; '' when
    there is none (the call itself failed, e.g. a wrong number of arguments)."""
    if isinstance(error, SyntaxError) and error.filename:
        text = (error.text or "").strip()
        return f"{_short(error.filename)}:{error.lineno}" + (f": `{text}`" if text else "")
    frames = traceback.extract_tb(error.__traceback__)
    roots = [os.path.realpath(f) for f in files]
    mine = [f for f in frames if _under(f.filename, roots)]
    foreign = [f for f in frames if not _ours(f.filename) and not f.filename.startswith("<")]
    chosen = mine or foreign
    if not chosen:
        return ""
    frame = chosen[-1]
    where = f"{_short(frame.filename)}:{frame.lineno} in {frame.name}"
    return f"{where}: `{frame.line.strip()}`" if frame.line else where


def describe(error: BaseException, files: Iterable[str] = ()) -> str:
    """``at file:line in function: `line`: Type: message`` (the location when there is one)."""
    where = locate(error, files)
    message = str(error.msg if isinstance(error, SyntaxError) else error)
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return f"at {where}: {text}" if where else text


def _under(filename: str, roots: list[str]) -> bool:
    path = os.path.realpath(filename)
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _ours(filename: str) -> bool:
    return _under(filename, list(OUR_ROOTS))


def _short(filename: str) -> str:
    """The path relative to the working folder when it is inside it, else as it is."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
    return filename if relative.startswith("..") else relative
