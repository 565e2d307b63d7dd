"""Wrong ports: the mistakes of someone moving the reference into PyTorch or scikit-learn.

Each function replaces one function of a witness adapter (frameworks/torch_mlp.py,
frameworks/sklearn_mlp.py) during the mutant's calls; the catalogue says which. These modules
import torch and scikit-learn, so they are only imported when a witness mutant is built.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from frameworks import sklearn_mlp, torch_mlp
from frameworks.contract import Params
from reference.spec import Spec

Array = np.ndarray
_true_tensor = torch_mlp._tensor
_true_settings = sklearn_mlp.settings


# --------------------------------------------------------------------------- torch


def cross_entropy_on_probabilities(spec: Spec) -> Any:
    """CrossEntropyLoss fed softmax(logits): it applies log-softmax itself, so softmax twice."""
    ce = nn.CrossEntropyLoss(reduction="mean")

    def loss(Z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ce(torch.softmax(Z, dim=1), y)  # BUG: ce(Z, y)

    return loss


def tensor_in_default_float32(array: Array, device: torch.device | None = None) -> torch.Tensor:
    """``torch.from_numpy(X).float()``: floats in torch's default float32, whatever the spec."""
    tensor = _true_tensor(array, device)
    return tensor.float() if tensor.is_floating_point() else tensor  # BUG: .float()


FLOAT32_MODULE = {"float64": torch.float32}  # BUG: nn.Linear left in torch's default dtype


# --------------------------------------------------------------------------- scikit-learn


def settings_default_momentum(spec: Spec) -> dict[str, Any]:
    """MLPClassifier's settings without momentum=0, nesterovs_momentum=False (0.9, True)."""
    out = _true_settings(spec)
    del out["momentum"], out["nesterovs_momentum"]  # BUG: the defaults stay
    return out


def settings_default_alpha(spec: Spec) -> dict[str, Any]:
    """MLPClassifier's settings without alpha=0 (1e-4: an L2 penalty added to dW)."""
    out = _true_settings(spec)
    del out["alpha"]  # BUG: the default stays
    return out


def sklearn_layout_reshaped(spec: Spec, params: Params) -> tuple[list[Array], list[Array]]:
    """coefs_[i] as W.reshape(fan_in, fan_out): the right shape, the wrong entries."""
    coefs, intercepts = [], []
    for l in range(1, spec.n_layers + 1):
        fan_in, fan_out = spec.sizes[l - 1], spec.sizes[l]
        coefs.append(params[f"W{l}"].reshape(fan_in, fan_out))  # BUG: reshape is not .T
        intercepts.append(params[f"b{l}"])
    return coefs, intercepts
