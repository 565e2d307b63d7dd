"""Stage "init": are the initial params drawn from the distribution the spec states?

Every implementation starts from the same ``init_params`` output, so no witness can notice a
wrong init; only the spec can. Each tensor's sample mean and standard deviation are compared
with 0 and the scheme's sigma, within ``INIT_Z`` standard errors of estimates from N draws;
uniform schemes are also checked against their bound, and zero biases against zero.
"""

from __future__ import annotations

import math

import numpy as np

from frameworks.contract import Params
from parity.compare import Comparison, compare
from parity.tolerances import INIT_Z, Tolerance
from reference.spec import Spec

Array = np.ndarray


def expected_sigma(spec: Spec, key: str) -> tuple[float, str]:
    """(sigma, family) that ``spec.init`` states for param ``key``: family normal|uniform|zero."""
    layer = int(key[1:])
    fan_in, fan_out = spec.sizes[layer - 1], spec.sizes[layer]
    if spec.init == "lecture":
        if key[0] == "b":
            return 0.0, "zero"
        return math.sqrt(1.0 / fan_out), "normal"
    if spec.init == "glorot":
        factor = 2.0 if spec.activation == "sigmoid" else 6.0
        bound = math.sqrt(factor / (fan_in + fan_out))
    else:
        bound = 1.0 / math.sqrt(fan_in)
    return bound / math.sqrt(3.0), "uniform"  # U(-r, r) has std r / sqrt(3)


def std_error(sigma: float, n: int, family: str) -> float:
    """Standard error of a sample std of n draws: sigma/sqrt(2n) normal, sigma/sqrt(5n) uniform."""
    # Var(s) ~ sigma^2 (kurtosis - 1) / (4n): kurtosis 3 (normal) -> sigma^2/(2n);
    # 9/5 (uniform) -> sigma^2/(5n).
    kurtosis = 3.0 if family == "normal" else 1.8
    return sigma * math.sqrt((kurtosis - 1.0) / (4.0 * max(n, 1)))


def check_init(spec: Spec, params: Params) -> list[Comparison]:
    """One comparison per parameter: its sample std (or max |b| for zero biases) vs the spec."""
    results = []
    pair = ("numpy", "spec")
    for key in spec.param_keys():
        values = np.asarray(params[key], dtype=np.float64)
        sigma, family = expected_sigma(spec, key)
        if family == "zero":
            tol = Tolerance(0.0, 0.0, f"{spec.init} init: biases start at exactly 0")
            results.append(
                compare(
                    np.abs(values).max(keepdims=True),
                    [0.0],
                    stage="init",
                    tensor=f"max|{key}|",
                    dtype=spec.dtype,
                    pair=pair,
                    tol=tol,
                )
            )
            continue
        n = values.size
        se = std_error(sigma, n, family)
        tol = Tolerance(
            INIT_Z * se,
            0.0,
            f"{spec.init} init: sample std of {n} {family} draws within {INIT_Z:g} standard "
            f"errors ({se:.1e}) of sigma {sigma:.4g}",
        )
        results.append(
            compare(
                [values.std()],
                [sigma],
                stage="init",
                tensor=f"std({key})",
                dtype=spec.dtype,
                pair=pair,
                tol=tol,
            )
        )
        se_mean = sigma / math.sqrt(n)
        tol = Tolerance(
            INIT_Z * se_mean,
            0.0,
            f"{spec.init} init: mean of {n} draws within {INIT_Z:g} standard errors of 0",
        )
        results.append(
            compare(
                [values.mean()],
                [0.0],
                stage="init",
                tensor=f"mean({key})",
                dtype=spec.dtype,
                pair=pair,
                tol=tol,
            )
        )
        if family == "uniform":
            bound = sigma * math.sqrt(3.0)
            over = max(float(np.abs(values).max()) - bound, 0.0)
            rounding = bound * float(np.finfo(spec.dtype).eps)  # r itself rounded to the dtype
            tol = Tolerance(
                rounding, 0.0, f"{spec.init} init: U(-r, r) never exceeds r = {bound:.4g}"
            )
            results.append(
                compare(
                    [over],
                    [0.0],
                    stage="init",
                    tensor=f"max|{key}| - r",
                    dtype=spec.dtype,
                    pair=pair,
                    tol=tol,
                )
            )
    return results
