"""The reference NumPy MLP behind the common interface (it is the subject, so no conversions)."""

from __future__ import annotations

import numpy as np

from frameworks.contract import EvalData, History, Orders, Params, StepCallback
from reference import model
from reference.spec import Spec
from reference.train import train as sgd_train

Array = np.ndarray


class NumpyMLP:
    """The hand-written reference: every spec is expressible."""

    name = "numpy"

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    def supports(self, spec: Spec) -> str | None:
        return None

    def forward(self, spec: Spec, params: Params, X: Array) -> Array:
        return model.forward(spec, params, X)[0]

    def gradients(self, spec: Spec, params: Params, X: Array, y: Array) -> Params:
        return model.gradients(spec, params, X, y)

    def train(
        self,
        spec: Spec,
        params: Params,
        X: Array,
        y: Array,
        orders: Orders,
        *,
        eval_data: EvalData | None = None,
        on_step: StepCallback | None = None,
    ) -> tuple[Params, History]:
        return sgd_train(spec, params, X, y, orders, eval_data=eval_data, on_step=on_step)
