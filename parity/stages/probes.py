"""Stress inputs for the forward stage: the same probe with logits large enough to overflow exp.

A softmax without the max shift, exp(Z) / sum(exp(Z)), is exact on the small logits of a
fresh network and returns inf/inf = NaN once a logit passes log(max float) (709.8 in float64,
88.7 in float32), as it can late in training. Scaling the output layer (W_L, b_L) by s scales
the logits by exactly s (the layer is linear), so the probe's largest logit can be set to
1.5 x that threshold without touching the hidden layers. Every correct softmax stays finite
there and the implementations still agree (``tolerances`` "forward_large_logits").
"""

from __future__ import annotations

import numpy as np

from frameworks.contract import Params
from reference.model import forward
from reference.spec import Spec

Array = np.ndarray
OVERFLOW_MARGIN = 1.5  # the largest logit, as a multiple of log(max float) of the dtype


def target_logit(dtype: str) -> float:
    """The probe's largest |logit|: 1.5 x log(max float), ~1065 in float64, ~133 in float32."""
    return OVERFLOW_MARGIN * float(np.log(np.finfo(dtype).max))


def large_logit_params(spec: Spec, params: Params, X: Array) -> Params | None:
    """``params`` with W_L and b_L scaled so that the largest logit on X (n, n_features) is
    +``target_logit(spec.dtype)``; None when every logit is 0 (no scale makes them large)."""
    _, cache = forward(spec, params, X)  # the judge's own use of the reference: just the logits
    Z = cache.Z[spec.n_layers].reshape(-1)  # (n * n_classes,)
    if Z.size == 0 or not Z.any():
        return None
    # Overflow needs a large POSITIVE logit (exp(-1000) is a harmless 0): the logit of largest
    # magnitude goes to +target, through a negative scale if it is negative.
    top = float(Z[np.argmax(np.abs(Z))])
    scale = target_logit(spec.dtype) / top
    out = dict(params)
    last = spec.n_layers
    for key in (f"W{last}", f"b{last}"):
        if key in out:
            out[key] = (out[key] * scale).astype(spec.dtype)
    return out
