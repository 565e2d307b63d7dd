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
from frameworks.contract import Framework, Params
from parity.report.model import Run
from parity.stages.plan import log_steps, steps_per_epoch
from parity.stages.setup import Setup
from parity.tolerances import tolerance
from parity.workers import ProgressFactory, Result, Task, failure_text, train_many, train_task

__all__ = ["ProgressFactory", "divergence", "failure_text", "train_all", "train_one"]


def train_all(
    setup: Setup,
    adapters: dict[str, Framework],
    runs: dict[str, Run],
    *,
    log_points: int = 100,
    progress: ProgressFactory | None = None,
    jobs: int | None = 1,
) -> dict[int, Params]:
    """Full training for each adapter, at most ``jobs`` at once (None: auto); fills ``runs``.
    Returns the reference's snapshots at the logged steps (the anchors of every divergence
    curve)."""
    spec = setup.spec
    total = spec.epochs * steps_per_epoch(setup.X_train.shape[0], spec.batch_size)
    logged = log_steps(total, log_points)
    tasks = [Task(name, adapter, logged=logged) for name, adapter in adapters.items()]
    results = dict(
        zip(adapters, train_many(tasks, setup, jobs=jobs, progress=progress), strict=True)
    )
    reference = results.get(REFERENCE)
    anchors = {} if reference is None else snapshots(reference)
    for name, result in results.items():
        run = runs[name]
        _fill(run, result)
        if name == REFERENCE:
            continue
        for step, current in snapshots(result).items():
            if step in anchors:
                worst, held = divergence(current, anchors[step], spec.dtype)
                run.divergence_steps.append(step)
                run.divergence.append(worst)
                run.divergence_held.append(held)
    return anchors


def train_one(
    setup: Setup, adapter: Framework, run: Run, logged: list[int] | None = None
) -> Result:
    """One implementation's full training on ``setup`` here, into ``run``; raises what the
    training raised (as RuntimeError with its reason). Returns the result, with the params at
    ``logged`` steps."""
    result = train_task(Task(run.name, adapter, logged=logged or ()), adapter, setup)
    if result.status != "ok":
        raise RuntimeError(result.reason)
    _fill(run, result)
    return result


def snapshots(result: Result) -> dict[int, Params]:
    """The params a result logged, by step."""
    return {step: result.snapshot(i) for i, step in enumerate(result.steps)}


def _fill(run: Run, result: Result) -> None:
    run.seconds = result.seconds
    if result.status == "ok":
        run.test_probs = result.test_probs
        run.params, run.history = result.params, result.history
    else:
        run.status, run.reason, run.trace = result.status, result.reason, result.trace


def divergence(current: Params, anchor: Params, dtype: str) -> tuple[float, bool]:
    """max over keys of max|current - anchor|, and whether every key is within the table's
    train_params bound at the anchor's own magnitude."""
    tol = tolerance("train_params", dtype)
    worst, held = 0.0, True
    for key, expected in anchor.items():
        diff = float(np.abs(np.asarray(current[key], dtype=np.float64) - expected).max(initial=0))
        worst = max(worst, diff)
        held &= diff <= tol.bound(float(np.abs(expected).max(initial=0)))
    return worst, held
