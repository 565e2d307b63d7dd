"""The noise floor of the training stages: how far the reference drifts from ITSELF.

Two correct implementations differ by rounding: a few ulp per operation, in different places.
Training carries such differences forward. Usually they stay near rounding (1e-14 after
19,000 full-MNIST steps in float64), but in a chaotic regime (large learning rate, per-sample
steps, tanh or relu) they grow ~10x every few dozen steps until no fixed tolerance can hold.

The reference alone tells which regime a run is in: train it again, ``NUDGES`` times, with
rounding-sized changes made where a second correct implementation rounds differently: every
initial weight moved one ulp up or down (``nudged``), every nonzero training input too (read
at every step: ``nudged_inputs``), and the result of every hidden activation (another math
library's tanh: ``activations_one_ulp_off``), each with its own seeded directions, over the
same batches; and compare each nudged run with the reference exactly as a witness is
compared. A witness's disagreement at a training stage that is within ``MARGIN`` times the
largest of those self-disagreements is what rounding alone does there: INDETERMINATE, not
FAIL. One clearly above it is still a FAIL. The stages before the first update (init, data,
forward, gradients) and the single step are never excused: no rounding has compounded yet.

The floor is measured only when a training stage exceeds its table entry and every earlier
stage passed; its cost is NUDGES extra reference trainings (only of the k steps when only
``steps`` failed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any
from unittest import mock

import numpy as np

from frameworks import REFERENCE as REFERENCE_NAME
from frameworks.contract import Framework, Params
from parity.compare import Comparison
from parity.report.model import Run, StageResult
from parity.stages.setup import Setup
from parity.training import divergence, train_one
from reference.activations import ACTIVATIONS

Array = np.ndarray
# The stages a floor may excuse: every one after more than one update.
EXCUSABLE = ("steps", "train_params", "train_loss", "train_accuracy", "predictions")
# How many nudges, and how far above their largest drift still counts as rounding: chosen from
# measurements (docs/verdicts.md, "The noise floor"): see the values' comments.
NUDGES = 8
MARGIN = 4.0
# Compares one run with the reference the way a witness is compared: (nudged, reference) ->
# that pair's training stages.
TrainingStages = Callable[[Run, Run], list[StageResult]]


def nudged(params: Params, seed: int = 0) -> Params:
    """Every entry moved one ulp (of its own dtype) up or down, the direction drawn with seed."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, value in params.items():
        up = rng.random(value.shape) < 0.5  # (same shape) True: toward +inf
        direction = np.where(up, np.inf, -np.inf).astype(value.dtype)  # same dtype: its ulp
        out[key] = np.nextafter(value, direction)
    return out


def nudged_inputs(X: Array, seed: int = 0, rows: int = 4096) -> Array:
    """A copy of X (n, n_features) with every NONZERO entry moved one ulp up or down (seeded).

    Training reads the inputs at every step, so this perturbs every step by rounding's size,
    as a second implementation's own rounding does; the initial weights' nudge acts once.
    Zeros stay exactly zero (a denormal would be a nonzero pixel to code that skips zeros).
    Done in chunks of rows: no temporary the size of X beside the copy.
    """
    rng = np.random.default_rng([seed, 2])
    out = X.copy()
    for start in range(0, X.shape[0], rows):
        chunk = out[start : start + rows]  # a view: written in place
        up = rng.random(chunk.shape) < 0.5
        direction = np.where(up, np.inf, -np.inf).astype(X.dtype)
        np.copyto(chunk, np.nextafter(chunk, direction), where=chunk != 0)
    return out


@contextmanager
def activations_one_ulp_off(seed: int = 0) -> Iterator[None]:
    """Inside: the reference's hidden activations return results moved one ulp (seeded).

    What another correct math library would return: two tanh implementations may differ by an
    ulp, and near saturation (tanh(z) ~ 1) that ulp is the whole of 1 - A^2, the derivative,
    so no nudge of the inputs reaches it. Exact zeros (a relu's) stay zero.
    """
    rng = np.random.default_rng([seed, 3])

    def one_ulp_off(f: Callable[[Array], Array]) -> Callable[[Array], Array]:
        def moved(Z: Array) -> Array:
            A = f(Z)
            direction = np.where(rng.random(A.shape) < 0.5, np.inf, -np.inf).astype(A.dtype)
            return np.where(A != 0, np.nextafter(A, direction), A)

        return moved

    with mock.patch.dict(ACTIVATIONS, {name: one_ulp_off(f) for name, f in ACTIVATIONS.items()}):
        yield


def amount(c: Comparison) -> float:
    """What a comparison measures for the floor: test predictions that flip (a count), else
    max|diff| (inf when it could not be made: a shape, a crash, a NaN)."""
    if c.problem:
        return float("inf")
    return float(c.mismatched) if c.stage == "predictions" else c.max_abs


@dataclass
class Floor:
    """The reference against itself over ``nudges`` 1-ulp nudges of its initial weights."""

    nudges: int
    margin: float
    seconds: float = 0.0
    values: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # per nudge
    divergence_steps: list[int] = field(default_factory=list)
    divergence: list[list[float]] = field(default_factory=list)  # per nudge, per logged step

    def of(self, stage: str, tensor: str) -> float | None:
        """The floor of one tensor of one stage: the largest drift over the nudges."""
        values = self.values.get((stage, tensor))
        return max(values) if values else None

    def covers(self, c: Comparison) -> bool:
        """Is this disagreement within MARGIN x the floor of its stage and tensor?"""
        floor = self.of(c.stage, c.tensor)
        if floor is None or c.stage not in EXCUSABLE:
            return False
        return amount(c) <= self.margin * floor

    def reached(self) -> tuple[float, int] | None:
        """(largest drift of any nudge, step) at the last logged step."""
        if not self.divergence_steps or not self.divergence:
            return None
        return max(d[-1] for d in self.divergence), self.divergence_steps[-1]

    def to_dict(self, stages: Sequence[StageResult]) -> dict[str, Any]:
        """JSON form: the nudges, the floor of every failing tensor next to what was observed."""
        rows = []
        for result in stages:
            for c in result.comparisons:
                floor = self.of(c.stage, c.tensor)
                if c.passed or floor is None:
                    continue
                rows.append(
                    {
                        "stage": c.stage,
                        "pair": list(c.pair),
                        "tensor": c.tensor,
                        "observed": amount(c),
                        "floor": floor,
                        "values": self.values[(c.stage, c.tensor)],
                        "within": self.covers(c),
                    }
                )
        reached = self.reached()
        return {
            "nudges": self.nudges,
            "margin": self.margin,
            "seconds": self.seconds,
            "reached": None if reached is None else {"value": reached[0], "step": reached[1]},
            "stages": rows,
            "divergence": {"steps": self.divergence_steps, "per_nudge": self.divergence},
        }


def settle(
    stages: list[StageResult],
    setup: Setup,
    subject: Framework,
    reference: Run,
    anchors: dict[int, Params],
    training: TrainingStages,
    steps_stage: Callable[[Framework, Setup], list[StageResult]],
    *,
    nudges: int = NUDGES,
) -> Floor | None:
    """Measure the floor when only excusable stages failed, and mark each failing stage it
    covers as excused. None (nothing measured) when every stage passed or one that is never
    excused failed. ``steps_stage(subject, moved)`` compares the subject's k steps on a
    nudged setup with the reference's, as the judge's steps stage does."""
    failing = [s for s in stages if not s.passed]
    if not failing or any(s.stage not in EXCUSABLE for s in failing):
        return None
    start = time.perf_counter()
    floor = Floor(nudges=nudges, margin=MARGIN)
    at_steps = [s for s in failing if s.stage == "steps"]
    after = [s for s in failing if s.stage != "steps"]
    for seed in range(nudges):
        moved = replace(
            setup, params0=nudged(setup.params0, seed), X_train=nudged_inputs(setup.X_train, seed)
        )
        with activations_one_ulp_off(seed):
            drift = _measured(partial(steps_stage, subject, moved), at_steps) if at_steps else []
            if after and reference.params is not None:
                trained = partial(_trained, moved, subject, reference, anchors, floor, training)
                drift += _measured(trained, after)
            elif after:  # the subject's own training raised: does it under rounding alone?
                drift += _measured(partial(_trains, moved, subject, after), after)
        for result in drift:
            for c in result.comparisons:
                floor.values.setdefault((c.stage, c.tensor), []).append(amount(c))
    for result in failing:
        result.excused = all(floor.covers(c) for c in result.comparisons if not c.passed)
    floor.seconds = time.perf_counter() - start
    return floor


def _measured(
    compute: Callable[[], list[StageResult]], failing: list[StageResult]
) -> list[StageResult]:
    """compute()'s stage results; when it raises (rounding alone blows the subject's training
    up: non-finite weights, an overflow), the failing ones, as infinitely far."""
    try:
        return compute()
    except Exception:
        return [_unbounded(result) for result in failing]


def _trains(moved: Setup, subject: Framework, failing: list[StageResult]) -> list[StageResult]:
    """The failing results as 0 apart when the subject's training on the nudged setup
    completes (rounding alone does not make it raise); raises when it raises."""
    train_one(moved, subject, Run(REFERENCE_NAME, "ok"), None)
    return [
        StageResult(
            r.stage,
            r.pair,
            [replace(c, problem=None, max_abs=0.0, mismatched=0) for c in r.comparisons],
        )
        for r in failing
    ]


def _trained(
    moved: Setup,
    subject: Framework,
    reference: Run,
    anchors: dict[int, Params],
    floor: Floor,
    training: TrainingStages,
) -> list[StageResult]:
    """The subject trained on the nudged setup, compared with the reference's training; its
    divergence from the reference at the logged steps goes into ``floor``."""
    run = Run(reference.name, "ok")
    steps: list[int] = []
    drift: list[float] = []

    def on_step(step: int, snapshot: Callable[[], Params]) -> None:
        anchor = anchors.get(step)
        if anchor is not None:
            steps.append(step)
            drift.append(divergence(snapshot(), anchor, moved.spec.dtype)[0])

    train_one(moved, subject, run, on_step)
    floor.divergence_steps = steps
    floor.divergence.append(drift)
    return training(run, reference)


def _unbounded(result: StageResult) -> StageResult:
    """``result`` as a nudge that raised sees it: every tensor infinitely far."""
    return StageResult(
        result.stage, result.pair, [replace(c, problem="raised") for c in result.comparisons]
    )
