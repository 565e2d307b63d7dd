"""The one comparison helper: used by every test, the judge and the command line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from parity.tolerances import Tolerance, tolerance

Array = np.ndarray


@dataclass(frozen=True)
class Comparison:
    """One tensor of one stage between two implementations.

    It passes when ``max_abs <= tolerance.bound(scale)`` = atol + rtol * scale. max_abs is
    max|actual - expected|, at ``index`` where the two values are ``actual`` and ``expected``;
    ``scale`` is what rtol is relative to: max|expected| unless the stage measures a better one
    (the gradients' sums of absolute terms); max_rel is max_abs / scale. ``mismatched`` of
    ``size`` elements lie beyond the bound. ``problem`` is set when shapes differ, a key is
    missing or values are not finite: then it failed outright.
    """

    stage: str
    tensor: str
    pair: tuple[str, str]  # (actual's name, expected's name)
    dtype: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    scale: float  # what rtol is relative to
    index: tuple[int, ...]
    actual: float
    expected: float
    tolerance: Tolerance
    passed: bool
    problem: str | None = None
    detail: str | None = None  # stage-specific account replacing the numeric one (predictions)
    mismatched: int = 0  # elements beyond the bound
    size: int = 0  # elements compared

    @property
    def bound(self) -> float:
        return self.tolerance.bound(self.scale)

    def message(self) -> str:
        """One line naming stage, pair, tensor, error, where, both values, how many elements
        disagree and the tolerance."""
        a, e = self.pair
        head = f"{self.stage} {a} vs {e} {self.tensor}"
        if self.problem:
            return f"{head}: {self.problem}"
        verdict = "ok" if self.passed else "MISMATCH"
        if self.detail:
            return f"{head}: {verdict} {self.detail}; tolerance {self.tolerance.describe()}"
        rel = f"{self.max_rel:.3e}" if np.isfinite(self.max_rel) else "n/a"
        share = 100.0 * self.mismatched / self.size if self.size else 0.0
        return (
            f"{head}: {verdict} max|diff| {self.max_abs:.3e} (rel {rel}) at "
            f"{list(self.index)}: {a} {self.actual!r} vs {e} {self.expected!r}; "
            f"mismatched elements: {self.mismatched} / {self.size} ({share:.1f}%); tolerance "
            f"{self.tolerance.describe(self.scale)} = {self.bound:.1e} [{self.dtype}]"
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tolerance"] = {
            "atol": self.tolerance.atol,
            "rtol": self.tolerance.rtol,
            "bound": self.bound,
            "reason": self.tolerance.reason,
        }
        out["pair"] = list(self.pair)
        out["shape"] = list(self.shape)
        out["index"] = list(self.index)
        return out


def failed(
    stage: str,
    tensor: str,
    pair: tuple[str, str],
    dtype: str,
    tol: Tolerance,
    problem: str,
    shape: tuple[int, ...] = (),
) -> Comparison:
    """A comparison that could not be made (shape mismatch, NaN, missing key, a crash)."""
    nan, inf = float("nan"), float("inf")
    return Comparison(
        stage=stage,
        tensor=tensor,
        pair=pair,
        dtype=str(dtype),
        shape=shape,
        max_abs=inf,
        max_rel=inf,
        scale=nan,
        index=(),
        actual=nan,
        expected=nan,
        tolerance=tol,
        passed=False,
        problem=problem,
    )


def compare(
    actual: object,
    expected: object,
    *,
    stage: str,
    tensor: str,
    dtype: str,
    pair: tuple[str, str] = ("actual", "expected"),
    tol: Tolerance | None = None,
    scale: float | None = None,
) -> Comparison:
    """Compare two arrays of the same shape under the table's tolerance for (stage, dtype).

    Shape first, then finiteness, then values: ``atol + rtol * scale`` with ``scale``
    max|expected| unless given (it must be >= max|expected|: a caller's better measure of the
    magnitudes whose rounding the difference can carry).
    """
    tol = tol if tol is not None else tolerance(stage, dtype)
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return failed(stage, tensor, pair, dtype, tol, f"shape {a.shape} vs {e.shape}", e.shape)
    for name, values in ((pair[0], a), (pair[1], e)):
        if not np.isfinite(values).all():
            where = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
            problem = f"{name} is not finite at {list(where)}: {float(values[where])!r}"
            return failed(stage, tensor, pair, dtype, tol, problem, e.shape)
    diff = np.abs(a - e)
    flat = int(np.argmax(diff)) if diff.size else 0
    max_abs = float(diff.reshape(-1)[flat]) if diff.size else 0.0
    magnitude = float(np.abs(e).max()) if e.size else 0.0
    scale = magnitude if scale is None else max(float(scale), magnitude)
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    bound = tol.bound(scale)
    return Comparison(
        stage=stage,
        tensor=tensor,
        pair=pair,
        dtype=str(dtype),
        shape=e.shape,
        max_abs=max_abs,
        max_rel=max_rel,
        scale=scale,
        index=tuple(int(i) for i in np.unravel_index(flat, e.shape)) if diff.size else (),
        actual=float(a.reshape(-1)[flat]) if diff.size else 0.0,
        expected=float(e.reshape(-1)[flat]) if diff.size else 0.0,
        tolerance=tol,
        passed=max_abs <= bound,
        mismatched=int(np.count_nonzero(diff > bound)),
        size=int(diff.size),
    )


def compare_params(
    actual: Mapping[str, object],
    expected: Mapping[str, object],
    *,
    stage: str,
    dtype: str,
    pair: tuple[str, str] = ("actual", "expected"),
    tol: Tolerance | None = None,
    scales: Mapping[str, float] | None = None,
) -> list[Comparison]:
    """``compare`` per key of two params (or gradients) dicts; a missing key is a failure.

    ``scales`` optionally gives each key's scale (see ``compare``)."""
    results = []
    for key in expected:
        if key not in actual:
            problem = f"{pair[0]} has no {key!r} (keys {sorted(actual)})"
            results.append(failed(stage, key, pair, dtype, tol or tolerance(stage, dtype), problem))
            continue
        scale = None if scales is None else scales.get(key)
        results.append(
            compare(
                actual[key],
                expected[key],
                stage=stage,
                tensor=key,
                dtype=dtype,
                pair=pair,
                tol=tol,
                scale=scale,
            )
        )
    return results


def assert_close(
    actual: object,
    expected: object,
    *,
    stage: str,
    tensor: str,
    dtype: str,
    pair: tuple[str, str] = ("actual", "expected"),
    tol: Tolerance | None = None,
) -> Comparison:
    """``compare`` and raise AssertionError with its message when it fails (for tests)."""
    result = compare(actual, expected, stage=stage, tensor=tensor, dtype=dtype, pair=pair, tol=tol)
    if not result.passed:
        raise AssertionError(result.message())
    return result


def assert_params_close(
    actual: Mapping[str, object],
    expected: Mapping[str, object],
    *,
    stage: str,
    dtype: str,
    pair: tuple[str, str] = ("actual", "expected"),
    tol: Tolerance | None = None,
) -> list[Comparison]:
    """``compare_params`` and raise with every failing key's message."""
    results = compare_params(actual, expected, stage=stage, dtype=dtype, pair=pair, tol=tol)
    failures = [r.message() for r in results if not r.passed]
    if failures:
        raise AssertionError("\n".join(failures))
    return results


# --------------------------------------------------------------------------- predictions


def compare_predictions(
    probs_a: Array, probs_b: Array, pair: tuple[str, str], dtype: str
) -> Comparison:
    """Do the argmax predictions agree? A disagreement is excused only as a near-tie.

    With delta = max|probs_a - probs_b| over the samples whose predictions AGREE (how far
    apart the two implementations' probabilities are, measured where it decides nothing), a
    sample whose top-two probabilities are within 2*delta in both implementations may flip
    by rounding; such flips are counted in the message, not failed. Everything else must agree
    exactly: a flipped sample's own difference never widens the band that excuses it.
    probs_a, probs_b (n_test, n_classes).
    """
    pred_a, pred_b = probs_a.argmax(axis=1), probs_b.argmax(axis=1)
    agree = pred_a == pred_b
    delta = float(np.abs(probs_a[agree] - probs_b[agree]).max(initial=0.0))
    differ = np.flatnonzero(~agree)
    near_tie = (_margin(probs_a[differ]) <= 2 * delta) & (_margin(probs_b[differ]) <= 2 * delta)
    excused, unexcused = differ[near_tie], differ[~near_tie]
    tol = tolerance("predictions", dtype)
    flags = np.zeros(pred_a.shape[0])
    flags[unexcused] = 1.0
    first = int(unexcused[0]) if unexcused.size else (int(differ[0]) if differ.size else 0)
    detail = (
        f"{unexcused.size} of {pred_a.shape[0]} test predictions differ"
        f" ({excused.size} near-ties within 2*max|dprob| = {2 * delta:.1e} excused)"
    )
    if differ.size:
        detail += (
            f"; first at test[{first}]: {pair[0]} {pred_a[first]} vs {pair[1]} {pred_b[first]}"
        )
    result = compare(
        flags,
        np.zeros_like(flags),
        stage="predictions",
        tensor="test predictions",
        dtype=dtype,
        pair=pair,
        tol=tol,
    )
    return replace(result, detail=detail)


def _margin(probs: Array) -> Array:
    """Top-1 minus top-2 probability per row, (n,)."""
    if probs.shape[0] == 0:
        return np.zeros(0)
    top2 = np.sort(probs, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]
