"""The IDX file format of MNIST: read (gzip or raw) and write, with every header checked.

An IDX file is a 4-byte magic number `00 00 <type> <ndim>`, then `ndim` big-endian uint32
dimensions, then the items in C order. MNIST uses type 0x08 (unsigned byte): images have
magic 2051 (`00 00 08 03`, dims n x 28 x 28), labels magic 2049 (`00 00 08 01`, dims n).
Compression is detected from the gzip magic bytes `1f 8b`, never from the file name.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from parity.data.errors import DataError

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
UBYTE_TYPE = 0x08
GZIP_MAGIC = b"\x1f\x8b"
N_CLASSES = 10

FIX_HINT = (
    "replace it with the original MNIST file "
    "(`mlp-parity data --fetch` downloads verified copies into the cache)"
)


def gunzip(raw: bytes, name: str) -> bytes:
    """Decompress a (possibly multi-member) gzip stream, failing clearly on a truncated one."""
    parts: list[bytes] = []
    rest = raw
    while rest[:2] == GZIP_MAGIC:
        stream = zlib.decompressobj(wbits=31)  # 31: gzip header and CRC/length trailer checked
        try:
            parts.append(stream.decompress(rest))
        except zlib.error as err:
            raise DataError(f"{name}: corrupt gzip data ({err}); {FIX_HINT}") from None
        if not stream.eof:
            raise DataError(
                f"{name}: truncated gzip file ({len(raw):,} bytes, the compressed stream "
                f"ends early); {FIX_HINT}"
            )
        rest = stream.unused_data
    # One member: return it as is, so no full-size copy is made.
    return parts[0] if len(parts) == 1 else b"".join(parts)


def read_bytes(path: str | Path) -> bytes:
    """The file's IDX bytes, decompressed when it starts with the gzip magic."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err}); {FIX_HINT}") from None
    return gunzip(raw, str(path)) if raw[:2] == GZIP_MAGIC else raw


def parse_idx(data: bytes, name: str, *, magic: int | None = None) -> np.ndarray:
    """Decode IDX bytes into a read-only uint8 array viewing `data` (no copy); shape from header.

    `magic`, when given, is the required magic number (IMAGES_MAGIC or LABELS_MAGIC).
    """
    if len(data) < 4:
        raise DataError(f"{name}: not an IDX file (only {len(data)} bytes); {FIX_HINT}")
    found = int.from_bytes(data[:4], "big")
    what = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}
    if data[:2] != b"\x00\x00" or (magic is not None and found != magic):
        expected = f"expected {magic} ({what.get(magic, 'IDX')})" if magic else "expected 00 00"
        raise DataError(
            f"{name}: wrong magic number {found} (bytes {data[:4].hex(' ')}), {expected}; "
            f"this is not the right IDX file — {FIX_HINT}"
        )
    if data[2] != UBYTE_TYPE:
        raise DataError(
            f"{name}: IDX item type 0x{data[2]:02x} is not supported (MNIST uses 0x08, "
            f"unsigned byte); {FIX_HINT}"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(
            f"{name}: IDX header declares {ndim} dimensions but the file has only "
            f"{len(data)} bytes; {FIX_HINT}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_len = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected_len:
        dims = " x ".join(str(d) for d in shape)
        problem = "file is truncated" if len(data) < expected_len else "file has trailing bytes"
        raise DataError(
            f"{name}: header says {dims} items ({expected_len:,} bytes with the header) but the "
            f"decompressed file has {len(data):,} bytes — {problem}; {FIX_HINT}"
        )
    return np.frombuffer(data, dtype=np.uint8, count=expected_len - header, offset=header).reshape(
        shape
    )


def read_idx(path: str | Path, *, magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip or raw) as a read-only uint8 array of the header's shape."""
    return parse_idx(read_bytes(path), str(path), magic=magic)


def read_images(path: str | Path) -> np.ndarray:
    """MNIST images as read-only uint8, shape (n, 28, 28); magic 2051 and 28 x 28 required."""
    images = read_idx(path, magic=IMAGES_MAGIC)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(
            f"{path}: images are {' x '.join(map(str, images.shape))}, expected n x 28 x 28 "
            f"(MNIST); {FIX_HINT}"
        )
    return images


def read_labels(path: str | Path) -> np.ndarray:
    """MNIST labels as read-only uint8, shape (n,); magic 2049 and every label in 0..9 required."""
    labels = read_idx(path, magic=LABELS_MAGIC)
    if labels.ndim != 1:
        raise DataError(f"{path}: labels have shape {labels.shape}, expected (n,); {FIX_HINT}")
    bad = np.flatnonzero(labels >= N_CLASSES)
    if bad.size:
        raise DataError(
            f"{path}: label {labels[bad[0]]} at index {bad[0]} is not a digit 0..9 "
            f"({bad.size} bad labels); {FIX_HINT}"
        )
    return labels


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of a uint8 array of any shape (ndim 1..255)."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"IDX writer takes uint8 arrays, got {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX needs 1..255 dimensions, got {array.ndim}")
    header = bytes([0, 0, UBYTE_TYPE, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write `array` (uint8) as IDX; gzip when `compress` (None: when the name ends in .gz)."""
    path = Path(path)
    data = encode_idx(array)
    if compress is None:
        compress = path.suffix == ".gz"
    # mtime=0: the same array always gives the same bytes (reproducible test files).
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path
