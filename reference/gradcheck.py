"""Central finite differences on the reference, framework-free: is backprop the loss's gradient?"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from frameworks.contract import Params, as_inputs, as_labels, as_params
from reference.losses import loss_value
from reference.model import forward_unchecked, gradients, one_hot
from reference.spec import Spec

Array = np.ndarray
# loss(params) -> the batch-mean loss of float64 params on the checked batch (the one thing a
# finite difference needs); the default is the reference's own.
LossFn = Callable[[Params], float]


@dataclass(frozen=True)
class ParamCheck:
    """The worst entry of one parameter: CS231n's |a - n| / max(|a| + |n|, tiny)."""

    key: str
    n_checked: int  # entries compared (all of them, or a seeded subset, less kinks)
    n_entries: int
    n_kinks: int  # relu entries skipped: their stencil crossed a kink
    max_rel_error: float
    index: tuple[int, ...]  # where the worst entry is
    analytic: float  # backprop's value there
    numeric: float  # the finite difference there
    entries: Array = field(
        repr=False, compare=False, default_factory=lambda: np.zeros(0, dtype=np.int64)
    )
    numerics: Array = field(
        repr=False, compare=False, default_factory=lambda: np.zeros(0)
    )  # NaN at kinks

    def passed(self, tol: float) -> bool:
        return self.max_rel_error <= tol


@dataclass(frozen=True)
class GradCheck:
    """Per-parameter results of one finite-difference check, in param-key order."""

    spec: Spec
    eps: float
    resolution: float  # differences |backprop - numeric| up to this count as agreement
    params: tuple[ParamCheck, ...]

    @property
    def worst(self) -> ParamCheck:
        return max(self.params, key=lambda r: r.max_rel_error)

    def passed(self, tol: float) -> bool:
        return all(r.passed(tol) for r in self.params)

    def failures(self, tol: float, label: str = "backprop") -> list[str]:
        """One line per parameter over ``tol``, naming it, the entry, both values and the error."""
        return [
            f"gradcheck {r.key}{list(r.index)}: {label} {r.analytic:.6e} vs finite difference "
            f"{r.numeric:.6e}, relative error {r.max_rel_error:.2e} > tolerance {tol:.0e}"
            for r in self.params
            if not r.passed(tol)
        ]


def rel_error(a: Array, b: Array) -> Array:
    """Elementwise |a - b| / max(|a| + |b|, tiny): 0 when both are 0, at most 1."""
    denom = np.maximum(np.abs(a) + np.abs(b), np.finfo(np.float64).tiny)
    return np.abs(a - b) / denom


def entry_errors(analytic: Array, numeric: Array, resolution: float) -> Array:
    """``rel_error`` per entry, 0 where the two differ by no more than ``resolution``."""
    errors = rel_error(analytic, numeric)
    errors[np.abs(analytic - numeric) <= resolution] = 0.0
    return errors


def quotient_resolution(loss_value: float, eps: float) -> float:
    """The smallest gradient difference the sixth-order quotient can resolve at this loss.

    Each loss evaluation is off by a few ulps of |L|; the quotient combines 12 of them with
    weights summing to 110/60 and divides by eps, so its rounding error is about
    2 * 8 ulp(|L|) / eps. A backprop entry within that of the quotient agrees as far as finite
    differences can tell: entries of ~1e-8 (a faint pixel's weight in MNIST's W1) would
    otherwise show rounding noise as a relative error of ~1e-6. A real bug moves an entry by
    far more than ~1e-12.
    """
    return 16 * float(np.finfo(np.float64).eps) * max(abs(loss_value), 1.0) / eps


def check_entries(n_entries: int, max_entries: int, rng: np.random.Generator) -> Array:
    """Flat indices to check: all when there are at most ``max_entries``, else a seeded subset."""
    if n_entries <= max_entries:
        return np.arange(n_entries)
    return np.sort(rng.choice(n_entries, size=max_entries, replace=False))


def gradcheck(
    spec: Spec,
    params: Mapping[str, object],
    X: object,
    y: object,
    *,
    eps: float = 3e-3,
    max_entries: int = 200,
    seed: int = 0,
    analytic: Mapping[str, Array] | None = None,
    loss: LossFn | None = None,
) -> GradCheck:
    """Compare backprop with sixth-order central differences, entry by entry.

    By default the reference is checked against its own loss; ``analytic`` (gradients in the
    params' layout) and ``loss`` (``LossFn``) check another implementation against ITS loss
    instead, e.g. one computed from its own forward probabilities.

    numeric = (45 (L(θ+ε) - L(θ-ε)) - 9 (L(θ+2ε) - L(θ-2ε)) + (L(θ+3ε) - L(θ-3ε))) / 60ε.
    Its truncation error is O(ε⁶), so ε = 3e-3 keeps truncation and float64 rounding
    (~1e-16 |L| / ε) both near 1e-14 absolute; the 2-point difference bottoms out near 1e-10,
    too coarse for the ~1e-7 gradients of a 3-hidden-layer sigmoid net. Backprop runs in
    ``spec.dtype``; the differences always run in float64 on the batch-mean loss, from the same
    parameter values. For relu, an entry whose stencil moves any pre-activation across 0 is
    skipped (the loss has a kink there: no difference quotient means anything) and counted in
    ``n_kinks``. A difference within the quotient's rounding resolution
    (``quotient_resolution``, ~1e-12) counts as agreement. Parameters with more than
    ``max_entries`` entries are checked on a subset drawn with ``seed``.
    X (n, n_features), y (n,) integer labels.
    """
    own = as_params(spec, params)
    if analytic is None:  # backprop in the spec's own dtype: what is checked
        analytic = gradients(spec, own, X, y)
    spec64 = spec.replace(dtype="float64")
    p = {key: value.astype(np.float64) for key, value in own.items()}
    X = as_inputs(spec64, X)
    Y = one_hot(as_labels(spec64, y, X.shape[0]), spec.n_classes)
    if loss is None:
        loss = reference_loss(spec64, X, Y)
    resolution = quotient_resolution(loss(p), eps)
    rng = np.random.default_rng(seed)
    results = []
    for key, value in p.items():
        flat = value.reshape(-1)  # a view: nudging it nudges p[key]
        entries = check_entries(flat.size, max_entries, rng)
        numeric = np.full(entries.size, np.nan)
        for j, i in enumerate(entries):
            if spec.activation == "relu" and _straddles_kink(spec64, p, flat, int(i), X, eps):
                continue  # NaN: no difference quotient means anything across a kink
            numeric[j] = _stencil(loss, p, flat, int(i), eps)
        chosen = analytic[key].reshape(-1)[entries].astype(np.float64)
        kinks = np.isnan(numeric)
        errors = np.zeros(entries.size)
        errors[~kinks] = entry_errors(chosen[~kinks], numeric[~kinks], resolution)
        worst = int(np.argmax(errors))
        results.append(
            ParamCheck(
                key=key,
                n_checked=int(entries.size - kinks.sum()),
                n_entries=int(flat.size),
                n_kinks=int(kinks.sum()),
                max_rel_error=float(errors[worst]),
                index=tuple(int(i) for i in np.unravel_index(entries[worst], value.shape)),
                analytic=float(chosen[worst]),
                numeric=float(numeric[worst]),
                entries=entries,
                numerics=numeric,
            )
        )
    return GradCheck(spec=spec, eps=eps, resolution=resolution, params=tuple(results))


def reference_loss(spec: Spec, X: Array, Y: Array) -> LossFn:
    """The reference's batch-mean loss on X (n, n_features), one-hot Y (n, n_classes)."""

    def loss(p: Params) -> float:
        P, cache = forward_unchecked(spec, p, X)
        return loss_value(spec, cache.Z[spec.n_layers], P, Y)

    return loss


def _stencil(loss: LossFn, p: Params, flat: Array, i: int, eps: float) -> float:
    """The seven-point difference of ``loss`` at flat[i] (a view into p)."""
    original = flat[i]
    values = {}
    for step in (-3, -2, -1, 1, 2, 3):
        flat[i] = original + step * eps
        values[step] = loss(p)
    flat[i] = original
    # Differences first: a loss the nudge does not change gives exactly 0, not rounding residue.
    d1, d2, d3 = (values[k] - values[-k] for k in (1, 2, 3))
    return (45 * d1 - 9 * d2 + d3) / (60 * eps)


def _straddles_kink(spec: Spec, p: Params, flat: Array, i: int, X: Array, eps: float) -> bool:
    """Whether the stencil at flat[i] moves any relu pre-activation across 0."""
    original = flat[i]
    signs = []
    for step in (-3, 3):
        flat[i] = original + step * eps
        _, cache = forward_unchecked(spec, p, X)
        signs.append([cache.Z[l] > 0 for l in range(1, spec.n_layers)])
    flat[i] = original
    return any((a != b).any() for a, b in zip(signs[0], signs[1], strict=True))
