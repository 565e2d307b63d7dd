"""The full trainings: every implementation from the one init over the one plan.

Each run logs its weights at the plan's logged steps (denser early) and, for the witnesses,
max |W - W_reference| there: the divergence curve of the report. The reference trains first,
so its snapshots are the anchors the others are measured against.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from frameworks import REFERENCE
from frameworks.contract import Framework, Params, as_history
from parity.report.model import Run
from parity.stages.plan import log_steps, steps_per_epoch
from parity.stages.setup import Setup
from parity.tolerances import tolerance

# progress(description, total_steps) -> a context manager yielding something with update(n)
ProgressFactory = Callable[[str, int], AbstractContextManager[Any]]


def failure_text(error: BaseException) -> str:
    """One line for a stage or run that raised: the exception's type and message."""
    return f"raised {type(error).__name__}: {error}"


def train_all(
    setup: Setup,
    adapters: dict[str, Framework],
    runs: dict[str, Run],
    *,
    log_points: int = 100,
    progress: ProgressFactory | None = None,
) -> dict[int, Params]:
    """Full training for each adapter, the reference first; fills ``runs``. Returns the
    reference's snapshots at the logged steps (the anchors of every divergence curve)."""
    spec = setup.spec
    total = spec.epochs * steps_per_epoch(setup.X_train.shape[0], spec.batch_size)
    logged = set(log_steps(total, log_points))
    anchors: dict[int, Params] = {}
    for name, adapter in adapters.items():
        run = runs[name]
        bar_context = progress(f"train {name}", total) if progress else nullcontext(None)
        with bar_context as bar:
            on_step = _step_hook(name, run, logged, anchors, bar, spec.dtype)
            try:
                train_one(setup, adapter, run, on_step)
            except Exception as error:  # the subject's too: reported, never raised
                run.status, run.reason = "error", failure_text(error)
                run.trace = traceback.format_exc()
    return anchors


def train_one(
    setup: Setup,
    adapter: Framework,
    run: Run,
    on_step: Callable[..., None] | None,
    params0: Params | None = None,
) -> None:
    """One implementation's full training (from ``params0``, else the setup's) and its test
    probabilities, into ``run``."""
    t0 = time.perf_counter()
    params, history = adapter.train(
        setup.spec,
        setup.params0 if params0 is None else params0,
        setup.X_train,
        setup.y_train,
        setup.plan,
        eval_data=(setup.X_test, setup.y_test),
        on_step=on_step,
    )
    run.seconds = time.perf_counter() - t0
    run.test_probs = adapter.forward(setup.spec, params, setup.X_test)
    run.params, run.history = params, as_history(history)


def _step_hook(
    name: str,
    run: Run,
    logged: set[int],
    anchors: dict[int, Params],
    bar: Any,
    dtype: str,
) -> Callable[[int, Callable[[], Params]], None]:
    def on_step(step: int, snapshot: Callable[[], Params]) -> None:
        if bar is not None:
            bar.update(1)
        if step not in logged:
            return
        current = snapshot()
        if name == REFERENCE:
            anchors[step] = current
            return
        anchor = anchors.get(step)
        if anchor is not None:
            worst, held = divergence(current, anchor, dtype)
            run.divergence_steps.append(step)
            run.divergence.append(worst)
            run.divergence_held.append(held)

    return on_step


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
