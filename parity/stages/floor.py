"""Is a run chaotic? The reference's own sensitivity to a 1-ulp change of its initial weights.

Two correct implementations differ by rounding: a few ulp per operation, in different places.
Training carries such differences forward. Usually they stay near rounding (1e-14 after
19,000 full-MNIST steps in float64), but in a chaotic regime (large learning rate, per-sample
steps, tanh or relu) they grow ~10x every few dozen steps until no tolerance can hold.

The reference alone tells which regime a run is in: train it twice, from params0 and from
params0 with every entry moved one ulp up or down (seeded), over the same batches. When the
two end further apart than a stage's tolerance, rounding alone exceeds that tolerance there,
and a witness that disagrees at that stage says nothing about either implementation. The
stages before any training (init, data, forward, gradients) and the single step are never
chaotic: a disagreement there is always a finding.
"""

from __future__ import annotations

import numpy as np

from frameworks.contract import Params, as_inputs, as_labels
from parity.stages.plan import batch_plan, steps_head
from reference.model import init_params
from reference.spec import Spec
from reference.train import train

Array = np.ndarray
# The judge's multi-step stages and which training run each one looks at.
RUNS = {"steps": "steps", "train_params": "train"}


def nudged(params: Params, seed: int = 0) -> Params:
    """Every entry moved one ulp (of its own dtype) up or down, the direction drawn with seed."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, value in params.items():
        up = rng.random(value.shape) < 0.5  # (same shape) True: toward +inf
        direction = np.where(up, np.inf, -np.inf).astype(value.dtype)  # same dtype: its ulp
        out[key] = np.nextafter(value, direction)
    return out


def max_abs_diff(a: Params, b: Params) -> float:
    """max over keys of max|a - b|, in float64."""
    return max(float(np.abs(a[k].astype(np.float64) - b[k]).max(initial=0.0)) for k in a)


def sensitivity(
    spec: Spec,
    X_train: object,
    y_train: object,
    run: str,
    *,
    plan: Array | None = None,
    k_steps: int = 50,
    params0: Params | None = None,
    seed: int = 0,
) -> float:
    """max|dW| between the reference trained from params0 and from ``nudged(params0)``.

    ``run`` is "steps" (the judge's first k steps: one epoch over the plan's head) or "train"
    (the full training over the plan). Arguments as ``judge``'s. X_train (n, n_features).
    """
    X = as_inputs(spec, X_train)
    y = as_labels(spec, y_train, X.shape[0])
    plan = batch_plan(X.shape[0], spec.epochs, spec.seed) if plan is None else plan
    params0 = init_params(spec) if params0 is None else params0
    if run == "steps":
        head = steps_head(plan[0], spec.batch_size, k_steps)
        spec, X, y, orders = spec.replace(epochs=1), X[head], y[head], [np.arange(head.size)]
    elif run == "train":
        orders = list(plan)
    else:
        raise ValueError(f"run={run!r}: 'steps' or 'train'")
    a, _ = train(spec, params0, X, y, orders)
    b, _ = train(spec, nudged(params0, seed), X, y, orders)
    return max_abs_diff(a, b)
