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
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import IO

from parity.data.errors import DataError, DownloadError
from parity.data.registry import MIRRORS, MNIST_SHA256, verify
from parity.progress import Progress

__all__ = ["MIRRORS_ENV", "configured_mirrors", "default_cache_dir", "download_file", "fetch"]

MIRRORS_ENV = "MLP_PARITY_MIRRORS"
DEFAULT_TIMEOUT = 30.0  # seconds per socket operation (connect, each read)
DEFAULT_RETRIES = 2  # extra rounds over all mirrors after the first
DEFAULT_BACKOFF = 1.0  # seconds before the 2nd round, doubling after
CHUNK = 1 << 16
USER_AGENT = "mlp-parity (MNIST downloader; Python urllib)"


def cache_dir_for(platform: str, environ: Mapping[str, str], home: str) -> PurePath:
    """The platform's user cache folder for MNIST (pure: no file system access)."""
    if platform == "win32":
        base = environ.get("LOCALAPPDATA") or str(PureWindowsPath(home, "AppData", "Local"))
        return PureWindowsPath(base, "mlp-parity", "Cache", "mnist")
    if platform == "darwin":
        return PurePosixPath(home, "Library", "Caches", "mlp-parity", "mnist")
    xdg = environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says to ignore a relative XDG_CACHE_HOME.
    base_posix = (
        PurePosixPath(xdg) if PurePosixPath(xdg).is_absolute() else PurePosixPath(home, ".cache")
    )
    return base_posix / "mlp-parity" / "mnist"


def default_cache_dir() -> Path:
    """This user's MNIST cache folder (may not exist yet)."""
    return Path(cache_dir_for(sys.platform, os.environ, str(Path.home())))


def configured_mirrors(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Mirrors from ``$MLP_PARITY_MIRRORS`` (URLs separated by commas or spaces), else MIRRORS.

    For a local mirror or a proxy; tests point it at 127.0.0.1 so no test reaches the network.
    """
    raw = (os.environ if environ is None else environ).get(MIRRORS_ENV, "")
    urls = tuple(u if u.endswith("/") else u + "/" for u in raw.replace(",", " ").split())
    return urls or MIRRORS


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


def fetch(
    cache_dir: str | Path | None = None,
    *,
    sums: Mapping[str, str] = MNIST_SHA256,
    mirrors: Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    progress: bool | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Make the cache folder hold a verified copy of every file in `sums`; returns the folder.

    Downloads only what is missing or fails its sum (mirrors: `configured_mirrors()` when None);
    a present file whose sum mismatches is replaced only once a verified copy has arrived.
    Raises DownloadError when a file cannot be had from any mirror, DataError when the folder
    is not writable.
    """
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    directory = prepare_dir(directory)
    for status in verify(directory, sums):
        if status.status != "ok":
            download_file(
                status.name,
                directory,
                expected=status.expected,
                mirrors=configured_mirrors() if mirrors is None else mirrors,
                timeout=timeout,
                retries=retries,
                backoff=backoff,
                progress=progress,
                sleep=sleep,
            )
    return directory


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
