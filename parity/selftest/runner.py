"""Run the catalogue through the judge: is each defect caught, and first at its stage?"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import numpy as np

import frameworks
from frameworks import REFERENCE
from parity.judge import judge
from parity.report.model import Report
from parity.report.text import table
from parity.selftest.catalogue import WITNESSES, Mutant
from parity.tolerances import STAGES

Array = np.ndarray


@dataclass(frozen=True)
class Outcome:
    """What the judge said about one mutant."""

    mutant: Mutant
    first_stage: str | None  # the first failing stage; None when every stage passed
    pair: tuple[str, str] | None  # the pair that failed there
    message: str  # that failure's message (or why the mutant could not run)
    seconds: float
    status: str = "judged"  # judged | unavailable (a framework it needs is missing) | error
    report: Report | None = field(default=None, repr=False, compare=False)

    @property
    def caught(self) -> bool:
        """Caught, and first at the stage the catalogue says."""
        return self.status == "judged" and self.first_stage == self.mutant.stage


def run_mutant(
    mutant: Mutant, X_train: Array, y_train: Array, X_test: Array, y_test: Array
) -> Outcome:
    """Judge the mutant's spec with the mutant in its target's place; X (n, n_features)."""
    start = time.perf_counter()
    try:
        loaded = {mutant.target: mutant.adapter()} if mutant.adapter else {}
    except frameworks.FrameworkUnavailable as error:
        return Outcome(mutant, None, None, str(error), 0.0, status="unavailable")
    if mutant.data is not None:
        X_train, X_test = mutant.data(X_train, X_test)
    try:
        # A defect may overflow: the judge sees the inf or NaN, the user no warning about it.
        with np.errstate(all="ignore"), one_thread():
            report = judge(
                mutant.spec,
                X_train,
                y_train,
                X_test,
                y_test,
                names=(REFERENCE, *WITNESSES),
                loaded=loaded,
                params0=mutant.params0(mutant.spec) if mutant.params0 else None,
                log_points=0,
            )
    except Exception as error:  # a subject that crashes is not caught by a stage: say so
        text = f"judge raised {type(error).__name__}: {error}\n{traceback.format_exc()}"
        return Outcome(mutant, None, None, text, time.perf_counter() - start, status="error")
    return outcome(mutant, report, time.perf_counter() - start)


@contextmanager
def one_thread() -> Iterator[None]:
    """BLAS, OpenMP and torch on one thread inside, restored after (each where installed).

    The catalogue's tensors are tiny (at most 300 x 784): a second thread buys nothing, and on
    a busy machine idle pool threads spin through thousands of small ops (measured on 2 cores
    at load 4: the whole selftest 39 s with the default 2 threads, 7 s with 1). Results stay
    within rounding of each other, far inside every tolerance.
    """
    with ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits  # comes with scikit-learn
        except ImportError:
            pass
        else:
            stack.enter_context(threadpool_limits(limits=1))
        try:
            import torch
        except ImportError:
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        stack.callback(torch.set_num_threads, before)
        yield


def outcome(mutant: Mutant, report: Report, seconds: float) -> Outcome:
    """The report's first failure as an Outcome ("unavailable" when no witness could run)."""
    if not any(r.status == "ok" for n, r in report.runs.items() if n != REFERENCE):
        return Outcome(mutant, None, None, report.verdict(), seconds, "unavailable", report)
    failure = report.first_failure
    if failure is None:
        return Outcome(mutant, None, None, report.verdict(), seconds, report=report)
    worst = failure.worst
    message = worst.message() if worst else report.verdict()
    return Outcome(mutant, failure.stage, failure.pair, message, seconds, report=report)


def run_catalogue(
    mutants: Iterable[Mutant], X_train: Array, y_train: Array, X_test: Array, y_test: Array
) -> list[Outcome]:
    """``run_mutant`` for each, in order."""
    return [run_mutant(m, X_train, y_train, X_test, y_test) for m in mutants]


# --------------------------------------------------------------------------- the printout

MUTANT_HEADER = ("mutant", "in", "must fail at", "first failure", "caught", "mistake")
STAGE_HEADER = ("stage", "caught")


def mutant_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    """One row per mutant: name, target, expected and actual first failing stage, caught?"""
    return [
        [
            o.mutant.name,
            o.mutant.target,
            o.mutant.stage,
            o.first_stage or ("-" if o.status == "judged" else o.status),
            "yes" if o.caught else "NO",
            o.mutant.mistake,
        ]
        for o in outcomes
    ]


def stage_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    """Caught/total per expected stage, in stage order."""
    rows = []
    for stage in STAGES:
        mine = [o for o in outcomes if o.mutant.stage == stage]
        caught = sum(o.caught for o in mine)
        rows.append([stage, f"{caught}/{len(mine)}"])
    return rows


def summary(outcomes: Sequence[Outcome]) -> str:
    """The last line: caught N/M, and the ones that were not."""
    caught = sum(o.caught for o in outcomes)
    missed = [o.mutant.name for o in outcomes if not o.caught]
    tail = f"; NOT caught at their stage: {', '.join(missed)}" if missed else ""
    return f"caught {caught}/{len(outcomes)}{tail}"


def console(outcomes: Sequence[Outcome], verbose: bool = False) -> str:
    """Both tables, each miss's message (every message with ``verbose``), the summary line."""
    parts = [
        table(mutant_rows(outcomes), MUTANT_HEADER),
        "",
        table(stage_rows(outcomes), STAGE_HEADER),
    ]
    shown = [o for o in outcomes if verbose or not o.caught]
    if shown:
        parts += ["", "first failing messages:" if verbose else "not caught at their stage:"]
        parts += [f"  {o.mutant.name}: {o.message}" for o in shown]
    parts += ["", summary(outcomes)]
    return "\n".join(parts)
