"""``mlp-parity gradcheck``: finite differences vs the reference's backprop vs torch autograd.

Three estimates of the same gradient per parameter: central finite differences of the loss
(float64, framework-free), the reference's hand-written backprop, and torch autograd of the
TRUE loss (the spec with the exact softmax Jacobian, whatever the reference uses). With the
lecture preset's diagonal softmax derivative, the finite differences and torch agree with each
other and not with the reference: the material's formula is not the gradient of its loss.

``--framework NAME`` checks another implementation instead (a user's ``file.py:Class``, too):
ITS gradients against central differences of the loss computed from ITS OWN forward
probabilities (cross-entropy -mean log p_y; squared error the mean over batch and outputs of
(p - y)^2), independent of the reference.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

import frameworks
from frameworks.contract import Framework, Params
from parity.compare import compare
from parity.report.text import describe_spec, table
from parity.tolerances import tolerance
from reference.gradcheck import GradCheck, LossFn, entry_errors, gradcheck
from reference.model import init_params, one_hot
from reference.spec import Spec

Array = np.ndarray
HEADER = ("param", "checked", "max|bp - FD|", "bp vs FD", "torch vs FD", "bp vs torch", "result")
FRAMEWORK_HEADER = ("param", "checked", "max|grad - FD|", "grad vs FD", "result")


def torch_true_gradients(
    spec: Spec, params: Params, X: Array, y: Array
) -> tuple[Params | None, str]:
    """Torch autograd of the true loss (softmax_grad='jacobian'), or None and the reason."""
    try:
        torch = frameworks.load("torch")
    except frameworks.FrameworkUnavailable as error:
        return None, str(error)
    true_spec = spec.replace(softmax_grad="jacobian")
    return torch.gradients(true_spec, params, X, y), "torch autograd of the true loss"


def rows(
    check: GradCheck, torch_grads: Params | None, backprop: Params, tol: float
) -> list[list[str]]:
    """One row per parameter: the three pairwise errors and whether backprop passes."""
    out = []
    for p in check.params:
        if torch_grads is not None:
            numeric = p.numerics
            ok = ~np.isnan(numeric)
            theirs = torch_grads[p.key].reshape(-1)[p.entries].astype(np.float64)
            errors = entry_errors(theirs[ok], numeric[ok], check.resolution)
            torch_fd = f"{errors.max(initial=0.0):.1e}"
            c = compare(
                backprop[p.key],
                torch_grads[p.key],
                stage="gradients",
                tensor=p.key,
                dtype=check.spec.dtype,
            )
            bp_torch = f"{c.max_rel:.1e}"
        else:
            torch_fd = bp_torch = "-"
        kinks = f" ({p.n_kinks} kinks skipped)" if p.n_kinks else ""
        ok = ~np.isnan(p.numerics)
        ours = backprop[p.key].reshape(-1)[p.entries].astype(np.float64)
        diff = float(np.abs(ours[ok] - p.numerics[ok]).max(initial=0.0))
        verdict = "pass" if p.passed(tol) else "FAIL"
        out.append(
            [
                p.key,
                f"{p.n_checked}/{p.n_entries}{kinks}",
                f"{diff:.1e}",
                f"{p.max_rel_error:.1e}",
                torch_fd,
                bp_torch,
                verdict,
            ]
        )
    return out


def probs_loss(framework: Framework, spec: Spec, X: Array, y: Array) -> LossFn:
    """The batch-mean loss from ``framework``'s own probabilities, float64: cross-entropy
    -mean log p_y, or squared error's mean over batch and outputs of (p - y)^2."""
    spec64 = spec.replace(dtype="float64")
    X64 = X.astype(np.float64)
    rows = np.arange(X.shape[0])

    def loss(p: Params) -> float:
        P = framework.forward(spec64, p, X64)  # (n, n_classes)
        if spec.loss == "cross_entropy":
            return float(-np.mean(np.log(P[rows, y])))
        return float(np.mean((P - one_hot(y, spec.n_classes)) ** 2))

    return loss


def run_gradcheck(
    spec: Spec,
    X: Array,
    y: Array,
    *,
    max_entries: int = 100,
    out: Any = None,
    framework: Framework | None = None,
) -> int:
    """Print the table and verdict for ``spec`` on the batch X (n, n_features), y (n,): the
    reference's backprop, or ``framework``'s gradients against its own loss."""
    out = out or sys.stdout
    if framework is not None:
        return _check_framework(spec, framework, X, y, max_entries=max_entries, out=out)
    from reference.model import gradients

    params = init_params(spec)
    check = gradcheck(spec, params, X, y, max_entries=max_entries, seed=spec.seed)
    tol = tolerance("gradcheck", spec.dtype).rtol
    backprop = gradients(spec, params, X, y)
    torch_grads, torch_note = torch_true_gradients(spec, params, X, y)
    print(f"model: {describe_spec(spec)}", file=out)
    print(
        f"batch: {X.shape[0]} digits; finite differences: sixth-order central, eps "
        f"{check.eps:g}, float64, resolution {check.resolution:.1e} (smaller differences "
        "agree); relative error |a-b|/(|a|+|b|) per entry, max shown",
        file=out,
    )
    print(f"torch: {torch_note}", file=out)
    print("", file=out)
    print(table(rows(check, torch_grads, backprop, tol), HEADER), file=out)
    print("", file=out)
    failures = check.failures(tol)
    if failures:
        for line in failures:
            print(line, file=out)
        if spec.softmax_grad == "diagonal":
            print(
                "the reference uses the material's softmax derivative a*(1-a), the Jacobian's "
                "diagonal only: it drops the cross terms -a_i*a_j, so backprop is not the "
                "gradient of the squared-error loss (finite differences and torch agree on the "
                "true one). Use --softmax-grad jacobian for the exact derivative.",
                file=out,
            )
        print(
            f"VERDICT: FAIL: backprop disagrees with finite differences beyond {tol:.0e}", file=out
        )
        return 1
    print(
        f"VERDICT: PASS: backprop matches finite differences within {tol:.0e} for every parameter",
        file=out,
    )
    return 0


def _check_framework(
    spec: Spec, framework: Framework, X: Array, y: Array, *, max_entries: int, out: Any
) -> int:
    """``framework``'s gradients against finite differences of its own probabilities' loss."""
    name = framework.name
    reason = framework.supports(spec)
    if reason is not None:
        raise frameworks.Unsupported(f"{name} cannot express this spec: {reason}")
    params = init_params(spec)
    X = X.astype(spec.dtype)
    grads = framework.gradients(spec, params, X, y)
    loss = probs_loss(framework, spec, X, y)
    check = gradcheck(
        spec, params, X, y, max_entries=max_entries, seed=spec.seed, analytic=grads, loss=loss
    )
    tol = tolerance("gradcheck", spec.dtype).rtol
    print(f"model: {describe_spec(spec)}", file=out)
    print(
        f"batch: {X.shape[0]} digits; {name}'s gradients against sixth-order central "
        f"differences (eps {check.eps:g}, float64, resolution {check.resolution:.1e}) of the "
        f"loss computed from {name}'s own forward probabilities; relative error "
        "|a-b|/(|a|+|b|) per entry, max shown",
        file=out,
    )
    print("", file=out)
    rows = []
    for p in check.params:
        ok = ~np.isnan(p.numerics)
        ours = grads[p.key].reshape(-1)[p.entries].astype(np.float64)
        diff = float(np.abs(ours[ok] - p.numerics[ok]).max(initial=0.0))
        kinks = f" ({p.n_kinks} kinks skipped)" if p.n_kinks else ""
        verdict = "pass" if p.passed(tol) else "FAIL"
        checked = f"{p.n_checked}/{p.n_entries}{kinks}"
        rows.append([p.key, checked, f"{diff:.1e}", f"{p.max_rel_error:.1e}", verdict])
    print(table(rows, FRAMEWORK_HEADER), file=out)
    print("", file=out)
    failures = check.failures(tol, label=name)
    if failures:
        for line in failures:
            print(line, file=out)
        if spec.softmax_grad == "diagonal":
            print(
                "the spec asks for the material's softmax derivative a*(1-a), the Jacobian's "
                "diagonal only: it is not the gradient of the squared-error loss, so an "
                "implementation that follows the spec fails here. Use --softmax-grad jacobian "
                "for the exact derivative.",
                file=out,
            )
        print(
            f"VERDICT: FAIL: {name}'s gradients are not the gradient of its own loss beyond "
            f"{tol:.0e}",
            file=out,
        )
        return 1
    print(
        f"VERDICT: PASS: {name}'s gradients match finite differences of its own loss within "
        f"{tol:.0e} for every parameter",
        file=out,
    )
    return 0
