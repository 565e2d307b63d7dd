"""The four canonical MNIST files: names, SHA-256 sums, sizes, mirrors; checking a folder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["MIRRORS", "MNIST_BYTES", "MNIST_FILES", "MNIST_SHA256", "FileStatus", "verify"]

# The real sums of the canonical files, as in SHA256SUMS (every mirror serves these bytes).
_SHA256SUMS = """
440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  train-images-idx3-ubyte.gz
3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c  train-labels-idx1-ubyte.gz
8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6  t10k-images-idx3-ubyte.gz
f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6  t10k-labels-idx1-ubyte.gz
"""
MNIST_SHA256: Mapping[str, str] = {
    name: digest for digest, name in (line.split() for line in _SHA256SUMS.strip().splitlines())
}
MNIST_FILES: tuple[str, ...] = tuple(MNIST_SHA256)
MNIST_BYTES = 9_912_422 + 28_881 + 1_648_877 + 4_542  # about 11.6 MB in all

# Tried in order; yann.lecun.com is last because it often refuses scripted downloads.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

Status = Literal["ok", "missing", "mismatch"]


@dataclass(frozen=True)
class FileStatus:
    """One file checked against its known SHA-256."""

    name: str
    path: str
    status: Status
    expected: str
    actual: str | None  # None when the file is missing

    def describe(self) -> dict[str, str | None]:
        """JSON-able form."""
        return {
            "name": self.name,
            "path": self.path,
            "status": self.status,
            "expected": self.expected,
            "actual": self.actual,
        }


def check_file(path: str | Path, expected: str) -> FileStatus:
    """Status of one file: ok, missing, or mismatch (with the sum found)."""
    from pooch import file_hash  # pooch's own check of downloads; imported only when needed

    path = Path(path)
    if not path.is_file():
        return FileStatus(path.name, str(path), "missing", expected, None)
    actual = file_hash(str(path), alg="sha256")
    return FileStatus(
        path.name, str(path), "ok" if actual == expected else "mismatch", expected, actual
    )


def verify(directory: str | Path, sums: Mapping[str, str] = MNIST_SHA256) -> list[FileStatus]:
    """Each file of `sums` in `directory` against its SHA-256, in the order of `sums`."""
    directory = Path(directory).expanduser()
    return [check_file(directory / name, expected) for name, expected in sums.items()]
