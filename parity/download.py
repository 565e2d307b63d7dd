"""Verified download of the four MNIST files: mirrors, SHA-256 sums, retries, atomic writes.

A file reaches its final name only after its SHA-256 matched: it is streamed into a hidden
temporary file in the same directory and renamed with `os.replace` (atomic on one file
system). Whatever goes wrong, the temporary file is removed and an already verified file at
the final name is left untouched.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from parity.idx import DataError
from parity.progress import Progress

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
DEFAULT_TIMEOUT = 30.0  # seconds per socket operation (connect, each read)
DEFAULT_RETRIES = 2  # extra rounds over all mirrors after the first
DEFAULT_BACKOFF = 1.0  # seconds before the 2nd round, doubling after
CHUNK = 1 << 16
USER_AGENT = "mlp-parity (MNIST downloader; Python urllib)"

Status = Literal["ok", "missing", "mismatch"]


class DownloadError(DataError):
    """No mirror delivered a verified copy (network, HTTP, interrupted or checksum failures)."""


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


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path: str | Path, expected: str) -> FileStatus:
    """Status of one file: ok, missing, or mismatch (with the sum found)."""
    path = Path(path)
    if not path.is_file():
        return FileStatus(path.name, str(path), "missing", expected, None)
    actual = sha256_file(path)
    return FileStatus(
        path.name, str(path), "ok" if actual == expected else "mismatch", expected, actual
    )


def verify_dir(directory: str | Path, sums: Mapping[str, str] = MNIST_SHA256) -> list[FileStatus]:
    """Check every file of `sums` in `directory`, in the order of `sums`."""
    return [check_file(Path(directory) / name, expected) for name, expected in sums.items()]


def prepare_dir(directory: str | Path) -> Path:
    """Create `directory` if needed and prove it is writable, or say clearly why not."""
    directory = Path(directory)
    hint = (
        "pass a writable cache directory, set XDG_CACHE_HOME, or set MLP_PARITY_DATA to a "
        "folder that already holds the four MNIST files"
    )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # mkdir succeeds for an existing read-only folder: only a real write proves access.
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise DataError(f"cache directory {directory} is not writable ({reason}); {hint}") from None
    return directory


def download_file(
    name: str,
    directory: str | Path,
    *,
    expected: str,
    mirrors: Sequence[str] = MIRRORS,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    progress: bool | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Fetch `name` from the first mirror that serves bytes with SHA-256 `expected`.

    Tries every mirror, in order, for 1 + `retries` rounds; returns the verified final path.
    """
    if not mirrors:
        raise DownloadError(f"{name}: no download mirrors given; pass at least one mirror URL")
    directory = prepare_dir(directory)
    rounds = 0
    while True:
        failures: list[_MirrorError] = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            try:
                return _download_verified(url, directory / name, expected, timeout, progress)
            except _MirrorError as failure:
                failures.append(failure)
        rounds += 1
        # No mirror even reachable (offline, no DNS): another round would only add waiting.
        if rounds > retries or all(failure.unreachable for failure in failures):
            break
        sleep(backoff * 2 ** (rounds - 1))
    tried = "; ".join(str(failure) for failure in failures)
    raise DownloadError(
        f"{name}: could not download a verified copy after {rounds} round(s) over "
        f"{len(mirrors)} mirror(s) (last round: {tried}); nothing was written to {directory}. "
        "Check the network (or a proxy) and retry, or copy the four MNIST .gz files into a "
        "folder and set MLP_PARITY_DATA to it"
    )


def fetch_files(
    directory: str | Path,
    *,
    sums: Mapping[str, str] = MNIST_SHA256,
    mirrors: Sequence[str] = MIRRORS,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    progress: bool | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Path]:
    """Make `directory` hold a verified copy of every file in `sums`; download only what is not ok.

    A present file whose sum mismatches is replaced only once a verified copy has arrived.
    """
    directory = prepare_dir(directory)
    paths = []
    for status in verify_dir(directory, sums):
        if status.status != "ok":
            download_file(
                status.name,
                directory,
                expected=status.expected,
                mirrors=mirrors,
                timeout=timeout,
                retries=retries,
                backoff=backoff,
                progress=progress,
                sleep=sleep,
            )
        paths.append(directory / status.name)
    return paths


class _MirrorError(Exception):
    """One attempt at one URL failed: 'URL: reason'; `unreachable` when no connection was made."""

    def __init__(self, url: str, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(f"{url}: {reason}")
        self.unreachable = unreachable


def _download_verified(
    url: str, final: Path, expected: str, timeout: float, progress: bool | None
) -> Path:
    try:
        handle, tmp_name = tempfile.mkstemp(
            dir=final.parent, prefix=f".{final.name}.", suffix=".part"
        )
    except OSError as err:
        raise DataError(
            f"cache directory {final.parent} is not writable ({err.strerror or err}); pass a "
            "writable cache directory or set MLP_PARITY_DATA"
        ) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            actual = _stream(url, out, timeout, progress, final.name)
            out.flush()
            os.fsync(out.fileno())  # the bytes are on disk before the name points at them
        if actual != expected:
            raise _MirrorError(
                url,
                f"SHA-256 mismatch (got {actual}, expected {expected}); the download was discarded",
            )
        os.replace(tmp, final)
        return final
    finally:
        # Also on KeyboardInterrupt: never leave a partial or unverified file behind.
        tmp.unlink(missing_ok=True)


def _stream(url: str, out: IO[bytes], timeout: float, progress: bool | None, desc: str) -> str:
    """Copy the body of `url` into `out`, returning its SHA-256; raise _MirrorError on failure."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    digest = hashlib.sha256()
    received = 0
    length: int | None = None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            header = response.headers.get("Content-Length")
            length = int(header) if header and header.isdigit() else None
            with Progress(length, desc=desc, unit="B", enabled=progress) as bar:
                for chunk in _chunks(response):
                    digest.update(chunk)
                    _write(out, chunk, desc)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        raise _MirrorError(url, f"HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise _MirrorError(url, f"cannot connect ({err.reason})", unreachable=True) from None
    except TimeoutError:
        raise _MirrorError(
            url, f"timed out (no data for {timeout:g} s) after {received:,} bytes"
        ) from None
    except (http.client.HTTPException, ConnectionError) as err:
        raise _MirrorError(
            url, f"interrupted after {received:,} bytes ({type(err).__name__}: {err})"
        ) from None
    except OSError as err:
        raise _MirrorError(url, f"interrupted after {received:,} bytes ({err})") from None
    if length is not None and received != length:
        raise _MirrorError(
            url, f"connection closed after {received:,} of {length:,} bytes (interrupted download)"
        )
    return digest.hexdigest()


def _write(out: IO[bytes], chunk: bytes, desc: str) -> None:
    try:
        out.write(chunk)
    except OSError as err:  # a local disk problem, not the mirror's: no point trying others
        raise DataError(
            f"{desc}: cannot write the download to {out.name} ({err.strerror or err}); "
            "free disk space or pass another cache directory"
        ) from None


def _chunks(response: http.client.HTTPResponse) -> Iterable[bytes]:
    # HTTPResponse.read(n) returns b"" (no error) when the server closes early; the caller
    # compares the byte count with Content-Length to catch that.
    while chunk := response.read(CHUNK):
        yield chunk
