"""The full trainings: every implementation from the one init over the one plan.

Each run logs its weights at the plan's logged steps (denser early); for the witnesses, max
|W - W_reference| at those steps is the divergence curve of the report, computed here from
the snapshots once every training is done. With ``jobs`` > 1 the trainings run side by side
in worker processes (parity/workers.py); with 1, one after the other in this process, the
reference first.
"""

from __future__ import annotations

import numpy as np

from frameworks import REFERENCE
from frameworks.contract import Framework
from parity.report.model import Run
from parity.stages.plan import log_steps, steps_per_epoch
from parity.stages.setup import Setup
from parity.workers import ProgressFactory, Result, Task, failure_text, train_many

__all__ = ["ProgressFactory", "divergence", "failure_text", "train_all"]


def train_all(
    setup: Setup,
    adapters: dict[str, Framework],
    runs: dict[str, Run],
    *,
    log_points: int = 100,
    progress: ProgressFactory | None = None,
    jobs: int | None = 1,
) -> None:
    """Full training for each adapter, at most ``jobs`` at once (None: auto); fills ``runs``."""
    spec = setup.spec
    total = spec.epochs * steps_per_epoch(setup.X_train.shape[0], spec.batch_size)
    logged = log_steps(total, log_points)
    tasks = [Task(name, adapter, logged=logged) for name, adapter in adapters.items()]
    trained = train_many(tasks, setup, jobs=jobs, progress=progress)
    results = dict(zip(adapters, trained, strict=True))
    anchor = results.get(REFERENCE)
    for name, result in results.items():
        run = runs[name]
        run.seconds = result.seconds
        if result.status == "ok":
            run.test_probs = result.test_probs
            run.params, run.history = result.params, result.history
        else:
            run.status, run.reason, run.trace = result.status, result.reason, result.trace
        if name != REFERENCE and anchor is not None:
            run.divergence_steps, run.divergence = divergence(result, anchor)


def divergence(result: Result, anchor: Result) -> tuple[list[int], list[float]]:
    """(steps, max |W - W_anchor| over all params) at the logged steps both runs reached."""
    where = {step: i for i, step in enumerate(anchor.steps)}
    steps, values = [], []
    for i, step in enumerate(result.steps):
        if step in where:
            current, reference = result.snapshot(i), anchor.snapshot(where[step])
            steps.append(step)
            values.append(max(float(np.abs(current[k] - reference[k]).max()) for k in reference))
    return steps, values
