"""No false alarms: correct implementations never FAIL, on generated models and data.

Hypothesis draws the model (1-4 hidden layers of 1-64 units, activation, loss and softmax
derivative, biases, init scheme), the SGD settings (batch sizes 1, in between and larger than
the data; learning rate; epochs; seed) and small synthetic data; the judge then runs the numpy
reference, torch and scikit-learn (where it can express the spec), and JAX on every tenth
case, through every stage under the one tolerance table. Derandomized with a fixed example
budget: the same cases every run.

Two regimes the judge itself tells apart from a disagreement, so nothing is excused here:

- chaos: per-sample SGD at lr 0.3-0.5 through tanh/relu layers amplifies rounding ~10x every
  few dozen steps. The judge measures the reference's own drift under 1-ulp nudges of its
  initial weights, inputs and activations (parity/stages/floor.py) and says INDETERMINATE
  when the witnesses are within it: counted here, and held to a small minority (MAX_INDETERMINATE).
- cancellation: a gradient entry whose terms cancel (a class-balanced batch, nearly constant
  features, a dead relu layer) is held to the rounding of its terms' magnitudes, not of the
  result (parity/stages/conditioning.py).

Learning rates go up to MAX_LR = 0.5, beyond which these tiny random-label problems diverge;
the sweep in benchmarks/sweep_verdicts.py covers lr up to 100 on MNIST.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import frameworks
from frameworks import REFERENCE
from parity.judge import judge
from parity.report.model import Report
from parity.selftest.runner import one_thread
from reference.spec import ACTIVATION_NAMES, INIT_NAMES, Spec

EXAMPLES = 340  # per dtype, so that at least MIN_PASSING pass outright
MIN_PASSING = 300  # issue 7: no false alarm over at least 300 float64 and 300 float32 cases
DTYPES = ("float64", "float32")
MAX_LR = 0.5  # the regime: see the module docstring
# Hypothesis clusters examples around interesting ones: with other seeds, 0-4% of 300 cases
# were chaotic, so a tenth is a guard, not a target.
MAX_INDETERMINATE = 0.10  # at most this share of the cases may be INDETERMINATE


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


# The witnesses every case needs; JAX, where installed, judges every JAX_EVERY-th case too:
# it compiles 4-5 functions for each new spec (about 1.7 s a case against 0.1-0.4 s for the
# whole judgement without it), which over 680 cases added some 20 CPU-minutes to the suite.
# Its parity on generated specs is also held by tests/parity/test_agreement.py.
WITNESSES = ("torch", "sklearn")
JAX_EVERY = 10


def judged(case: Case, with_jax: bool = False) -> Report:
    X_train, y_train, X_test, y_test = case.data()
    extra = ("jax",) if with_jax and frameworks.availability().get("jax") is None else ()
    names = (REFERENCE, *WITNESSES, *extra)
    return judge(case.spec, X_train, y_train, X_test, y_test, names=names)


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
        if name in WITNESSES and reason is not None:
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
        report = judged(case, with_jax=seen["cases"] % JAX_EVERY == 0)
        seen["cases"] += 1
        seen[f"sklearn {report.runs['sklearn'].status}"] += 1
        seen[_batch_kind(case)] += 1
        assert report.status in ("PASS", "INDETERMINATE"), describe(case, report)
        seen[report.status] += 1

    check()
    print(f"{dtype}: {dict(seen)}")  # shown with -s: what the budget covered
    assert seen["cases"] >= EXAMPLES and seen["PASS"] >= MIN_PASSING, seen
    for kind in ("batch 1", "batch < data", "batch > data", "sklearn ok", "sklearn unsupported"):
        assert seen[kind] > 0, f"no case with {kind}: {seen}"
    assert seen["INDETERMINATE"] <= MAX_INDETERMINATE * seen["cases"], seen


def _batch_kind(case: Case) -> str:
    if case.spec.batch_size == 1:
        return "batch 1"
    return "batch > data" if case.spec.batch_size > case.n_train else "batch < data"


# --------------------------------------------------------------------------- diverging training


@pytest.mark.usefixtures("every_framework")
def test_diverging_training_is_judged_on_the_unclipped_loss():
    """Training diverges (mean loss 13.8 >> log 4) at lr 0.99: true-class probabilities fall
    below float64 eps, where scikit-learn's own log-loss clips at -log(eps). Its adapter
    reports the plain cross-entropy from its own logits, as the contract says, so the loss
    curves agree as the weights do (frameworks/sklearn_mlp.py, SGDRun.unclipped_loss)."""
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
    assert report.runs["sklearn"].status == "ok"
    assert report.status in ("PASS", "INDETERMINATE"), describe(case, report)
    assert max(report.runs["numpy"].history.loss) > 10  # diverged: the clip would show
