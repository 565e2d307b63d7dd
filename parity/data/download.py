"""Verified download of the four MNIST files into the user cache, on top of pooch.

pooch does each attempt: it streams the file into a temporary file in the cache folder, checks
its SHA-256 against the registry and only then moves it to its name; whatever goes wrong
(including Ctrl-C) the temporary file is deleted. So nothing partial or unverified is ever
left, and a verified file is never replaced by a bad one.

What pooch does not do is done here: several mirrors (pooch knows one URL per file), tried in
rounds with a doubling pause between rounds but no further round when no mirror could even be
reached (offline: retrying would only make the user wait; pooch's own `retry_if_failed` retries
one URL, sleeping each time); a cache folder checked for writing before any download; and one
error line naming the file, each mirror's failure and the fix. pooch and requests are imported
only when a download happens (they cost ~0.2 s of import time).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir

from parity.data.errors import DataError, DownloadError
from parity.data.registry import MIRRORS, MNIST_SHA256, verify

__all__ = ["MIRRORS_ENV", "configured_mirrors", "default_cache_dir", "download_file", "fetch"]

MIRRORS_ENV = "MLP_PARITY_MIRRORS"
DEFAULT_TIMEOUT = 30.0  # seconds to connect, and without data while reading
DEFAULT_RETRIES = 2  # extra rounds over all mirrors after the first
DEFAULT_BACKOFF = 1.0  # seconds before the 2nd round, doubling after
CHUNK = 1 << 16  # bytes per read (pooch's default, 1 KiB, is slow for 10 MB)
USER_AGENT = "mlp-parity (MNIST downloader; pooch)"


def default_cache_dir() -> Path:
    """This user's MNIST cache folder (may not exist yet), from platformdirs.

    Linux `$XDG_CACHE_HOME/mlp-parity/mnist` (a relative XDG_CACHE_HOME is ignored) or
    `~/.cache/mlp-parity/mnist`; macOS `~/Library/Caches/mlp-parity/mnist`; Windows
    `%LOCALAPPDATA%\\mlp-parity\\Cache\\mnist` (appauthor=False: no second "mlp-parity" level).
    """
    return Path(user_cache_dir("mlp-parity", appauthor=False)) / "mnist"


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
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # mkdir succeeds for an existing read-only folder: only a real write proves access.
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        raise DataError(
            f"cache directory {directory} is not writable ({err.strerror or type(err).__name__}); "
            "pass a writable cache directory, set XDG_CACHE_HOME, or set MLP_PARITY_DATA to a "
            "folder that already holds the four MNIST files"
        ) from None
    return directory


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
    is not writable. `progress`: a bar per file on stderr; None shows it on a terminal only.
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
            try:
                return _attempt(mirror, name, directory, expected, timeout, progress)
            except _MirrorError as failure:
                failures.append(failure)
        rounds += 1
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


class _MirrorError(Exception):
    """One attempt at one URL failed: 'URL: reason'; `unreachable` when no connection was made."""

    def __init__(self, url: str, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(f"{url}: {reason}")
        self.unreachable = unreachable


def _attempt(
    mirror: str, name: str, directory: Path, expected: str, timeout: float, progress: bool | None
) -> Path:
    """One pooch download of `name` from `mirror`, verified; failures become _MirrorError."""
    import pooch
    import requests
    from tqdm import tqdm

    base_url = mirror if mirror.endswith("/") else mirror + "/"
    # A one-file registry: pooch checks the download against it before moving it into place.
    registry = pooch.create(
        path=directory, base_url=base_url, registry={name: f"sha256:{expected}"}
    )
    # total=1 is a placeholder: pooch sets the real total from Content-Length, but first tests
    # `if progressbar:`, and a tqdm bar without a total has no truth value.
    bar = tqdm(
        total=1,
        desc=name,
        unit="B",
        unit_scale=True,
        leave=False,
        disable=None if progress is None else not progress,  # None: on a terminal only
    )
    downloader = pooch.HTTPDownloader(
        progressbar=bar, chunk_size=CHUNK, timeout=timeout, headers={"User-Agent": USER_AGENT}
    )
    try:
        with _quiet(pooch.get_logger()):
            return Path(registry.fetch(name, downloader=downloader))
    except requests.RequestException as err:  # before OSError: requests' errors are OSErrors
        reason, unreachable = _describe(err, timeout)
        raise _MirrorError(base_url + name, reason, unreachable=unreachable) from None
    except ValueError:  # pooch: the SHA-256 of the download is not the registry's
        raise _MirrorError(
            base_url + name,
            f"SHA-256 mismatch (expected {expected}); the download was discarded",
        ) from None
    except OSError as err:  # a local disk problem, not the mirror's: no point trying others
        raise DataError(
            f"{name}: cannot write the download into {directory} ({err.strerror or err}); "
            "free disk space or pass another cache directory"
        ) from None
    finally:
        bar.close()  # pooch closes it only after a complete download


def _describe(err: Any, timeout: float) -> tuple[str, bool]:
    """A requests error as (short reason, whether no connection was made at all)."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError

    inner = err.args[0] if err.args else None
    # urllib3's MaxRetryError carries the cause; NewConnectionError (refused, unknown host) is
    # a ConnectTimeoutError too.
    cause = getattr(inner, "reason", None)
    if isinstance(err, requests.HTTPError) and err.response is not None:
        return f"HTTP {err.response.status_code} {err.response.reason}", False
    if isinstance(cause, ConnectTimeoutError):
        return f"cannot connect ({_innermost(cause)})", True
    if isinstance(err, requests.Timeout) or isinstance(inner, ReadTimeoutError):
        return f"timed out (no data for {timeout:g} s)", False
    if isinstance(err, requests.exceptions.ChunkedEncodingError):
        return f"interrupted download ({_innermost(err)})", False
    return f"{type(err).__name__}: {' '.join(str(err).split())}", False


def _innermost(err: BaseException) -> str:
    """The first text among an exception's nested args, on one line, without urllib3's prefix.

    e.g. "Failed to establish a new connection: [Errno 111] Connection refused".
    """
    inner: object = err
    while isinstance(inner, BaseException) and inner.args:
        inner = inner.args[0]
    return " ".join(str(inner).split()).split("): ", 1)[-1]


@contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    """pooch logs each download at INFO to stderr; the progress bar already says it."""
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
