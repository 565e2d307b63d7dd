"""The staged judge: every implementation from one init, over one batch plan, compared in order.

Stages (``tolerances.STAGES``): init, data -> forward -> gradients -> step -> steps ->
train_params, train_loss, train_accuracy, predictions. Each witness is compared with the
reference ("numpy"), and in the training stages every pair of implementations is compared.
The first stage with a failing comparison is the finding.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from itertools import combinations
from typing import Any

import numpy as np

import frameworks
from frameworks import REFERENCE
from frameworks.contract import Framework, FrameworkUnavailable, Params
from parity.compare import compare, compare_params, compare_predictions, failed
from parity.report.model import Report, Run, StageResult
from parity.stages.data import PAIR as DATA_PAIR
from parity.stages.data import check_data
from parity.stages.init import check_init
from parity.stages.probes import large_logit_params
from parity.stages.setup import Setup
from parity.tolerances import Tolerance, tolerance
from parity.training import ProgressFactory, failure_text, train_all
from reference.spec import Spec

Array = np.ndarray
LARGE_LOGITS = "probs at large logits"  # forward's stress tensor (parity/stages/probes.py)
Compute = Callable[[Framework], Any]  # one stage's computation on one implementation


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
    jobs: int | None = 1,
) -> Report:
    """Run every stage for the reference and each named witness; return the Report.

    X_* (n, n_features) in [0, 1], y_* (n,) int labels. ``options`` per framework name are
    passed to its adapter (e.g. {"torch": {"device": "cuda"}}); ``loaded`` supplies adapter
    instances directly (a deliberately wrong one, say); ``params0`` replaces
    ``init_params(spec)`` as the one starting point (stage "init" checks it against the
    distribution the spec states). ``jobs``: trainings at once, in worker processes when > 1
    (None: as many as the cores suit, parity/workers.py); 1 trains them here in turn.
    """
    start = time.perf_counter()
    setup = Setup.make(
        spec,
        X_train,
        y_train,
        X_test,
        y_test,
        plan=plan,
        params0=params0,
        k_steps=k_steps,
        probe_size=probe_size,
    )
    runs, adapters = _load(spec, names, options or {}, loaded or {})
    report = Report(spec, _data_record(data, setup), runs, [], k_steps, probe_size)
    report.stages.append(StageResult("init", (REFERENCE, "spec"), check_init(spec, setup.params0)))
    report.stages.append(
        StageResult("data", DATA_PAIR, check_data(setup.X_train, setup.X_test, spec.dtype))
    )
    for stage, compute in _pre_training(setup):
        report.stages += _stage_against_reference(stage, compute, adapters, spec.dtype)
    train_all(setup, adapters, runs, log_points=log_points, progress=progress, jobs=jobs)
    if runs[REFERENCE].status == "error":
        reason = runs[REFERENCE].reason or "failed"
        witnesses = [n for n in adapters if n != REFERENCE]
        report.stages += [_subject_failed("train_params", n, reason, spec.dtype) for n in witnesses]
    for a, b in _pairs(runs):
        report.stages += _training_stages(spec, runs[a], runs[b])
    report.seconds_total = time.perf_counter() - start
    return report


def _data_record(data: dict[str, Any] | None, setup: Setup) -> dict[str, Any]:
    sizes = {"n_train": int(setup.X_train.shape[0]), "n_test": int(setup.X_test.shape[0])}
    return dict(data or {}, **sizes)


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


# --------------------------------------------------------------------------- before training


def _pre_training(setup: Setup) -> list[tuple[str, Compute]]:
    """(stage, computation) for forward, gradients, step and steps, in order."""
    spec, X, y = setup.spec, setup.X_train, setup.y_train
    params0, batch, probe, head = setup.params0, setup.batch, setup.probe, setup.head
    X_head, y_head = X[head], y[head]  # only these rows: no full-data setup twice
    one_epoch = spec.replace(epochs=1)
    in_order = np.arange(head.shape[0])
    stressed = large_logit_params(spec, params0, X[probe])

    def forward(f: Framework) -> dict[str, Array]:
        out = {"probs": f.forward(spec, params0, X[probe])}
        if stressed is not None:
            out[LARGE_LOGITS] = f.forward(spec, stressed, X[probe])
        return out

    def train_head(f: Framework, steps_order: Array) -> Params:
        return f.train(one_epoch, params0, X_head, y_head, [steps_order])[0]

    return [
        ("forward", forward),
        ("gradients", lambda f: f.gradients(spec, params0, X[batch], y[batch])),
        ("step", lambda f: train_head(f, in_order[: batch.size])),
        ("steps", lambda f: train_head(f, in_order)),
    ]


def _stage_against_reference(
    stage: str, compute: Compute, adapters: dict[str, Framework], dtype: str
) -> list[StageResult]:
    """Each witness's result of ``compute`` against the reference's."""
    expected = _attempt(compute, adapters[REFERENCE])
    results = []
    for name in adapters:
        if name == REFERENCE:
            continue
        if isinstance(expected, _Failed):  # nothing to compare with: the subject's failure
            results.append(_subject_failed(stage, name, expected.text, dtype))
            continue
        actual = _attempt(compute, adapters[name])
        results.append(_compare_stage(stage, name, actual, expected, dtype))
    return results


class _Failed:
    """What a stage computation raised (kept so the stage reports it as a failure)."""

    def __init__(self, error: BaseException) -> None:
        self.text = failure_text(error)


def _attempt(compute: Compute, adapter: Framework) -> Any:
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
            actual, {key: expected[key]}, stage=stage, dtype=dtype, pair=pair, tol=tol
        )
    return StageResult(stage, pair, comparisons)


def _tensor_tolerance(stage: str, tensor: str, dtype: str) -> Tolerance | None:
    """The table's own entry for a stress tensor; None (the stage's entry) for the rest."""
    if (stage, tensor) == ("forward", LARGE_LOGITS):
        return tolerance("forward_large_logits", dtype)
    return None


# --------------------------------------------------------------------------- after training


def _pairs(runs: dict[str, Run]) -> list[tuple[str, str]]:
    """(actual, expected) pairs of trained runs: each witness vs the reference, then witnesses."""
    trained = [n for n, r in runs.items() if r.status == "ok" and r.params is not None]
    witnesses = [n for n in trained if n != REFERENCE]
    pairs = [(n, REFERENCE) for n in witnesses] if REFERENCE in trained else []
    return pairs + list(combinations(witnesses, 2))


def _training_stages(spec: Spec, a: Run, b: Run) -> list[StageResult]:
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
