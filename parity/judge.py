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
from frameworks.checked import ContractError
from frameworks.contract import Framework, FrameworkUnavailable, Params
from frameworks.external import is_source
from parity.compare import compare, compare_params, compare_predictions, failed
from parity.report.model import Report, Run, StageResult
from parity.stages.conditioning import gradient_scale
from parity.stages.data import PAIR as DATA_PAIR
from parity.stages.data import check_data
from parity.stages.floor import Floor, settle
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
) -> Report:
    """Every stage, in order, for the reference and each named witness: the Report.

    X_* (n, n_features) in [0, 1], y_* (n,) int labels. ``options``: per framework, its
    adapter's (e.g. {"torch": {"device": "cuda"}}); ``loaded``: adapter instances by name (a
    deliberately wrong one, say); ``params0``: the one starting point instead of the spec's.
    """
    start = time.perf_counter()
    setup = Setup.make(spec, X_train, y_train, X_test, y_test, plan=plan, params0=params0,
                       k_steps=k_steps, probe_size=probe_size)  # fmt: skip
    runs, adapters = _load(spec, names, options or {}, loaded or {})
    report = Report(spec, _data_record(data, setup), runs, _contracts(setup), k_steps, probe_size)
    for stage, compute, scales in _pre_training(setup):
        taking_part = _taking_part(stage, adapters, runs)
        report.stages += _stage_against_reference(stage, compute, taking_part, spec.dtype, scales)
    trainable = _taking_part("train_params", adapters, runs)
    anchors = train_all(setup, trainable, runs, log_points=log_points, progress=progress)
    report.stages += _after_training(spec, runs, list(trainable))
    report.floor = _noise_floor(report, setup, adapters[REFERENCE], anchors)
    report.seconds_total = time.perf_counter() - start
    return report


def _contracts(setup: Setup) -> list[StageResult]:
    """Stages init and data: the starting point and the inputs against what the spec states."""
    spec = setup.spec
    init = check_init(spec, setup.params0)
    data = check_data(setup.X_train, setup.X_test, spec.dtype)
    return [StageResult("init", (REFERENCE, "spec"), init), StageResult("data", DATA_PAIR, data)]


def _data_record(data: dict[str, Any] | None, setup: Setup) -> dict[str, Any]:
    sizes = {"n_train": int(setup.X_train.shape[0]), "n_test": int(setup.X_test.shape[0])}
    return dict(data or {}, **sizes)


def _load(
    spec: Spec,
    names: Iterable[str],
    options: dict[str, dict[str, Any]],
    loaded: dict[str, Framework],
) -> tuple[dict[str, Run], dict[str, Framework]]:
    """Adapters that can run this spec, and a Run record for every name (reference first).

    A user's implementation (``file.py:Class``, ``module:Class``) is recorded under its own
    name; one that lacks ``train`` skips the stages that need it (``Run.skipped``).
    """
    runs: dict[str, Run] = {}
    adapters: dict[str, Framework] = {}
    ordered = [REFERENCE, *[n for n in list(names) + list(loaded) if n != REFERENCE]]
    for given in dict.fromkeys(ordered):
        try:
            adapter = loaded.get(given) or frameworks.load(given, **options.get(given, {}))
        except FrameworkUnavailable as error:
            runs[given] = Run(given, "unavailable", str(error))
            continue
        name = given
        if is_source(given):  # a user's file.py:Class: by its own name, unique in this run
            name = adapter.name = _unique(adapter.name, runs)
        reason = adapter.supports(spec)
        status = "ok" if reason is None else "unsupported"
        runs[name] = Run(name, status, reason, adapter.versions(), skipped=_skipped(name, adapter))
        if reason is None:
            adapters[name] = adapter
    if REFERENCE not in adapters:
        raise RuntimeError(f"the reference cannot run: {runs[REFERENCE].reason}")
    return runs, adapters


def _unique(name: str, runs: dict[str, Run]) -> str:
    """A user's implementation's report name, made unique among this run's ("MLP #2")."""
    candidate, count = name, 1
    while candidate in runs:
        count += 1
        candidate = f"{name} #{count}"
    return candidate


# Stages an implementation takes part in only with a train method: all of them train.
NEEDS_TRAIN = ("step", "steps", "train_params", "train_loss", "train_accuracy", "predictions")


def _skipped(name: str, adapter: Framework) -> dict[str, str]:
    """Stage -> why ``adapter`` takes no part in it (a user's implementation without train)."""
    if callable(getattr(adapter, "train", None)):
        return {}
    return {stage: f"{name} has no train method" for stage in NEEDS_TRAIN}


def _taking_part(
    stage: str, adapters: dict[str, Framework], runs: dict[str, Run]
) -> dict[str, Framework]:
    return {n: a for n, a in adapters.items() if stage not in runs[n].skipped}


# --------------------------------------------------------------------------- before training


def _pre_training(setup: Setup) -> list[tuple[str, Compute, Params | None]]:
    """(stage, computation, scales) for forward, gradients, step and steps, in order.

    ``scales`` per key, where the stage knows a better magnitude for rtol than the reference's
    result: a gradient is a sum of terms whose rounding scales with their absolute sum, which
    cancellation can make far larger than the result (parity/stages/conditioning.py).
    """
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

    terms = gradient_scale(spec, params0, X[batch], y[batch])
    return [
        ("forward", forward, None),
        ("gradients", lambda f: f.gradients(spec, params0, X[batch], y[batch]), terms),
        ("step", lambda f: train_head(f, in_order[: batch.size]), None),
        ("steps", lambda f: train_head(f, in_order), None),
    ]


def _steps_against(setup: Setup, subject: Framework) -> Callable[[Framework, Setup], list]:
    """The steps stage of ``f`` on another (nudged) setup, against the subject's own steps on
    this one (the noise floor's measure at that stage)."""
    spec, head = setup.spec, setup.head
    order, one_epoch = [np.arange(head.shape[0])], spec.replace(epochs=1)
    expected: list[Params] = []

    def steps(f: Framework, moved: Setup) -> list[StageResult]:
        if not expected:
            X, y = setup.X_train[head], setup.y_train[head]
            expected.append(subject.train(one_epoch, setup.params0, X, y, order)[0])
        X, y = moved.X_train[head], moved.y_train[head]
        actual = f.train(one_epoch, moved.params0, X, y, order)[0]
        return [_compare_stage("steps", REFERENCE, actual, expected[0], spec.dtype)]

    return steps


def _stage_against_reference(
    stage: str,
    compute: Compute,
    adapters: dict[str, Framework],
    dtype: str,
    scales: Params | None = None,
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
        results.append(_compare_stage(stage, name, actual, expected, dtype, scales))
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
    except ContractError:  # a user's implementation that breaks the contract: exit 2, not a stage
        raise
    except Exception as error:
        return _Failed(error)


def _witness_failed(stage: str, name: str, run: Run, dtype: str) -> StageResult:
    """The stage failed for (name, reference) because the witness's own training raised."""
    pair = (name, REFERENCE)
    text = f"{name} {run.reason or 'failed'}"
    return StageResult(
        stage, pair, [failed(stage, "*", pair, dtype, tolerance(stage, dtype), text)]
    )


def _subject_failed(stage: str, name: str, text: str, dtype: str) -> StageResult:
    """The stage failed for (name, reference) because the reference itself raised."""
    pair = (name, REFERENCE)
    tol = tolerance(stage, dtype)
    return StageResult(stage, pair, [failed(stage, "*", pair, dtype, tol, f"{REFERENCE} {text}")])


def _compare_stage(
    stage: str,
    name: str,
    actual: Any,
    expected: dict[str, Array],
    dtype: str,
    scales: Params | None = None,
) -> StageResult:
    pair = (name, REFERENCE)
    if isinstance(actual, _Failed):
        failure = failed(stage, "*", pair, dtype, tolerance(stage, dtype), actual.text)
        return StageResult(stage, pair, [failure])
    comparisons = []
    for key in expected:  # one key at a time: a stress tensor carries its own tolerance
        tol = _tensor_tolerance(stage, key, dtype)
        scale = None if scales is None or key not in scales else {key: float(scales[key].max())}
        comparisons += compare_params(
            actual, {key: expected[key]}, stage=stage, dtype=dtype, pair=pair, tol=tol, scales=scale
        )
    return StageResult(stage, pair, comparisons)


def _tensor_tolerance(stage: str, tensor: str, dtype: str) -> Tolerance | None:
    """The table's own entry for a stress tensor; None (the stage's entry) for the rest."""
    if (stage, tensor) == ("forward", LARGE_LOGITS):
        return tolerance("forward_large_logits", dtype)
    return None


# --------------------------------------------------------------------------- after training


def _after_training(spec: Spec, runs: dict[str, Run], trained: list[str]) -> list[StageResult]:
    """The training stages of every pair; train_params fails outright for a pair whose
    training raised (the reference's: for every witness; else that witness's)."""
    results = []
    witnesses = [n for n in trained if n != REFERENCE]
    if runs[REFERENCE].status == "error":
        reason = runs[REFERENCE].reason or "failed"
        results += [_subject_failed("train_params", n, reason, spec.dtype) for n in witnesses]
    else:
        crashed = [n for n in witnesses if runs[n].status == "error"]
        results += [_witness_failed("train_params", n, runs[n], spec.dtype) for n in crashed]
    for a, b in _pairs(runs):
        results += _training_stages(spec, runs[a], runs[b])
    return results


def _noise_floor(
    report: Report, setup: Setup, subject: Framework, anchors: dict[int, Params]
) -> Floor | None:
    """The subject's own drift under 1-ulp nudges, when only training stages failed."""
    spec = setup.spec
    return settle(
        report.stages,
        setup,
        subject,
        report.runs[REFERENCE],
        anchors,
        lambda nudged, reference: _training_stages(spec, nudged, reference),
        _steps_against(setup, subject),
    )


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
