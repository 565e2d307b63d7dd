"""Finite differences against backprop: is every gradient the loss's gradient?

The grid runs every hidden activation x loss x dtype x depth on small nets, each within the
table's ``gradcheck`` tolerance (CS231n's relative error, per entry). The lecture preset's
``diagonal`` softmax derivative is the one that must FAIL, clearly and with the parameter named.
"""

from __future__ import annotations

import numpy as np
import pytest

from parity.tolerances import tolerance
from reference import gradcheck, gradients, init_params
from reference.gradcheck import GradCheck, check_entries, rel_error
from reference.spec import Spec, lecture, standard

ACTIVATIONS = ("sigmoid", "tanh", "relu")
LOSSES = ("cross_entropy", "squared_error")  # squared error with the true (jacobian) softmax
DTYPES = ("float64", "float32")
DEPTHS = (1, 2, 3)  # hidden layers
GRID = [(a, lo, d, h) for a in ACTIVATIONS for lo in LOSSES for d in DTYPES for h in DEPTHS]


def small_spec(activation: str, loss: str, dtype: str, depth: int) -> Spec:
    sizes = (5, *([4] * depth), 3)
    return standard(sizes=sizes, activation=activation, loss=loss, dtype=dtype)


def batch(spec: Spec, rng: np.random.Generator, n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((n, spec.n_features)), rng.integers(0, spec.n_classes, n)


def report(check: GradCheck) -> str:
    return "; ".join(
        f"{r.key}: {r.max_rel_error:.1e} at {list(r.index)} ({r.n_checked}/{r.n_entries})"
        for r in check.params
    )


@pytest.mark.parametrize(
    ("activation", "loss", "dtype", "depth"),
    GRID,
    ids=[f"{a}-{lo}-{d}-{h}hidden" for a, lo, d, h in GRID],
)
def test_gradcheck_grid(
    activation: str, loss: str, dtype: str, depth: int, rng: np.random.Generator
) -> None:
    spec = small_spec(activation, loss, dtype, depth)
    X, y = batch(spec, rng)
    check = gradcheck(spec, init_params(spec), X, y)
    tol = tolerance("gradcheck", dtype).rtol
    assert [r.key for r in check.params] == list(spec.param_keys()), "not every param checked"
    assert check.passed(tol), "\n".join(check.failures(tol)) + f"\n{report(check)}"
    for r in check.params:
        # relu may skip entries whose stencil crosses a kink, but never all of them.
        assert r.n_checked >= 1, f"{r.key}: no entry checked ({r.n_kinks} kinks)"
        assert r.n_checked + r.n_kinks == r.n_entries, f"{r.key}: entries lost: {r}"


PRESET_CASES = {
    "standard": standard(sizes=(6, 5, 4, 3)),
    "standard-no-bias": standard(sizes=(6, 5, 4, 3), bias=False),
    "lecture-jacobian": lecture(sizes=(6, 5, 4, 3), softmax_grad="jacobian"),
    "lecture-jacobian-784-128-64-10": lecture(softmax_grad="jacobian"),
}


@pytest.mark.parametrize("name", list(PRESET_CASES), ids=list(PRESET_CASES))
def test_presets_gradients_are_right(name: str, rng: np.random.Generator) -> None:
    spec = PRESET_CASES[name]
    X = rng.random((3, spec.n_features))
    y = rng.integers(0, spec.n_classes, 3)
    check = gradcheck(spec, init_params(spec), X, y, max_entries=40)
    tol = tolerance("gradcheck", "float64").rtol  # 1e-7: CS231n's "the gradient is right"
    assert check.passed(tol), "\n".join(check.failures(tol))
    assert check.worst.max_rel_error <= 1e-7, report(check)


DIAGONAL_CASES = {
    "lecture-diagonal-6-5-4-3": lecture(sizes=(6, 5, 4, 3)),
    "lecture-diagonal-784-128-64-10": lecture(),
}


@pytest.mark.parametrize("name", list(DIAGONAL_CASES), ids=list(DIAGONAL_CASES))
def test_lecture_diagonal_fails_the_check(name: str, rng: np.random.Generator) -> None:
    # The material's a (1 - a) is only the softmax Jacobian's diagonal: not the gradient.
    spec = DIAGONAL_CASES[name]
    X = rng.random((3, spec.n_features))
    y = rng.integers(0, spec.n_classes, 3)
    check = gradcheck(spec, init_params(spec), X, y, max_entries=40)
    tol = tolerance("gradcheck", "float64").rtol
    assert not check.passed(tol), f"the diagonal derivative passed the check: {report(check)}"
    last = next(r for r in check.params if r.key == f"W{spec.n_layers}")
    assert 0.05 <= last.max_rel_error <= 1.0, f"output layer error not of order 1e-1: {last}"
    failures = check.failures(tol)
    assert any(line.startswith(f"gradcheck W{spec.n_layers}[") for line in failures), failures
    # Every layer below inherits the wrong output delta.
    failed = {line.split("[")[0].split()[-1] for line in failures}
    assert failed == set(spec.param_keys()), f"failing params {failed}: {failures}"


def test_diagonal_failure_message_is_informative(rng: np.random.Generator) -> None:
    spec = lecture(sizes=(6, 5, 4, 3))
    X = rng.random((3, 6))
    y = np.array([0, 2, 1])
    check = gradcheck(spec, init_params(spec), X, y)
    tol = tolerance("gradcheck", "float64").rtol
    last = check.params[-1]
    line = next(f for f in check.failures(tol) if f.startswith("gradcheck W3"))
    # Names the parameter and entry, both values, the error and the tolerance.
    for fragment in (
        f"gradcheck W3{list(last.index)}",
        f"backprop {last.analytic:.6e}",
        f"finite difference {last.numeric:.6e}",
        f"relative error {last.max_rel_error:.2e}",
        "> tolerance 1e-07",
    ):
        assert fragment in line, f"failure line {line!r} lacks {fragment!r}"
    # The same entry under the true derivative agrees with the same finite difference.
    true = gradients(spec.replace(softmax_grad="jacobian"), init_params(spec), X, y)
    err = rel_error(np.array(true["W3"][last.index]), np.array(last.numeric))
    assert err <= tol, f"jacobian W3{list(last.index)} {true['W3'][last.index]} vs {last.numeric}"


def test_large_layers_are_checked_on_a_seeded_subset(rng: np.random.Generator) -> None:
    spec = standard(sizes=(30, 20, 3))
    params = init_params(spec)
    X, y = batch(spec, rng)
    one = gradcheck(spec, params, X, y, max_entries=50, seed=7)
    again = gradcheck(spec, params, X, y, max_entries=50, seed=7)
    counts = {r.key: (r.n_checked, r.n_entries) for r in one.params}
    assert counts == {"W1": (50, 600), "b1": (20, 20), "W2": (50, 60), "b2": (3, 3)}, counts
    same = [(r.key, r.index, r.max_rel_error, r.analytic, r.numeric) for r in one.params]
    assert same == [(r.key, r.index, r.max_rel_error, r.analytic, r.numeric) for r in again.params]
    subset = check_entries(600, 50, np.random.default_rng(7))
    assert np.array_equal(subset, np.unique(subset)) and subset.size == 50, subset
    assert not np.array_equal(subset, check_entries(600, 50, np.random.default_rng(8))), (
        "another seed should draw another subset"
    )
    assert np.array_equal(check_entries(20, 50, rng), np.arange(20)), "small params: all entries"


def test_relu_kinks_are_skipped_and_counted() -> None:
    # Hidden unit 0's pre-activation is 1e-4 for the only sample: nudging W1[0, 0] by up to
    # 3 eps = 9e-3 crosses 0, so that entry (and others moving unit 0 across) is skipped.
    spec = standard(sizes=(2, 2, 2), activation="relu")
    params = {
        "W1": np.array([[1.0, 0.0], [0.5, 0.5]]),
        "b1": np.array([-0.9999, 0.0]),
        "W2": np.array([[1.0, -1.0], [-1.0, 1.0]]),
        "b2": np.zeros(2),
    }
    check = gradcheck(spec, params, np.array([[1.0, 1.0]]), np.array([1]))
    by_key = {r.key: r for r in check.params}
    assert by_key["W1"].n_kinks >= 1 and by_key["b1"].n_kinks >= 1, report(check)
    assert check.passed(tolerance("gradcheck", "float64").rtol), report(check)


def test_gradcheck_leaves_params_alone(rng: np.random.Generator) -> None:
    spec = standard(sizes=(5, 4, 3), dtype="float32")
    params = init_params(spec)
    before = {k: v.copy() for k, v in params.items()}
    gradcheck(spec, params, *batch(spec, rng))
    for key, value in params.items():
        assert value.dtype == np.float32, f"{key} dtype became {value.dtype}"
        assert np.array_equal(value, before[key]), f"gradcheck modified params[{key!r}]"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(0.0, 0.0, 0.0), (1.0, -1.0, 1.0), (2.0, 1.0, 1 / 3), (1e-300, 0.0, 1.0)],
    ids=["both-zero", "opposite", "one-third", "tiny-vs-zero"],
)
def test_rel_error_is_cs231n(a: float, b: float, expected: float) -> None:
    got = float(rel_error(np.array(a), np.array(b)))
    assert got == expected, f"rel_error({a}, {b}) = {got}, want {expected}"
