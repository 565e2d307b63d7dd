"""A tiny dependency-free progress bar: one line on a terminal, redrawn with \\r, cleared on close.

Quiet unless stderr is a terminal (or `enabled=True`), so logs and CI output stay clean.

    with Progress(total=9_912_422, desc="train-images", unit="B") as bar:
        for chunk in chunks:
            bar.update(len(chunk))
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

_BAR_WIDTH = 24
_SI_PREFIXES = ("", "k", "M", "G", "T", "P")


def format_count(count: float, unit: str = "") -> str:
    """`count` with an SI prefix when `unit` is set (1_234_567, "B" -> '1.23 MB'), else '1,234'."""
    if not unit:
        return f"{int(count):,}"
    value = float(count)
    for prefix in _SI_PREFIXES:
        if abs(value) < 1000 or prefix == _SI_PREFIXES[-1]:
            return f"{value:.0f} {prefix}{unit}" if not prefix else f"{value:.2f} {prefix}{unit}"
        value /= 1000
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """Seconds as 'm:ss' or 'h:mm:ss'."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render(done: float, total: float | None, elapsed: float, desc: str = "", unit: str = "") -> str:
    """The one status line: 'desc  42% |#####     | 4.20 MB/10.00 MB  1.05 MB/s  ETA 0:05'."""
    rate = done / elapsed if elapsed > 0 else 0.0
    rate_text = f"{format_count(rate, unit)}/s" if unit else f"{rate:,.1f}/s"
    head = f"{desc}: " if desc else ""
    if total:
        fraction = min(max(done / total, 0.0), 1.0)
        filled = int(fraction * _BAR_WIDTH)
        bar = "#" * filled + " " * (_BAR_WIDTH - filled)
        eta = format_duration((total - done) / rate) if rate > 0 else "?"
        counts = f"{format_count(done, unit)}/{format_count(total, unit)}"
        return f"{head}{fraction:4.0%} |{bar}| {counts}  {rate_text}  ETA {eta}"
    return f"{head}{format_count(done, unit)}  {rate_text}  {format_duration(elapsed)}"


class Progress:
    """Counts work done out of `total` (None: unknown) and redraws one terminal line.

    `enabled=None` shows the bar only when `stream` (default: stderr) is a terminal. Redraws are
    limited to one per `min_interval` seconds; `close()` (or leaving the `with`) clears the line.
    """

    def __init__(
        self,
        total: float | None,
        desc: str = "",
        unit: str = "",
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        min_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.done: float = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self.stream) if enabled is None else enabled
        self.min_interval = min_interval
        self._clock = clock
        self._start = clock()
        self._last_draw = -float("inf")
        self._width = 0
        self._closed = False

    def update(self, n: float = 1) -> None:
        """Add `n` to the count and redraw if the last redraw is older than `min_interval`."""
        self.done += n
        now = self._clock()
        finished = self.total is not None and self.done >= self.total
        if self.enabled and (finished or now - self._last_draw >= self.min_interval):
            self._draw(now)

    def close(self) -> None:
        """Clear the line (idempotent); nothing is left on the terminal."""
        if self._closed:
            return
        self._closed = True
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def line(self) -> str:
        """The current status line (also what a disabled bar would show)."""
        return render(self.done, self.total, self._clock() - self._start, self.desc, self.unit)

    def _draw(self, now: float) -> None:
        self._last_draw = now
        text = render(self.done, self.total, now - self._start, self.desc, self.unit)
        # Pad with spaces so a shorter line fully covers the previous one.
        padded = text.ljust(self._width)
        self._width = max(self._width, len(text))
        self.stream.write("\r" + padded)
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        return False
