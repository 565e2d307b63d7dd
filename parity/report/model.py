"""The report model: what the judge found, and its stable JSON form (report.json)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from frameworks import REFERENCE
from frameworks.contract import History, Params
from parity.compare import Comparison
from parity.stages.plan import steps_per_epoch
from parity.tolerances import STAGES
from reference.spec import Spec

if TYPE_CHECKING:  # the floor module builds on this one
    from parity.stages.floor import Floor

# What each of the noise floor's runs moves (parity/stages/floor.py), as the reports say it.
NUDGED = "one-ulp nudges of its initial weights, training inputs and activations"

Array = np.ndarray
SCHEMA = "mlp-parity/report/2"


@dataclass
class Run:
    """One implementation's part: whether it ran, and what its full training gave."""

    name: str
    status: str  # ok | unavailable | unsupported | error
    reason: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    history: History | None = None
    seconds: float = 0.0  # wall time of the full training, as the judge saw it
    params: Params | None = None  # after the full training
    test_probs: Array | None = None  # (n_test, n_classes) after the full training
    divergence_steps: list[int] = field(default_factory=list)
    divergence: list[float] = field(default_factory=list)  # max|dW| vs the reference per step
    divergence_held: list[bool] = field(default_factory=list)  # within train_params' bound
    trace: str | None = field(default=None, repr=False)  # the traceback of an "error" run
    skipped: dict[str, str] = field(default_factory=dict)  # stage -> why it took no part

    @property
    def test_accuracy(self) -> float | None:
        return self.history.accuracy[-1] if self.history and self.history.accuracy else None

    @property
    def final_loss(self) -> float | None:
        return self.history.loss[-1] if self.history and self.history.loss else None

    def to_dict(self) -> dict[str, Any]:
        h = self.history
        return {
            "status": self.status,
            "reason": self.reason,
            "versions": self.versions,
            "seconds": self.seconds,
            "seconds_per_epoch": list(h.seconds) if h else [],
            "loss": list(h.loss) if h else [],
            "accuracy": list(h.accuracy) if h else [],
            "steps": h.steps if h else 0,
            "final_loss": self.final_loss,
            "test_accuracy": self.test_accuracy,
            "skipped": dict(self.skipped),
        }


@dataclass
class StageResult:
    """All comparisons of one stage between one pair (actual, expected).

    ``excused``: it failed its table entry, but within the measured noise floor (the
    reference's own drift under 1-ulp nudges; parity/stages/floor.py).
    """

    stage: str
    pair: tuple[str, str]
    comparisons: list[Comparison]
    excused: bool = False

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.comparisons)

    @property
    def outcome(self) -> str:
        """pass | indeterminate (beyond the table, within the floor) | fail."""
        if self.passed:
            return "pass"
        return "indeterminate" if self.excused else "fail"

    @property
    def worst(self) -> Comparison | None:
        """The first failing comparison, else the one closest to its bound."""
        failing = [c for c in self.comparisons if not c.passed]
        if failing:
            return failing[0]
        return max(self.comparisons, key=_closeness, default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "pair": list(self.pair),
            "passed": self.passed,
            "outcome": self.outcome,
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


def _closeness(c: Comparison) -> float:
    if c.bound > 0:
        return c.max_abs / c.bound
    return 0.0 if c.max_abs == 0 else float("inf")


STATUSES = {"PASS": 0, "FAIL": 1, "NO VERDICT": 2, "INDETERMINATE": 3}  # -> exit status


@dataclass
class Report:
    """Everything the judge found; ``to_dict`` is the stable JSON form (report.json)."""

    spec: Spec
    data: dict[str, Any]
    runs: dict[str, Run]
    stages: list[StageResult]
    k_steps: int
    probe_size: int
    seconds_total: float = 0.0
    floor: Floor | None = None  # measured only when a training stage exceeded its entry

    def _first(self, outcome: str) -> StageResult | None:
        for stage in STAGES:
            for result in self.stages:
                if result.stage == stage and result.outcome == outcome:
                    return result
        return None

    @property
    def first_failure(self) -> StageResult | None:
        """The first stage (in STAGES order) that disagrees beyond its tolerance and floor."""
        return self._first("fail")

    @property
    def first_excused(self) -> StageResult | None:
        """The first stage beyond its table entry but within the noise floor."""
        return self._first("indeterminate")

    @property
    def compared(self) -> list[str]:
        """The witnesses that took part (those whose training raised too: that is a finding)."""
        return [n for n, r in self.runs.items() if n != REFERENCE and r.status in ("ok", "error")]

    @property
    def status(self) -> str:
        """PASS, FAIL, INDETERMINATE or NO VERDICT (nothing could be compared)."""
        if self.first_failure is not None:
            return "FAIL"
        if not self.compared:
            return "NO VERDICT"
        return "INDETERMINATE" if self.first_excused is not None else "PASS"

    @property
    def exit_status(self) -> int:
        return STATUSES[self.status]

    @property
    def passed(self) -> bool:
        return self.status == "PASS"

    @property
    def seconds_training(self) -> float:
        return sum(r.seconds for r in self.runs.values())

    def held_through(self) -> int | None:
        """The last logged step up to which every witness stayed within the train_params
        entry of the reference (None when nothing was logged)."""
        held: int | None = None
        for run in self.runs.values():
            if not run.divergence_steps:
                continue
            last = 0
            for step, ok in zip(run.divergence_steps, run.divergence_held, strict=True):
                if not ok:
                    break
                last = step
            held = last if held is None else min(held, last)
        return held

    def verdict(self) -> str:
        """One line: PASS naming who agreed, FAIL naming the first stage that disagreed,
        INDETERMINATE saying how far rounding alone goes."""
        left_out = [
            f"{n} ({r.status})" for n, r in self.runs.items() if r.status not in ("ok", "error")
        ]
        tail = f"; not compared: {', '.join(left_out)}" if left_out else ""
        status = self.status
        if status == "FAIL":
            failure = self.first_failure
            assert failure is not None
            worst = failure.worst
            detail = worst.message() if worst else ""
            a, b = failure.pair
            return f"FAIL at stage {failure.stage} ({a} vs {b}): {detail}{tail}"
        if status == "NO VERDICT":
            return f"NO VERDICT: no witness could be compared with the reference{tail}"
        if status == "INDETERMINATE":
            return f"INDETERMINATE: {self._chaos()}{tail}"
        return (
            f"PASS: {', '.join(self.compared)} {'agrees' if len(self.compared) == 1 else 'agree'}"
            f" with the {REFERENCE} reference at every "
            f"stage within tolerance{tail}"
        )

    def _chaos(self) -> str:
        """Why an INDETERMINATE verdict: where the table was exceeded and what rounding does."""
        excused = self.first_excused
        assert excused is not None and self.floor is not None
        worst = excused.worst
        a, b = excused.pair
        parts = []
        if worst is not None and worst.problem:  # non-finite, or a training that raised
            values = self.floor.values.get((worst.stage, worst.tensor), [])
            blown = sum(not math.isfinite(v) for v in values)
            parts.append(
                f"{excused.stage} ({a} vs {b}) {worst.tensor}: {worst.problem}; the reference's "
                f"own training blows up as well under {blown} of {len(values)} {NUDGED} "
                "(rounding alone makes this training diverge)"
            )
        elif worst is not None:
            floor = self.floor.of(worst.stage, worst.tensor)
            unit = " test predictions" if worst.stage == "predictions" else ""
            parts.append(
                f"{excused.stage} ({a} vs {b}) {worst.tensor} differs by {_amount(worst)}{unit}, "
                f"beyond the table's {worst.bound:.1e} but within {self.floor.margin:g}x the "
                f"reference's own drift under {self.floor.nudges} {NUDGED} "
                f"({_fmt(floor, worst.stage)})"
            )
        reached = self.floor.reached()
        if reached is not None and math.isfinite(reached[0]):
            parts.append(
                f"rounding alone grows to {reached[0]:.1e} by step {reached[1]} (chaotic regime)"
            )
        held = self.held_through()
        if held is not None:
            parts.append(f"parity held within the table through step {held}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        failure = self.first_failure or self.first_excused
        worst = failure.worst if failure else None
        return {
            "schema": SCHEMA,
            "verdict": {
                "status": self.status,
                "exit_status": self.exit_status,
                "passed": self.passed,
                "line": self.verdict(),
                "first_failure": None
                if failure is None
                else {
                    "stage": failure.stage,
                    "pair": list(failure.pair),
                    "outcome": failure.outcome,
                    "tensor": worst.tensor if worst else None,
                    "message": worst.message() if worst else None,
                },
                "held_through_step": self.held_through(),
            },
            "spec": self.spec.to_dict(),
            "data": self.data,
            "plan": {
                "seed": self.spec.seed,
                "epochs": self.spec.epochs,
                "batch_size": self.spec.batch_size,
                "steps_per_epoch": steps_per_epoch(self.data["n_train"], self.spec.batch_size),
                "k_steps": self.k_steps,
                "probe_size": self.probe_size,
            },
            "frameworks": {name: run.to_dict() for name, run in self.runs.items()},
            "stages": [s.to_dict() for s in self.stages],
            "floor": None if self.floor is None else self.floor.to_dict(self.stages),
            "divergence": {
                name: {
                    "steps": run.divergence_steps,
                    "max_abs_dW": run.divergence,
                    "within_table": run.divergence_held,
                }
                for name, run in self.runs.items()
                if run.divergence_steps
            },
            "timing": {
                "total_seconds": self.seconds_total,
                "training_seconds": self.seconds_training,
                "judge_seconds": self.seconds_total - self.seconds_training,
            },
        }


def _amount(c: Comparison) -> str:
    return str(c.mismatched) if c.stage == "predictions" else f"{c.max_abs:.1e}"


def _fmt(value: float | None, stage: str) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} flips" if stage == "predictions" else f"{value:.1e}"
