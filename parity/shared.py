"""Arrays in shared memory: one copy of the data that every worker process maps read-only.

A block is one ``multiprocessing.shared_memory`` segment holding several arrays, each at a
64-byte aligned offset. Worker processes are started with "spawn" (parity/workers.py), so
nothing of the parent's memory is inherited: a worker gets the block's name and the arrays'
places (``Where``) and maps them, read-only, without a copy.

``shared_dataset`` moves a Dataset's four arrays into a block before the judge runs, so the
caller's private copy can go and the data exists once in all (full MNIST float64: 440 MB).
Arrays not already in a live block of this process are copied into a new one by ``place``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from multiprocessing import shared_memory
from typing import Any, TypeVar

import numpy as np

Array = np.ndarray
Where = tuple[str, int, tuple[int, ...], str]  # (block name, byte offset, shape, dtype)
D = TypeVar("D")
ALIGN = 64


class Block(shared_memory.SharedMemory):
    """A shared-memory segment that may outlive ``close`` while views of it are alive: the
    mapping then goes with the last view (SharedMemory's own ``__del__`` would complain)."""

    def __del__(self) -> None:
        with contextlib.suppress(BufferError, OSError):
            self.close()


_LIVE: dict[str, tuple[Block, int]] = {}  # blocks made here and not yet freed: (block, address)


def _address(block: Block) -> int:
    assert block.buf is not None
    probe = np.frombuffer(block.buf, np.uint8, count=1)  # a view only to read the address
    address = int(probe.__array_interface__["data"][0])
    del probe
    return address


def view(block: Block, offset: int, shape: tuple[int, ...], dtype: str) -> Array:
    """The read-only array at ``offset`` in ``block`` (no copy)."""
    a = np.ndarray(shape, dtype=np.dtype(dtype), buffer=block.buf, offset=offset)
    a.flags.writeable = False
    return a


def copy_into_block(arrays: Mapping[str, Array]) -> tuple[Block, dict[str, Array]]:
    """A new block holding a copy of every array; returns it and read-only views."""
    offsets, size = {}, 0
    for name, a in arrays.items():
        offsets[name] = size
        size += -(-a.nbytes // ALIGN) * ALIGN
    block = Block(create=True, size=max(size, 1))
    _LIVE[block.name] = (block, _address(block))
    views = {}
    for name, a in arrays.items():
        target = np.ndarray(a.shape, a.dtype, buffer=block.buf, offset=offsets[name])
        target[...] = a
        del target
        views[name] = view(block, offsets[name], a.shape, a.dtype.str)
    return block, views


def free(block: Block) -> None:
    """Remove the block's name (workers that mapped it keep their mapping) and close it
    here; views still alive keep its memory until they go."""
    _LIVE.pop(block.name, None)
    with contextlib.suppress(FileNotFoundError):
        block.unlink()
    with contextlib.suppress(BufferError):
        block.close()


def locate(a: Array) -> Where | None:
    """Where ``a`` lies in a live block of this process; None when it is not in one."""
    if not a.flags.c_contiguous:
        return None
    start = int(a.__array_interface__["data"][0])
    for name, (block, address) in _LIVE.items():
        if address <= start and start + a.nbytes <= address + block.size:
            return (name, start - address, a.shape, a.dtype.str)
    return None


def place(arrays: Mapping[str, Array]) -> tuple[dict[str, Where], Block | None]:
    """Where each array is for a worker: in the live block it already lies in, else in one
    new block (returned, for the caller to ``free`` once the workers are done)."""
    where: dict[str, Where] = {}
    elsewhere = {}
    for name, a in arrays.items():
        found = locate(a)
        if found is None:
            elsewhere[name] = np.ascontiguousarray(a)
        else:
            where[name] = found
    if not elsewhere:
        return where, None
    block, views = copy_into_block(elsewhere)
    for name, v in views.items():
        where[name] = locate(v)  # type: ignore[assignment]  # just made: always found
    return where, block


def attach(where: Mapping[str, Where]) -> tuple[dict[str, Array], list[Block]]:
    """In a worker: the arrays at ``where``, read-only, and the blocks mapped for them."""
    blocks: dict[str, Block] = {}
    arrays = {}
    for name, (block_name, offset, shape, dtype) in where.items():
        if block_name not in blocks:
            blocks[block_name] = Block(name=block_name)
        arrays[name] = view(blocks[block_name], offset, shape, dtype)
    return arrays, list(blocks.values())


@contextlib.contextmanager
def shared_dataset(
    data: D, fields: tuple[str, ...] = ("X_train", "y_train", "X_test", "y_test")
) -> Iterator[D]:
    """``data`` (a dataclass) with ``fields`` moved into one shared block, freed after.

    The caller rebinds its name (``with shared_dataset(data) as data:``), so the private
    arrays it loaded are released and the data exists once, in the block the workers map.
    """
    block, views = copy_into_block({name: getattr(data, name) for name in fields})
    shared: Any = dataclasses.replace(data, **views)  # type: ignore[type-var]
    del data, views  # no reference to the private copy left here
    try:
        yield shared
    finally:
        del shared
        free(block)
