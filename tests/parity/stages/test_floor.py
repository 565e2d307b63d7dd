"""The noise floor and the INDETERMINATE verdict, on planted cases whose outcome holds on every
machine: a witness that IS the reference started one ulp away (rounding, planted), and a
witness with a planted bug of known size."""

from __future__ import annotations

import numpy as np
import pytest

from frameworks.numpy_ref import NumpyMLP
from parity.compare import compare
from parity.judge import judge
from parity.report.model import Report
from parity.stages.floor import EXCUSABLE, MARGIN, NUDGES, Floor, nudged
from parity.tolerances import Tolerance
from reference.spec import Spec

# Found by the no-false-alarm generator: per-sample SGD through tanh at lr 0.89 amplifies a
# 1-ulp change of the initial weights to O(1) within its 243 steps (chaos), while at lr 0.05
# the same change stays at rounding.
CHAOTIC = Spec(
    sizes=(6, 41, 2), activation="tanh", lr=0.8864442617082529, batch_size=1, epochs=3, seed=35076
)
CALM = CHAOTIC.replace(lr=0.05)
N_TRAIN, N_TEST = 81, 30


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(52229)
    X, y = rng.random((N_TRAIN + N_TEST, 6)), rng.integers(0, 2, N_TRAIN + N_TEST)
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]


class StartsOneUlpAway(NumpyMLP):
    """The reference itself, every call starting from params moved one ulp: pure rounding."""

    name = "planted"

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def forward(self, spec, params, X):
        return super().forward(spec, nudged(params, self.seed), X)

    def gradients(self, spec, params, X, y):
        return super().gradients(spec, nudged(params, self.seed), X, y)

    def train(self, spec, params, X, y, orders, **kwargs):
        return super().train(spec, nudged(params, self.seed), X, y, orders, **kwargs)


class EndsOff(NumpyMLP):
    """The reference, except that full training ends with W1 moved by ``amount`` (a bug whose
    size is known): every stage before the full training agrees exactly."""

    name = "planted"

    def __init__(self, amount: float) -> None:
        self.amount = amount

    def train(self, spec, params, X, y, orders, **kwargs):
        trained, history = super().train(spec, params, X, y, orders, **kwargs)
        if kwargs.get("eval_data") is not None:  # the full training, not the k-step stages
            trained = dict(trained, W1=trained["W1"] + self.amount)
        return trained, history


def _judge(spec: Spec, data, planted, k_steps: int = 10) -> Report:
    X_train, y_train, X_test, y_test = data
    return judge(
        spec, X_train, y_train, X_test, y_test, names=["numpy"], loaded={"planted": planted},
        k_steps=k_steps,
    )  # fmt: skip


def test_one_ulp_apart_in_a_calm_run_passes_without_a_floor(data):
    report = _judge(CALM, data, StartsOneUlpAway(seed=100))
    assert report.status == "PASS", report.verdict()
    assert report.floor is None and report.exit_status == 0


@pytest.mark.parametrize("seed", [100, 101], ids=["nudge-100", "nudge-101"])
def test_one_ulp_apart_in_a_chaotic_run_is_indeterminate_never_fail(data, seed):
    """Rounding alone, planted: beyond the table after training, within the floor."""
    report = _judge(CHAOTIC, data, StartsOneUlpAway(seed))
    assert report.status == "INDETERMINATE", report.verdict()
    assert report.exit_status == 3 and report.first_failure is None
    assert report.floor is not None and report.floor.nudges == NUDGES
    excused = [s for s in report.stages if s.outcome == "indeterminate"]
    assert excused and all(s.stage in EXCUSABLE for s in excused)
    assert all(s.passed for s in report.stages if s.stage not in EXCUSABLE)
    line = report.verdict()
    assert line.startswith("INDETERMINATE: train_params (planted vs numpy)")
    assert "rounding alone grows to" in line and "parity held within the table through step" in line
    reached = report.floor.reached()
    assert reached is not None and reached[0] > 1e-3 and reached[1] == 243  # O(1): chaos
    held = report.held_through()
    assert held is not None and 0 < held < 243


def test_the_floor_and_where_parity_held_are_in_report_json(data):
    report = _judge(CHAOTIC, data, StartsOneUlpAway(seed=100))
    out = report.to_dict()
    assert out["verdict"]["status"] == "INDETERMINATE" and out["verdict"]["exit_status"] == 3
    assert out["verdict"]["first_failure"]["outcome"] == "indeterminate"
    assert out["verdict"]["held_through_step"] == report.held_through()
    floor = out["floor"]
    assert floor["nudges"] == NUDGES and floor["margin"] == MARGIN
    assert floor["stages"] and all(row["within"] for row in floor["stages"])
    assert all(len(row["values"]) == NUDGES for row in floor["stages"])
    assert len(floor["divergence"]["per_nudge"]) == NUDGES
    assert {s["outcome"] for s in out["stages"]} <= {"pass", "indeterminate"}


@pytest.mark.parametrize("spec", [CALM, CHAOTIC], ids=["calm", "chaotic"])
def test_a_bug_before_training_is_never_excused(data, spec):
    """A wrong update (lr 1% too large) fails at step, even where training is chaotic."""

    class LrOff(NumpyMLP):
        name = "planted"

        def train(self, spec_, params, X, y, orders, **kwargs):
            return super().train(spec_.replace(lr=spec_.lr * 1.01), params, X, y, orders, **kwargs)

    report = _judge(spec, data, LrOff())
    assert report.status == "FAIL" and report.first_failure is not None
    assert report.first_failure.stage == "step", report.verdict()
    assert report.floor is None  # a stage that is never excused failed: nothing measured


def test_a_bug_clearly_above_the_floor_fails(data):
    """In a calm run the floor is rounding (~1e-16): a 1e-6 error after training is a bug."""
    report = _judge(CALM, data, EndsOff(1e-6))
    assert report.status == "FAIL", report.verdict()
    assert report.first_failure is not None and report.first_failure.stage == "train_params"
    assert report.floor is not None  # measured, and it did not cover the error
    floor = report.floor.of("train_params", "W1")
    assert floor is not None and MARGIN * floor < 1e-6


def test_a_bug_within_a_saturated_floor_cannot_be_told_from_rounding(data):
    """Where rounding alone reaches O(1), a 1e-6 error is below what can be resolved: the
    honest verdict is INDETERMINATE, with where parity last held."""
    report = _judge(CHAOTIC, data, EndsOff(1e-6))
    assert report.status == "INDETERMINATE", report.verdict()


def test_nudged_moves_every_entry_exactly_one_ulp_both_ways():
    params = {"W1": np.linspace(-3, 3, 101).reshape(1, 101), "b1": np.array([0.0, 1.0])}
    for dtype in ("float64", "float32"):
        typed = {k: v.astype(dtype) for k, v in params.items()}
        moved = nudged(typed, seed=7)
        for key, value in typed.items():
            assert moved[key].dtype == value.dtype
            ulps = np.abs(moved[key] - value) / np.spacing(np.abs(value))
            assert np.allclose(ulps, 1.0, rtol=0, atol=0.5), key  # one ulp (half at a power of 2)
            ups = moved[key] > value
            assert 0 < ups.sum() < ups.size or ups.size < 4, key  # both directions drawn
        assert all(np.array_equal(moved[k], nudged(typed, seed=7)[k]) for k in typed)  # seeded


def _floor_with(stage: str, tensor: str, values: list[float]) -> Floor:
    return Floor(nudges=len(values), margin=MARGIN, values={(stage, tensor): values})


@pytest.mark.parametrize(
    ("stage", "observed", "covered"),
    [
        ("train_params", 4e-12, True),  # <= MARGIN x max
        ("train_params", 4.1e-12, False),
        ("steps", 2e-12, True),
        ("step", 1e-20, False),  # before training: never excused
        ("gradients", 0.0, False),
    ],
    ids=["at-margin", "above-margin", "steps", "step-never", "gradients-never"],
)
def test_floor_covers_within_margin_times_the_largest_nudge(stage, observed, covered):
    floor = _floor_with(stage, "W1", [1e-13, 1e-12, 5e-13])
    c = compare(
        [observed], [0.0], stage=stage, tensor="W1", dtype="float64", tol=Tolerance(0, 0, "t")
    )
    assert floor.covers(c) is covered


def test_prediction_flips_are_counted_against_the_nudges_flips():
    floor = _floor_with("predictions", "test predictions", [0.0, 2.0, 1.0])
    flips = np.zeros(10)
    flips[:8] = 1.0  # 8 of 10 predictions flip: 8 <= 4 x 2
    c = compare(
        flips, np.zeros(10), stage="predictions", tensor="test predictions", dtype="float64",
        tol=Tolerance(0, 0, "t"),
    )  # fmt: skip
    assert c.mismatched == 8 and floor.covers(c)
    flips[:] = 1.0  # 10 > 8
    c = compare(
        flips, np.zeros(10), stage="predictions", tensor="test predictions", dtype="float64",
        tol=Tolerance(0, 0, "t"),
    )  # fmt: skip
    assert not floor.covers(c)


def test_no_floor_no_excuse():
    c = compare([1.0], [0.0], stage="train_params", tensor="W9", dtype="float64")
    assert not _floor_with("train_params", "W1", [1.0]).covers(c)


def test_a_training_that_diverges_under_rounding_alone_is_indeterminate(data):
    """At lr 1e37 in float32 the weights overflow within a few steps whatever the rounding:
    every nudged run blows up too, so nothing after the first step can be judged."""
    spec = CHAOTIC.replace(dtype="float32", lr=1e37)
    with np.errstate(all="ignore"):
        report = _judge(spec, data, StartsOneUlpAway(seed=100))
    assert report.status == "INDETERMINATE", report.verdict()
    assert "rounding alone makes this training diverge" in report.verdict()
    assert all(s.passed for s in report.stages if s.stage not in EXCUSABLE)


class RaisesInTraining(NumpyMLP):
    """The reference, except that its full training raises (a witness that blows up)."""

    name = "planted"

    def train(self, spec, params, X, y, orders, **kwargs):
        if kwargs.get("eval_data") is not None:
            raise FloatingPointError("overflow in the update")
        return super().train(spec, params, X, y, orders, **kwargs)


def test_a_witness_whose_training_raises_where_the_reference_does_not_fails(data):
    report = _judge(CALM, data, RaisesInTraining())
    assert report.status == "FAIL", report.verdict()
    failure = report.first_failure
    assert failure is not None and failure.stage == "train_params"
    assert failure.worst is not None
    assert "planted raised FloatingPointError: overflow in the update" in failure.worst.message()
    assert report.floor is not None  # measured: the reference's nudged trainings completed
