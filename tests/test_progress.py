"""The terminal progress bar: formatting, redraw throttling, clearing, quiet when not a terminal."""

from __future__ import annotations

import io
import re

import pytest

from parity.progress import Progress, format_count, format_duration, render


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    """A stream that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("count", "unit", "expected"),
    [(0, "", "0"), (1234, "", "1,234"), (512, "B", "512 B"), (1_234_567, "B", "1.23 MB")],
    ids=["zero", "plain", "bytes", "megabytes"],
)
def test_format_count(count: float, unit: str, expected: str) -> None:
    assert format_count(count, unit) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "0:00"), (65, "1:05"), (3661, "1:01:01"), (-3, "0:00")],
    ids=["zero", "minute", "hour", "negative"],
)
def test_format_duration(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


def test_render_known_total() -> None:
    # Half done in 5 s: 1 item/s, 5 left -> ETA 0:05, 12 of 24 bar cells filled.
    line = render(5, 10, 5.0, desc="epoch 1", unit="")
    assert line.startswith("epoch 1:  50% |" + "#" * 12 + " " * 12 + "|"), line
    assert "5/10" in line and "1.0/s" in line and "ETA 0:05" in line, line


def test_render_unknown_total() -> None:
    line = render(2_000_000, None, 2.0, desc="get", unit="B")
    assert line == "get: 2.00 MB  1.00 MB/s  0:02", line


def test_draws_throttles_and_clears() -> None:
    clock, stream = FakeClock(), io.StringIO()
    bar = Progress(10, desc="work", enabled=True, stream=stream, min_interval=0.5, clock=clock)
    clock.now += 1.0
    bar.update(2)  # drawn: first draw
    clock.now += 0.1
    bar.update(2)  # throttled: 0.1 s after the last draw
    assert stream.getvalue().count("\r") == 1, repr(stream.getvalue())
    clock.now += 0.1
    bar.update(6)  # drawn although throttled: the work is complete
    assert stream.getvalue().count("\r") == 2, repr(stream.getvalue())
    assert "100%" in stream.getvalue()
    before = len(stream.getvalue())
    bar.close()
    bar.close()  # idempotent
    cleared = stream.getvalue()[before:]
    assert cleared.startswith("\r") and cleared.endswith("\r") and not cleared.strip(), repr(
        cleared
    )


def test_shorter_line_covers_longer() -> None:
    clock, stream = FakeClock(), io.StringIO()
    bar = Progress(None, desc="x", enabled=True, stream=stream, min_interval=0, clock=clock)
    clock.now += 1
    bar.update(10**9)
    clock.now += 1000  # the rate drops: a shorter line follows a longer one
    bar.update(1)
    first, second = stream.getvalue().split("\r")[1:]
    assert len(second) >= len(first), (first, second)


@pytest.mark.parametrize(
    ("stream_type", "enabled", "shown"),
    [
        (io.StringIO, None, False),
        (Terminal, None, True),
        (io.StringIO, True, True),
        (Terminal, False, False),
    ],
    ids=["pipe-auto", "tty-auto", "pipe-forced-on", "tty-forced-off"],
)
def test_enabled_follows_terminal(stream_type, enabled, shown: bool) -> None:
    stream = stream_type()
    with Progress(3, enabled=enabled, stream=stream, min_interval=0) as bar:
        bar.update(3)
        assert bar.line().startswith("100%")
    assert bool(stream.getvalue()) is shown, repr(stream.getvalue())


def test_default_stream_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress(2, desc="quiet", min_interval=0) as bar:  # captured stderr is no terminal
        bar.update(2)
    assert capsys.readouterr().err == ""


def test_closes_on_exception() -> None:
    stream = io.StringIO()
    with pytest.raises(KeyError), Progress(5, enabled=True, stream=stream, min_interval=0) as bar:
        bar.update(1)
        raise KeyError("boom")
    assert re.search(r"\r +\r$", stream.getvalue()), repr(stream.getvalue())  # line cleared
