"""IDX reader and writer: round trips, gzip detection by content, and every malformed-file error."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from parity.data.errors import DataError
from parity.data.idx import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    encode_idx,
    parse_idx,
    read_idx,
    read_images,
    read_labels,
    write_idx,
)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize(
    "shape", [(7,), (3, 28, 28), (2, 3, 4), (0, 28, 28)], ids=["labels", "images", "3d", "empty"]
)
def test_round_trip(tmp_path: Path, rng: np.random.Generator, shape, compress) -> None:
    array = rng.integers(0, 256, size=shape, dtype=np.uint8)
    path = write_idx(tmp_path / "x.idx", array, compress=compress)
    back = read_idx(path)
    assert back.dtype == np.uint8, back.dtype
    assert back.shape == array.shape, back.shape
    np.testing.assert_array_equal(back, array)


def test_header_bytes_by_hand() -> None:
    # 2 labels [3, 9]: magic 00 00 08 01 (2049), count 2 big-endian, then the items.
    assert encode_idx(np.array([3, 9], dtype=np.uint8)) == bytes.fromhex("00000801 00000002 0309")
    assert int.from_bytes(bytes.fromhex("00000803"), "big") == IMAGES_MAGIC
    assert int.from_bytes(bytes.fromhex("00000801"), "big") == LABELS_MAGIC


@pytest.mark.parametrize(
    ("name", "compress"),
    [("gz-content.raw", True), ("raw-content.gz", False)],
    ids=["gzip-without-gz-name", "raw-with-gz-name"],
)
def test_gzip_detected_by_magic_not_name(tmp_path: Path, name: str, compress: bool) -> None:
    labels = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / name, labels, compress=compress)
    np.testing.assert_array_equal(read_labels(tmp_path / name), labels)


def test_write_default_compression_follows_suffix(tmp_path: Path) -> None:
    labels = np.arange(10, dtype=np.uint8)
    assert write_idx(tmp_path / "a.gz", labels).read_bytes()[:2] == b"\x1f\x8b"
    assert write_idx(tmp_path / "a", labels).read_bytes()[:4] == bytes.fromhex("00000801")


def test_write_is_reproducible(tmp_path: Path) -> None:
    labels = np.arange(10, dtype=np.uint8)
    first = write_idx(tmp_path / "a.gz", labels).read_bytes()
    assert write_idx(tmp_path / "b.gz", labels).read_bytes() == first


def test_multi_member_gzip(tmp_path: Path) -> None:
    data = encode_idx(np.arange(10, dtype=np.uint8))
    path = tmp_path / "two-members.gz"
    path.write_bytes(gzip.compress(data[:7]) + gzip.compress(data[7:]))
    np.testing.assert_array_equal(read_labels(path), np.arange(10))


def test_read_only_view_without_copy() -> None:
    data = encode_idx(np.zeros((2, 28, 28), dtype=np.uint8))
    array = parse_idx(data, "mem")
    assert not array.flags.writeable
    assert np.shares_memory(array, np.frombuffer(data, dtype=np.uint8))


@pytest.mark.parametrize(
    "array", [np.zeros(3, dtype=np.int64), np.zeros((), dtype=np.uint8)], ids=["int64", "0-d"]
)
def test_writer_rejects(array: np.ndarray) -> None:
    with pytest.raises(ValueError, match="IDX"):
        encode_idx(array)


# --- malformed files: one DataError naming the file, the problem and the fix ----------------------


def _images(n: int = 3) -> bytes:
    return encode_idx(np.full((n, 28, 28), 7, dtype=np.uint8))


def _labels(values: list[int]) -> bytes:
    return encode_idx(np.array(values, dtype=np.uint8))


def _truncated_gzip() -> bytes:
    whole = gzip.compress(_images())
    return whole[: len(whole) // 2]


def _corrupt_gzip() -> bytes:
    whole = bytearray(gzip.compress(_images()))
    whole[-8] ^= 0xFF  # the CRC32 of the trailer no longer matches
    return bytes(whole)


def _patched_count(n_claimed: int) -> bytes:
    data = bytearray(_images(3))
    data[4:8] = n_claimed.to_bytes(4, "big")
    return bytes(data)


BAD_FILES: list[tuple[str, Callable[[], bytes], Callable, str]] = [
    ("truncated-gzip", _truncated_gzip, read_images, "truncated gzip"),
    ("corrupt-gzip", _corrupt_gzip, read_images, "corrupt gzip"),
    ("labels-as-images", lambda: _labels([1, 2]), read_images, "wrong magic number 2049"),
    ("images-as-labels", _images, read_labels, "wrong magic number 2051"),
    ("not-idx", lambda: b"PK\x03\x04 a zip file", read_images, "wrong magic number"),
    ("empty", lambda: b"", read_images, "not an IDX file"),
    (
        "float-type",
        lambda: b"\x00\x00\x0d\x01" + (1).to_bytes(4, "big") + bytes(4),
        read_idx,
        "0x0d",
    ),
    ("header-cut", lambda: _images()[:10], read_images, "declares 3 dimensions"),
    ("count-too-big", lambda: _patched_count(4), read_images, "file is truncated"),
    ("count-too-small", lambda: _patched_count(2), read_images, "trailing bytes"),
    ("raw-truncated", lambda: _images()[:-1], read_images, "file is truncated"),
    ("label-above-9", lambda: _labels([1, 10, 3]), read_labels, "label 10 at index 1"),
    ("not-28x28", lambda: encode_idx(np.zeros((2, 27, 28), np.uint8)), read_images, "27 x 28"),
]


@pytest.mark.parametrize(
    ("make", "reader", "expected"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_bad_file(tmp_path: Path, make, reader, expected: str) -> None:
    path = tmp_path / "bad-file.gz"
    path.write_bytes(make())
    with pytest.raises(DataError) as caught:
        reader(path)
    message = str(caught.value)
    assert str(path) in message, message
    assert expected in message, message
    assert "mlp-parity data --fetch" in message, message  # what to do


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "absent.gz")
