"""The report model: what the judge found, and its stable JSON form (report.json)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from frameworks import REFERENCE
from frameworks.contract import History, Params
from parity.compare import Comparison
from parity.stages.plan import steps_per_epoch
from parity.tolerances import STAGES
from reference.spec import Spec

Array = np.ndarray
SCHEMA = "mlp-parity/report/1"


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
    """All comparisons of one stage between one pair (actual, expected)."""

    stage: str
    pair: tuple[str, str]
    comparisons: list[Comparison]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.comparisons)

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
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


def _closeness(c: Comparison) -> float:
    bound = c.tolerance.bound(c.scale)
    if bound > 0:
        return c.max_abs / bound
    return 0.0 if c.max_abs == 0 else float("inf")


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

    @property
    def first_failure(self) -> StageResult | None:
        for stage in STAGES:
            for result in self.stages:
                if result.stage == stage and not result.passed:
                    return result
        return None

    @property
    def passed(self) -> bool:
        return self.first_failure is None and any(
            r.status == "ok" for n, r in self.runs.items() if n != REFERENCE
        )

    @property
    def seconds_training(self) -> float:
        return sum(r.seconds for r in self.runs.values())

    def verdict(self) -> str:
        """One line: PASS naming who agreed, or FAIL naming the first stage that disagreed."""
        compared = [n for n, r in self.runs.items() if n != REFERENCE and r.status == "ok"]
        left_out = [f"{n} ({r.status})" for n, r in self.runs.items() if r.status != "ok"]
        tail = f"; not compared: {', '.join(left_out)}" if left_out else ""
        failure = self.first_failure
        if failure is not None:
            worst = failure.worst
            detail = worst.message() if worst else ""
            a, b = failure.pair
            return f"FAIL at stage {failure.stage} ({a} vs {b}): {detail}{tail}"
        if not compared:
            return f"NO VERDICT: no witness could be compared with the reference{tail}"
        return (
            f"PASS: {', '.join(compared)} agree with the {REFERENCE} reference at every stage "
            f"within tolerance{tail}"
        )

    def to_dict(self) -> dict[str, Any]:
        failure = self.first_failure
        worst = failure.worst if failure else None
        return {
            "schema": SCHEMA,
            "verdict": {
                "passed": self.passed,
                "line": self.verdict(),
                "first_failure": None
                if failure is None
                else {
                    "stage": failure.stage,
                    "pair": list(failure.pair),
                    "tensor": worst.tensor if worst else None,
                    "message": worst.message() if worst else None,
                },
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
            "divergence": {
                name: {"steps": run.divergence_steps, "max_abs_dW": run.divergence}
                for name, run in self.runs.items()
                if run.divergence_steps
            },
            "timing": {
                "total_seconds": self.seconds_total,
                "training_seconds": self.seconds_training,
                "judge_seconds": self.seconds_total - self.seconds_training,
            },
        }
