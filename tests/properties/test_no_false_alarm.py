"""No false alarms: correct implementations pass every stage on generated models and data.

Hypothesis draws the model (1-4 hidden layers of 1-64 units, activation, loss and softmax
derivative, biases, init scheme), the SGD settings (batch sizes 1, in between and larger than
the data; learning rate; epochs; seed) and small synthetic data; the judge then runs the numpy
reference, torch and scikit-learn (where it can express the spec) through every stage under
the one tolerance table. Derandomized with a fixed example budget: the same cases every run.

The regime, and two excuses, each measured on the case itself rather than assumed:

- learning rate up to MAX_LR = 0.5. Beyond it these tiny random-label problems diverge (mean
  loss >> log k): probabilities fall below float eps, where scikit-learn's reported log-loss
  is clipped by design (frameworks/sklearn_mlp.py), so ``train_loss`` would measure that
  clipping, not the implementations.
- chaos: per-sample SGD at lr 0.3-0.5 through tanh/relu layers amplifies rounding ~10x every
  few dozen steps. A failure first at ``steps`` or ``train_params`` counts as chaotic, not as a
  false alarm, only when the reference disagrees with ITSELF by more than that stage's
  tolerance after a 1-ulp nudge of its initial weights (parity/sensitivity.py): rounding alone
  then exceeds the tolerance.
- cancellation: a gradient entry is a sum of terms; two correct implementations may differ
  by a few ulp of the terms' magnitudes, which is a large relative error when the terms
  cancel (a class-balanced batch, nearly constant features, a dead relu layer). A failure
  only at ``gradients`` counts as rounding when every failing tensor is within the table's
  rtol of its sum of absolute terms (parity/conditioning.py).

Excused cases are counted and must stay a small minority (MAX_EXCUSED).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import frameworks
from parity.judge import judge
from parity.report.model import Report
from parity.selftest.runner import one_thread
from parity.stages.conditioning import gradient_scale
from parity.stages.floor import RUNS, sensitivity
from parity.stages.plan import batch_plan
from parity.tolerances import tolerance
from reference.model import init_params
from reference.spec import ACTIVATION_NAMES, INIT_NAMES, Spec

EXAMPLES = 340  # per dtype, so that at least MIN_PASSING pass outright
MIN_PASSING = 300  # issue 7: no false alarm over at least 300 float64 and 300 float32 cases
DTYPES = ("float64", "float32")
MAX_LR = 0.5  # the regime: see the module docstring
# Hypothesis clusters examples around interesting ones: with other seeds, 0-4% of 300 cases
# were chaotic (all of them measured so), so a tenth is a guard, not a target.
MAX_EXCUSED = 0.10  # at most this share of the cases may be excused (chaos or cancellation)


@dataclass(frozen=True)
class Case:
    """One generated check: the spec and the synthetic data's shape and seed."""

    spec: Spec
    n_train: int
    n_test: int
    data_seed: int

    def data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """X (n, n_features) uniform in [0, 1), labels uniform over the classes."""
        rng = np.random.default_rng(self.data_seed)
        n, k = self.n_train + self.n_test, self.spec.n_classes
        X = rng.random((n, self.spec.n_features))
        y = rng.integers(0, k, n)
        return X[: self.n_train], y[: self.n_train], X[self.n_train :], y[self.n_train :]


@st.composite
def cases(draw: st.DrawFn, dtype: str) -> Case:
    """A spec and data size. Hypothesis favours the first choice of each ``sampled_from``: the
    commonest case comes first (one scikit-learn can express; a batch within the data)."""
    family = draw(st.sampled_from(("standard", "squared_error", "any")))
    loss, bias, min_classes = "cross_entropy", True, 3  # "standard": all three frameworks
    if family == "squared_error":
        loss, bias, min_classes = "squared_error", draw(st.booleans()), 2
    elif family == "any":
        loss = draw(st.sampled_from(("cross_entropy", "squared_error")))
        bias, min_classes = draw(st.booleans()), 2
    softmax_grad = "jacobian"
    if loss == "squared_error":
        softmax_grad = draw(st.sampled_from(("jacobian", "diagonal")))
    n_train = draw(st.integers(64, 160))
    batch = draw(st.sampled_from(("within", "one", "over")))
    batch_size = {
        "within": st.integers(2, n_train),
        "one": st.just(1),
        "over": st.integers(n_train + 1, 2 * n_train),  # larger than the data
    }[batch]
    spec = Spec(
        sizes=(
            draw(st.integers(1, 12)),  # n_features
            *draw(st.lists(st.integers(1, 64), min_size=1, max_size=4)),  # hidden
            draw(st.integers(min_classes, 10)),  # n_classes
        ),
        activation=draw(st.sampled_from(ACTIVATION_NAMES)),
        loss=loss,
        softmax_grad=softmax_grad,
        bias=bias,
        init=draw(st.sampled_from(INIT_NAMES)),
        dtype=dtype,
        lr=draw(st.floats(1e-3, MAX_LR)),
        batch_size=draw(batch_size),
        epochs=draw(st.integers(1, 3)),
        seed=draw(st.integers(0, 2**16)),
    )
    return Case(spec, n_train, draw(st.integers(16, 48)), draw(st.integers(0, 2**16)))


def judged(case: Case) -> Report:
    X_train, y_train, X_test, y_test = case.data()
    return judge(case.spec, X_train, y_train, X_test, y_test, names=frameworks.NAMES)


def chaotic(case: Case, report: Report) -> bool:
    """Did the first failure come where the reference's own 1-ulp sensitivity exceeds the
    tolerance? (Only the multi-step stages can be chaotic.)"""
    failure = report.first_failure
    if failure is None or failure.stage not in RUNS:
        return False
    X_train, y_train, _, _ = case.data()
    bound = tolerance(failure.stage, case.spec.dtype).atol  # rtol is 0 for both stages
    return sensitivity(case.spec, X_train, y_train, RUNS[failure.stage]) > bound


def cancelling(case: Case, report: Report) -> bool:
    """Are the only failures gradients within rtol of their sums of absolute terms?"""
    failing = [c for s in report.stages for c in s.comparisons if not c.passed]
    if not failing or any(c.stage != "gradients" for c in failing):
        return False
    X_train, y_train, _, _ = case.data()
    spec = case.spec
    batch = batch_plan(case.n_train, spec.epochs, spec.seed)[0][: spec.batch_size]  # the judge's
    scale = gradient_scale(spec, init_params(spec), X_train[batch], y_train[batch])
    rtol = tolerance("gradients", spec.dtype).rtol
    return all(c.max_abs <= rtol * float(scale[c.tensor].max()) for c in failing)


def describe(case: Case, report: Report) -> str:
    """What a failing case was, and every failing comparison's message."""
    failures = [c.message() for s in report.stages for c in s.comparisons if not c.passed]
    return "\n".join([f"{case}", report.verdict(), *failures])


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one thread is as fast when idle and far faster on a busy machine."""
    with one_thread():
        yield


@pytest.fixture
def every_framework() -> None:
    """Skip (with the reason) unless torch and scikit-learn are both here."""
    for name, reason in frameworks.availability().items():
        if reason is not None:
            pytest.skip(f"{name}: {reason}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.usefixtures("every_framework")
def test_correct_implementations_pass_every_stage(dtype):
    seen: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=cases(dtype))
    def check(case: Case) -> None:
        report = judged(case)
        seen["cases"] += 1
        seen[f"sklearn {report.runs['sklearn'].status}"] += 1
        seen[_batch_kind(case)] += 1
        if not report.passed:
            for excuse, applies in (("chaotic", chaotic), ("cancelling", cancelling)):
                if applies(case, report):
                    seen[excuse] += 1
                    return
        assert report.passed, describe(case, report)
        seen["passed"] += 1

    check()
    print(f"{dtype}: {dict(seen)}")  # shown with -s: what the budget covered
    assert seen["cases"] >= EXAMPLES and seen["passed"] >= MIN_PASSING, seen
    for kind in ("batch 1", "batch < data", "batch > data", "sklearn ok", "sklearn unsupported"):
        assert seen[kind] > 0, f"no case with {kind}: {seen}"
    assert seen["chaotic"] + seen["cancelling"] <= MAX_EXCUSED * seen["cases"], seen


def _batch_kind(case: Case) -> str:
    if case.spec.batch_size == 1:
        return "batch 1"
    return "batch > data" if case.spec.batch_size > case.n_train else "batch < data"


# --------------------------------------------------------------------------- the chaos measure

CHAOTIC = Case(  # found by the generator at lr up to 1: per-sample SGD through tanh at lr 0.89
    Spec(
        sizes=(6, 41, 2),
        activation="tanh",
        lr=0.8864442617082529,
        batch_size=1,
        epochs=3,
        seed=35076,
    ),
    n_train=81,
    n_test=30,
    data_seed=52229,
)


@pytest.mark.parametrize(
    ("lr", "at_least", "at_most"),
    [(CHAOTIC.spec.lr, 1e-3, np.inf), (0.05, 0.0, 1e-14)],
    ids=["chaotic-lr0.89", "calm-lr0.05"],
)
def test_sensitivity_separates_chaos_from_rounding(lr, at_least, at_most):
    """A 1-ulp nudge of the init: O(1) apart after 243 chaotic steps, ~1e-16 in a calm run."""
    X_train, y_train, _, _ = CHAOTIC.data()
    spec = CHAOTIC.spec.replace(lr=lr)
    divergence = sensitivity(spec, X_train, y_train, "train")
    assert at_least <= divergence <= at_most, f"lr {lr}: max|dW| {divergence:.3e}"


@pytest.mark.usefixtures("every_framework")
def test_a_chaotic_failure_is_recognised_as_chaos():
    """The judge fails the chaotic case at train_params, and the excuse applies to exactly it."""
    report = judged(CHAOTIC)
    failure = report.first_failure
    assert failure is not None and failure.stage == "train_params", report.verdict()
    assert chaotic(CHAOTIC, report), describe(CHAOTIC, report)
    calm = Case(CHAOTIC.spec.replace(lr=0.05), CHAOTIC.n_train, CHAOTIC.n_test, CHAOTIC.data_seed)
    assert judged(calm).passed


# --------------------------------------------------------------------------- known limits
# Cases where a correct implementation IS flagged today. The cancelling gradients above are
# recognised by measurement; this one is outside the regime, kept as a strict xfail that turns
# into a failure (to be moved above) once its cause is fixed.


CANCELLING = {  # found by the generators: the judge flags them at gradients today
    # 2 classes, 3 sigmoid layers on 3 features: the last layer's inputs are nearly constant,
    # so dW4 = sum over 119 digits of delta * A cancels to 1e-4 of its terms (2400x).
    "float32-dW4-cancels": Case(
        Spec(
            sizes=(3, 53, 52, 6, 2),
            bias=False,
            init="torch",
            dtype="float32",
            lr=0.5,
            batch_size=120,
            seed=14275,
            epochs=1,
        ),
        n_train=119,
        n_test=18,
        data_seed=230,
    ),
    # a dead relu layer: logits = b4 = 0, so db4 = mean(P - Y) over a class-balanced batch is
    # exactly 0: -6.9e-18 in the reference, 0 in torch, against a bound of 1e-12 * 6.9e-18.
    "float64-db4-is-zero": Case(
        Spec(
            sizes=(8, 43, 2, 16, 2),
            activation="relu",
            init="lecture",
            lr=0.18979015538188534,
            batch_size=24,
            epochs=3,
            seed=17002,
        ),
        n_train=64,
        n_test=22,
        data_seed=47454,
    ),
}


@pytest.mark.parametrize("case", CANCELLING.values(), ids=CANCELLING.keys())
@pytest.mark.usefixtures("every_framework")
def test_a_cancelling_gradient_is_recognised_as_rounding(case):
    """The judge's relative-only gradient tolerance flags these (a known limit: its scale is
    |result|, not the terms'); the errors are ~1 ulp of the terms' magnitudes."""
    report = judged(case)
    failure = report.first_failure
    assert failure is not None and failure.stage == "gradients", report.verdict()
    assert cancelling(case, report), describe(case, report)
    assert not chaotic(case, report)


@pytest.mark.xfail(
    strict=True,
    reason="training diverged (mean loss 13.8 >> log 4) at lr 0.99: a true-class probability "
    "fell below float64 eps, where scikit-learn's reported log-loss is clipped at -log(eps) by "
    "design (frameworks/sklearn_mlp.py); params agree to 1e-15. Outside MAX_LR",
)
@pytest.mark.usefixtures("every_framework")
def test_known_limit_sklearn_loss_clipped_when_training_diverges():
    case = Case(
        Spec(
            sizes=(3, 57, 4),
            activation="tanh",
            init="lecture",
            lr=0.9940875734551874,
            batch_size=33,
            epochs=2,
            seed=33880,
        ),
        n_train=74,
        n_test=23,
        data_seed=44213,
    )
    report = judged(case)
    assert report.passed, describe(case, report)
