"""``mlp-parity gradcheck``: finite differences vs the reference's backprop vs torch autograd.

Three estimates of the same gradient per parameter: central finite differences of the loss
(float64, framework-free), the reference's hand-written backprop, and torch autograd of the
TRUE loss (the spec with the exact softmax Jacobian, whatever the reference uses). With the
lecture preset's diagonal softmax derivative, the finite differences and torch agree with each
other and not with the reference: the material's formula is not the gradient of its loss.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

import frameworks
from frameworks.contract import Params
from parity.compare import compare
from parity.report.text import describe_spec, table
from parity.tolerances import tolerance
from reference.gradcheck import GradCheck, entry_errors, gradcheck
from reference.model import init_params
from reference.spec import Spec

Array = np.ndarray
HEADER = ("param", "checked", "max|bp - FD|", "bp vs FD", "torch vs FD", "bp vs torch", "result")


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


def run_gradcheck(
    spec: Spec, X: Array, y: Array, *, max_entries: int = 100, out: Any = None
) -> int:
    """Print the table and verdict for ``spec`` on the batch X (n, n_features), y (n,)."""
    out = out or sys.stdout
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
