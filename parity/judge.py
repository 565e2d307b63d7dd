"""The staged judge: every implementation from one init, over one batch plan, compared in order.

Stages (``tolerances.STAGES``): init, data -> forward -> gradients -> step -> steps ->
train_params, train_loss, train_accuracy, predictions. Each witness is compared with the
reference ("numpy"), and in the training stages every pair of implementations is compared.
The first stage with a failing comparison is the finding.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any, Protocol

import numpy as np

import frameworks
from frameworks.base import Framework, FrameworkUnavailable
from parity.compare import Comparison, compare, compare_params, failed
from parity.datacheck import PAIR as DATA_PAIR
from parity.datacheck import check_data
from parity.initcheck import check_init
from parity.plan import batch_plan, steps_per_epoch
from parity.probes import large_logit_params
from parity.tolerances import STAGES, Tolerance, tolerance
from reference.model import Params, as_inputs, as_labels, as_params, init_params
from reference.spec import Spec
from reference.train import History

Array = np.ndarray
REFERENCE = "numpy"
LARGE_LOGITS = "probs at large logits"  # forward's stress tensor (parity/probes.py)


class ProgressBar(Protocol):
    def update(self, n: float = 1) -> None: ...


# progress(description, total_steps) -> a context manager yielding something with update(n)
ProgressFactory = Callable[[str, int], AbstractContextManager[Any]]


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
            "schema": "mlp-parity/report/1",
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


def log_steps(total_steps: int, points: int) -> list[int]:
    """About ``points`` steps to log, denser early (log-spaced) and spread evenly after."""
    if total_steps <= points:
        return list(range(1, total_steps + 1))
    early = np.geomspace(1, total_steps, points // 2)
    even = np.linspace(1, total_steps, points - points // 2)
    return sorted({round(float(s)) for s in np.concatenate([early, even])})


def steps_head(order: Array, batch_size: int, k_steps: int) -> Array:
    """The samples of the first k steps of an epoch's order (all of it when shorter), (m,)."""
    k = min(k_steps, steps_per_epoch(order.shape[0], batch_size))
    return order[: k * batch_size]


def judge(
    spec: Spec,
    X_train: object,
    y_train: object,
    X_test: object,
    y_test: object,
    *,
    names: Sequence[str] = frameworks.NAMES,
    options: dict[str, dict[str, Any]] | None = None,
    plan: Array | None = None,
    k_steps: int = 50,
    probe_size: int = 256,
    log_points: int = 100,
    data: dict[str, Any] | None = None,
    progress: ProgressFactory | None = None,
    loaded: dict[str, Framework] | None = None,
    params0: Params | None = None,
) -> Report:
    """Run every stage for the reference and each named witness; return the Report.

    X_* (n, n_features) in [0, 1], y_* (n,) int labels. ``options`` per framework name are
    passed to its adapter (e.g. {"torch": {"device": "cuda"}}); ``loaded`` supplies adapter
    instances directly (tests use it to judge a deliberately wrong implementation);
    ``params0`` replaces ``init_params(spec)`` as the one starting point (stage "init" checks
    it against the distribution the spec states).
    """
    start = time.perf_counter()
    X_train = as_inputs(spec, X_train)  # once, in the spec's dtype: no adapter copies it again
    y_train = as_labels(spec, y_train, X_train.shape[0])
    X_test = as_inputs(spec, X_test)
    y_test = as_labels(spec, y_test, X_test.shape[0])
    plan = batch_plan(X_train.shape[0], spec.epochs, spec.seed) if plan is None else plan
    params0 = init_params(spec) if params0 is None else as_params(spec, params0)
    runs, adapters = _load(spec, names, options or {}, loaded or {})
    witnesses = [n for n in adapters if n != REFERENCE]
    report = Report(
        spec=spec,
        data=dict(data or {}, n_train=int(X_train.shape[0]), n_test=int(X_test.shape[0])),
        runs=runs,
        stages=[],
        k_steps=k_steps,
        probe_size=probe_size,
    )
    report.stages.append(StageResult("init", (REFERENCE, "spec"), check_init(spec, params0)))
    report.stages.append(StageResult("data", DATA_PAIR, check_data(X_train, X_test, spec.dtype)))

    first = plan[0]
    batch = first[: spec.batch_size]
    probe = first[:probe_size]
    head = steps_head(first, spec.batch_size, k_steps)
    X_head, y_head = X_train[head], y_train[head]  # only these rows: no full-data setup twice
    in_order = [np.arange(head.shape[0])]
    one_epoch = spec.replace(epochs=1)
    stressed = large_logit_params(spec, params0, X_train[probe])

    def forward(f: Framework) -> dict[str, Array]:
        out = {"probs": f.forward(spec, params0, X_train[probe])}
        if stressed is not None:
            out[LARGE_LOGITS] = f.forward(spec, stressed, X_train[probe])
        return out

    staged: list[tuple[str, Callable[[Framework], Any]]] = [
        ("forward", forward),
        ("gradients", lambda f: f.gradients(spec, params0, X_train[batch], y_train[batch])),
        (
            "step",
            lambda f: f.train(one_epoch, params0, X_head, y_head, [in_order[0][: batch.size]])[0],
        ),
        ("steps", lambda f: f.train(one_epoch, params0, X_head, y_head, in_order)[0]),
    ]
    for stage, compute in staged:
        expected = _attempt(compute, adapters[REFERENCE])
        for name in witnesses:
            if isinstance(expected, _Failed):  # nothing to compare with: the subject's failure
                report.stages.append(_subject_failed(stage, name, expected.text, spec.dtype))
                continue
            actual = _attempt(compute, adapters[name])
            report.stages.append(_compare_stage(stage, name, actual, expected, spec.dtype))

    _train_all(
        spec, params0, X_train, y_train, X_test, y_test, plan, adapters, runs, log_points, progress
    )
    if runs[REFERENCE].status == "error":
        reason = runs[REFERENCE].reason or "failed"
        for name in witnesses:
            report.stages.append(_subject_failed("train_params", name, reason, spec.dtype))
    for a, b in _pairs(runs):
        report.stages.extend(_training_stages(spec, runs[a], runs[b], y_test))
    report.seconds_total = time.perf_counter() - start
    return report


def _load(
    spec: Spec,
    names: Iterable[str],
    options: dict[str, dict[str, Any]],
    loaded: dict[str, Framework],
) -> tuple[dict[str, Run], dict[str, Framework]]:
    """Adapters that can run this spec, and a Run record for every name (reference first)."""
    runs: dict[str, Run] = {}
    adapters: dict[str, Framework] = {}
    ordered = [REFERENCE, *[n for n in list(names) + list(loaded) if n != REFERENCE]]
    for name in dict.fromkeys(ordered):
        try:
            adapter = loaded.get(name) or frameworks.load(name, **options.get(name, {}))
        except FrameworkUnavailable as error:
            runs[name] = Run(name, "unavailable", str(error))
            continue
        reason = adapter.supports(spec)
        runs[name] = Run(
            name, "ok" if reason is None else "unsupported", reason, adapter.versions()
        )
        if reason is None:
            adapters[name] = adapter
    if REFERENCE not in adapters:
        raise RuntimeError(f"the reference cannot run: {runs[REFERENCE].reason}")
    return runs, adapters


class _Failed:
    """What a stage computation raised (kept so the stage reports it as a failure)."""

    def __init__(self, error: BaseException) -> None:
        self.text = f"raised {type(error).__name__}: {error}"
        self.trace = traceback.format_exc()


def _attempt(compute: Callable[[Framework], Any], adapter: Framework) -> Any:
    # An implementation that crashes fails this stage, with the reason. The subject too: a
    # subject whose training blows up into NaN must still show the earlier stage that first
    # went wrong, rather than a traceback that hides it.
    try:
        return compute(adapter)
    except Exception as error:
        return _Failed(error)


def _subject_failed(stage: str, name: str, text: str, dtype: str) -> StageResult:
    """The stage failed for (name, reference) because the reference itself raised."""
    pair = (name, REFERENCE)
    tol = tolerance(stage, dtype)
    return StageResult(stage, pair, [failed(stage, "*", pair, dtype, tol, f"{REFERENCE} {text}")])


def _compare_stage(
    stage: str, name: str, actual: Any, expected: dict[str, Array], dtype: str
) -> StageResult:
    pair = (name, REFERENCE)
    if isinstance(actual, _Failed):
        failure = failed(stage, "*", pair, dtype, tolerance(stage, dtype), actual.text)
        return StageResult(stage, pair, [failure])
    comparisons = []
    for key in expected:  # one key at a time: a stress tensor carries its own tolerance
        tol = _tensor_tolerance(stage, key, dtype)
        comparisons += compare_params(
            actual,
            {key: expected[key]},
            stage=stage,
            dtype=dtype,
            pair=pair,
            tol=tol,
        )
    return StageResult(stage, pair, comparisons)


def _tensor_tolerance(stage: str, tensor: str, dtype: str) -> Tolerance | None:
    """The table's own entry for a stress tensor; None (the stage's entry) for the rest."""
    if (stage, tensor) == ("forward", LARGE_LOGITS):
        return tolerance("forward_large_logits", dtype)
    return None


def _train_all(
    spec: Spec,
    params0: Params,
    X_train: Array,
    y_train: Array,
    X_test: Array,
    y_test: Array,
    plan: Array,
    adapters: dict[str, Framework],
    runs: dict[str, Run],
    log_points: int,
    progress: ProgressFactory | None,
) -> None:
    """Full training for each adapter, the reference first (its snapshots anchor divergence)."""
    total = spec.epochs * steps_per_epoch(X_train.shape[0], spec.batch_size)
    logged = set(log_steps(total, log_points))
    anchors: dict[int, Params] = {}
    for name, adapter in adapters.items():
        run = runs[name]
        bar_context = progress(f"train {name}", total) if progress else nullcontext(None)
        with bar_context as bar:
            on_step = _step_hook(name, run, logged, anchors, bar)
            t0 = time.perf_counter()
            try:
                params, history = adapter.train(
                    spec,
                    params0,
                    X_train,
                    y_train,
                    plan,
                    eval_data=(X_test, y_test),
                    on_step=on_step,
                )
                run.seconds = time.perf_counter() - t0
                test_probs = adapter.forward(spec, params, X_test)
            except Exception as error:  # the subject's too (see _attempt): reported, not raised
                run.status, run.reason = "error", _Failed(error).text
                continue
        run.params, run.history, run.test_probs = params, history, test_probs


def _step_hook(
    name: str,
    run: Run,
    logged: set[int],
    anchors: dict[int, Params],
    bar: Any,
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
            run.divergence_steps.append(step)
            run.divergence.append(max(float(np.abs(current[k] - anchor[k]).max()) for k in anchor))

    return on_step


def _pairs(runs: dict[str, Run]) -> list[tuple[str, str]]:
    """(actual, expected) pairs of trained runs: each witness vs the reference, then witnesses."""
    trained = [n for n, r in runs.items() if r.status == "ok" and r.params is not None]
    witnesses = [n for n in trained if n != REFERENCE]
    pairs = [(n, REFERENCE) for n in witnesses] if REFERENCE in trained else []
    return pairs + list(combinations(witnesses, 2))


def _training_stages(spec: Spec, a: Run, b: Run, y_test: Array) -> list[StageResult]:
    pair = (a.name, b.name)
    dtype = spec.dtype
    assert a.params is not None and b.params is not None and a.history and b.history
    assert a.test_probs is not None and b.test_probs is not None
    params = compare_params(a.params, b.params, stage="train_params", dtype=dtype, pair=pair)
    loss = compare(
        a.history.loss,
        b.history.loss,
        stage="train_loss",
        tensor="loss per epoch",
        dtype=dtype,
        pair=pair,
    )
    accuracy = compare(
        a.history.accuracy,
        b.history.accuracy,
        stage="train_accuracy",
        tensor="test accuracy per epoch",
        dtype=dtype,
        pair=pair,
    )
    predictions = compare_predictions(a.test_probs, b.test_probs, pair, dtype)
    return [
        StageResult("train_params", pair, params),
        StageResult("train_loss", pair, [loss]),
        StageResult("train_accuracy", pair, [accuracy]),
        StageResult("predictions", pair, [predictions]),
    ]


def compare_predictions(
    probs_a: Array, probs_b: Array, pair: tuple[str, str], dtype: str
) -> Comparison:
    """Do the argmax predictions agree? A disagreement is excused only as a near-tie.

    With delta = max|probs_a - probs_b| over the whole test set, a sample whose top-two
    probabilities are within 2*delta in both implementations may legitimately flip; such
    flips are counted in the message, not failed. Everything else must agree exactly.
    probs_a, probs_b (n_test, n_classes).
    """
    pred_a, pred_b = probs_a.argmax(axis=1), probs_b.argmax(axis=1)
    delta = float(np.abs(probs_a - probs_b).max()) if probs_a.size else 0.0
    differ = np.flatnonzero(pred_a != pred_b)
    near_tie = (_margin(probs_a[differ]) <= 2 * delta) & (_margin(probs_b[differ]) <= 2 * delta)
    excused, unexcused = differ[near_tie], differ[~near_tie]
    tol = tolerance("predictions", dtype)
    flags = np.zeros(pred_a.shape[0])
    flags[unexcused] = 1.0
    first = int(unexcused[0]) if unexcused.size else (int(differ[0]) if differ.size else 0)
    detail = (
        f"{unexcused.size} of {pred_a.shape[0]} test predictions differ"
        f" ({excused.size} near-ties within 2*max|dprob| = {2 * delta:.1e} excused)"
    )
    if differ.size:
        detail += (
            f"; first at test[{first}]: {pair[0]} {pred_a[first]} vs {pair[1]} {pred_b[first]}"
        )
    result = compare(
        flags,
        np.zeros_like(flags),
        stage="predictions",
        tensor="test predictions",
        dtype=dtype,
        pair=pair,
        tol=tol,
    )
    return _with_detail(result, detail)


def _margin(probs: Array) -> Array:
    """Top-1 minus top-2 probability per row, (n,)."""
    if probs.shape[0] == 0:
        return np.zeros(0)
    top2 = np.sort(probs, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def _with_detail(result: Comparison, detail: str) -> Comparison:
    return replace(result, detail=detail)
