"""What every stage reads: the checked data, the one init, the batch plan and its first steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from frameworks.contract import Params, as_inputs, as_labels, as_params
from parity.stages.plan import batch_plan, steps_head
from reference.model import init_params
from reference.spec import Spec

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class Setup:
    """One judged run's inputs, shared by every implementation and every stage.

    X_* (n, n_features) in the spec's dtype, y_* (n,) int64; ``plan`` (epochs, n_train), one
    permutation per epoch; ``params0`` the one starting point.
    """

    spec: Spec
    X_train: Array
    y_train: Array
    X_test: Array
    y_test: Array
    plan: Array
    params0: Params
    k_steps: int
    probe_size: int

    @classmethod
    def make(
        cls,
        spec: Spec,
        X_train: object,
        y_train: object,
        X_test: object,
        y_test: object,
        *,
        plan: Array | None = None,
        params0: Params | None = None,
        k_steps: int = 50,
        probe_size: int = 256,
    ) -> Setup:
        """Check and convert once, in the spec's dtype (no adapter copies the data again)."""
        X_train = as_inputs(spec, X_train)
        X_test = as_inputs(spec, X_test)
        n_train = X_train.shape[0]
        return cls(
            spec=spec,
            X_train=X_train,
            y_train=as_labels(spec, y_train, n_train),
            X_test=X_test,
            y_test=as_labels(spec, y_test, X_test.shape[0]),
            plan=batch_plan(n_train, spec.epochs, spec.seed) if plan is None else plan,
            params0=init_params(spec) if params0 is None else as_params(spec, params0),
            k_steps=k_steps,
            probe_size=probe_size,
        )

    @property
    def batch(self) -> Array:
        """The plan's first batch (the gradients stage), (batch_size,) indices."""
        return self.plan[0][: self.spec.batch_size]

    @property
    def probe(self) -> Array:
        """The forward stage's rows: the first ``probe_size`` of the plan, (m,) indices."""
        return self.plan[0][: self.probe_size]

    @property
    def head(self) -> Array:
        """The samples of the first k steps (the steps stage), (m,) indices."""
        return steps_head(self.plan[0], self.spec.batch_size, self.k_steps)
