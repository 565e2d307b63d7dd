"""The scikit-learn adapter's own traps: settings, in-place weights, layout, labels, private API.

Broad parity sweeps over all frameworks live in the generic parity tests; here each test pins
one thing this adapter owns, on small nets.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

pytestmark = pytest.mark.sklearn
sklearn = pytest.importorskip(
    "sklearn", reason="scikit-learn is not installed: pip install 'mlp-parity[sklearn]'"
)

from sklearn.neural_network import MLPClassifier  # noqa: E402

import frameworks  # noqa: E402
from frameworks.contract import Framework, FrameworkUnavailable, Params, StepCallback, Unsupported  # noqa: E402  # noqa: E402
from frameworks.sklearn_mlp import (  # noqa: E402
    SGDRun,
    SklearnMLP,
    backprop_dispatch,
    build_estimator,
    load_params,
    settings,
    targets,
    to_reference_layout,
    to_sklearn_layout,
)
from parity.compare import assert_close, assert_params_close  # noqa: E402
from parity.stages.plan import batch_plan  # noqa: E402
from reference import model  # noqa: E402
from reference.spec import Spec, lecture, standard  # noqa: E402
from reference.train import train as reference_train  # noqa: E402

SIZES = (12, 8, 6, 4)
ACTIVATIONS = ("sigmoid", "tanh", "relu")
DTYPES = ("float64", "float32")
N_SAMPLES = 50


@pytest.fixture
def fw() -> SklearnMLP:
    return SklearnMLP()


@pytest.fixture
def spec() -> Spec:
    return standard(sizes=SIZES, batch_size=8, epochs=3, seed=3)


@pytest.fixture
def data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """X (50, 12) in [0, 1) and labels (50,) over the 4 classes."""
    return rng.random((N_SAMPLES, SIZES[0])), rng.integers(0, SIZES[-1], N_SAMPLES)


def small(activation: str = "sigmoid", dtype: str = "float64", **changes: object) -> Spec:
    return standard(sizes=SIZES, activation=activation, dtype=dtype, seed=3, **changes)


# --------------------------------------------------------------------------- settings

# parameter -> (scikit-learn's default, the value for `spec` above); see settings' table.
OVERRIDES = {
    "solver": ("adam", "sgd"),
    "alpha": (1e-4, 0.0),
    "momentum": (0.9, 0.0),
    "nesterovs_momentum": (True, False),
    "shuffle": (True, False),
    "batch_size": ("auto", 8),
    "learning_rate_init": (0.001, 0.5),
    "max_iter": (200, 3),
    "tol": (1e-4, 0.0),
    "n_iter_no_change": (10, np.inf),
    "random_state": (None, 3),
    "hidden_layer_sizes": ((100,), (8, 6)),
    "activation": ("relu", "logistic"),
    # Already plain SGD by default, stated so a changed default cannot slip in:
    "learning_rate": ("constant", "constant"),
    "early_stopping": (False, False),
}


@pytest.mark.parametrize("name", sorted(OVERRIDES), ids=sorted(OVERRIDES))
def test_setting_in_effect(spec: Spec, name: str) -> None:
    default, wanted = OVERRIDES[name]
    assert MLPClassifier().get_params()[name] == default, f"{name}: scikit-learn's default moved"
    est = build_estimator(spec, model.init_params(spec))
    assert est.get_params()[name] == wanted, f"{name} is {est.get_params()[name]!r}"


def test_settings_table_is_complete(spec: Spec) -> None:
    assert set(settings(spec)) == set(OVERRIDES)


@pytest.mark.parametrize(
    ("activation", "expected"),
    [("sigmoid", "logistic"), ("tanh", "tanh"), ("relu", "relu")],
    ids=ACTIVATIONS,
)
def test_activation_mapping(activation: str, expected: str) -> None:
    spec = small(activation)
    est = build_estimator(spec, model.init_params(spec))
    assert est.activation == expected
    assert est.out_activation_ == "softmax", "n_classes > 2 must give a softmax output"


def test_optimizer_is_plain_sgd(spec: Spec) -> None:
    opt = build_estimator(spec, model.init_params(spec))._optimizer
    assert type(opt).__name__ == "SGDOptimizer"
    assert (opt.momentum, opt.nesterov, opt.lr_schedule) == (0.0, False, "constant")
    assert opt.learning_rate == spec.lr


# --------------------------------------------------------------------------- weights and layout


def test_weights_live_in_the_optimizers_arrays(
    spec: Spec, data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = data
    run = SGDRun(spec, model.init_params(spec))
    est = run.estimator
    held = list(run.params)
    assert all(a is b for a, b in zip(held, est.coefs_ + est.intercepts_, strict=True))
    before = est.coefs_[0].copy()
    run.step(X[:8], targets(est, y[:8]))
    assert all(a is b for a, b in zip(held, est.coefs_ + est.intercepts_, strict=True))
    assert not np.array_equal(est.coefs_[0], before), "the update missed the array forward reads"
    other = standard(sizes=SIZES, seed=11)
    load_params(spec, est, model.init_params(other))
    assert all(a is b for a, b in zip(held, est.coefs_ + est.intercepts_, strict=True))
    for key, value in model.init_params(other).items():
        np.testing.assert_array_equal(run.snapshot()[key], value, err_msg=key)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPES)
def test_transpose_round_trips_exactly(dtype: str) -> None:
    spec = small(dtype=dtype)
    params = model.init_params(spec)
    coefs, intercepts = to_sklearn_layout(spec, params)
    assert [c.shape for c in coefs] == [(12, 8), (8, 6), (6, 4)]  # (fan_in, fan_out)
    assert all(np.shares_memory(c, params[f"W{i + 1}"]) for i, c in enumerate(coefs))
    back = to_reference_layout(spec, coefs, intercepts)
    assert list(back) == list(params)
    for key, value in params.items():
        assert back[key].dtype == value.dtype and back[key].flags.c_contiguous, key
        np.testing.assert_array_equal(back[key], value, err_msg=key)
        assert not np.shares_memory(back[key], value), f"{key}: not a copy"


def test_layout_shape_is_asserted(spec: Spec) -> None:
    params = model.init_params(spec)
    params["W2"] = params["W2"].T.copy()
    with pytest.raises(AssertionError, match="W2"):
        to_sklearn_layout(spec, params)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPES)
def test_estimator_holds_the_spec_dtype(dtype: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    spec = small(dtype=dtype, batch_size=8, epochs=1)
    params = model.init_params(spec)
    est = build_estimator(spec, params)
    assert {a.dtype for a in est.coefs_ + est.intercepts_} == {np.dtype(dtype)}
    X, y = data
    fw = SklearnMLP()
    assert fw.forward(spec, params, X).dtype == np.dtype(dtype)
    assert {g.dtype for g in fw.gradients(spec, params, X, y).values()} == {np.dtype(dtype)}
    trained, _ = fw.train(spec, params, X, y, batch_plan(N_SAMPLES, 1, 0))
    assert {p.dtype for p in trained.values()} == {np.dtype(dtype)}


@pytest.mark.parametrize("params_dtype", DTYPES, ids=DTYPES)
def test_callers_arrays_are_never_modified(
    fw: SklearnMLP, data: tuple[np.ndarray, np.ndarray], params_dtype: str
) -> None:
    spec = small(batch_size=8, epochs=2)  # float64 params pass through as_params uncopied
    params = {k: v.astype(params_dtype) for k, v in model.init_params(spec).items()}
    X, y = data
    orders = batch_plan(N_SAMPLES, 2, 0)
    kept = (
        {k: v.copy() for k, v in params.items()},
        X.copy(),
        y.copy(),
        orders.copy(),
    )
    fw.forward(spec, params, X)
    fw.gradients(spec, params, X, y)
    fw.train(spec, params, X, y, orders, eval_data=(X, y), on_step=lambda s, snap: snap())
    for key, value in kept[0].items():
        np.testing.assert_array_equal(params[key], value, err_msg=key)
    np.testing.assert_array_equal(X, kept[1])
    np.testing.assert_array_equal(y, kept[2])
    np.testing.assert_array_equal(orders, kept[3])


# --------------------------------------------------------------------------- labels

LABEL_BATCHES = {
    "all": [0, 1, 2, 3],
    "missing-0-and-2": [3, 3, 1],
    "one-class": [2, 2],
    "only-last": [3],
    "reversed": [3, 2, 1, 0],
}


@pytest.mark.parametrize("labels", list(LABEL_BATCHES.values()), ids=list(LABEL_BATCHES))
def test_class_k_is_column_k(spec: Spec, labels: list[int]) -> None:
    est = build_estimator(spec, model.init_params(spec))
    y = np.array(labels, dtype=np.int64)
    Y = targets(est, y)
    assert Y.shape == (len(labels), spec.n_classes)
    np.testing.assert_array_equal(Y, model.one_hot(y, spec.n_classes).astype(bool))
    np.testing.assert_array_equal(est.classes_, np.arange(spec.n_classes))


def test_gradients_of_a_batch_missing_classes(
    fw: SklearnMLP, spec: Spec, data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, _ = data
    y = np.array([3, 1, 3, 3, 1], dtype=np.int64)  # classes 0 and 2 absent
    params = model.init_params(spec)
    expected = model.gradients(spec, params, X[:5], y)
    assert_params_close(
        fw.gradients(spec, params, X[:5], y),
        expected,
        stage="gradients",
        dtype=spec.dtype,
        pair=("sklearn", "numpy"),
    )


# --------------------------------------------------------------------------- agreement

CASES = [(a, d) for a in ACTIVATIONS for d in DTYPES]
CASE_IDS = [f"{a}-{d}" for a, d in CASES]


@pytest.mark.parametrize(("activation", "dtype"), CASES, ids=CASE_IDS)
def test_forward_is_the_references_softmax(
    fw: SklearnMLP, data: tuple[np.ndarray, np.ndarray], activation: str, dtype: str
) -> None:
    spec = small(activation, dtype)
    params = model.init_params(spec)
    X, _ = data
    probs = fw.forward(spec, params, X)
    assert probs.shape == (N_SAMPLES, spec.n_classes)
    expected = model.forward(spec, params, X)[0]
    assert_close(
        probs, expected, stage="forward", tensor="probs", dtype=dtype, pair=("sklearn", "numpy")
    )


@pytest.mark.parametrize(("activation", "dtype"), CASES, ids=CASE_IDS)
def test_gradients_equal_the_references(
    fw: SklearnMLP, data: tuple[np.ndarray, np.ndarray], activation: str, dtype: str
) -> None:
    spec = small(activation, dtype)
    params = model.init_params(spec)
    X, y = data
    grads = fw.gradients(spec, params, X, y)
    assert list(grads) == list(spec.param_keys())
    expected = model.gradients(spec, params, X, y)
    assert_params_close(grads, expected, stage="gradients", dtype=dtype, pair=("sklearn", "numpy"))


@pytest.mark.parametrize(("activation", "dtype"), CASES, ids=CASE_IDS)
def test_steps_equal_the_references(
    fw: SklearnMLP, data: tuple[np.ndarray, np.ndarray], activation: str, dtype: str
) -> None:
    # 50 samples at batch 8: 7 steps an epoch (the last of 2 samples), 21 in 3 epochs.
    spec = small(activation, dtype, batch_size=8, epochs=3)
    params = model.init_params(spec)
    X, y = data
    orders = batch_plan(N_SAMPLES, spec.epochs, spec.seed)
    seen: dict[str, dict[int, dict[str, np.ndarray]]] = {"sklearn": {}, "numpy": {}}

    def recorder(name: str) -> StepCallback:
        def on_step(step: int, snapshot: Callable[[], Params]) -> None:
            if step in (1, 20):
                seen[name][step] = snapshot()

        return on_step

    _, history = fw.train(spec, params, X, y, orders, eval_data=(X, y), on_step=recorder("sklearn"))
    _, expected = reference_train(
        spec, params, X, y, orders, eval_data=(X, y), on_step=recorder("numpy")
    )
    pair = ("sklearn", "numpy")
    assert_params_close(seen["sklearn"][1], seen["numpy"][1], stage="step", dtype=dtype, pair=pair)
    assert_params_close(
        seen["sklearn"][20], seen["numpy"][20], stage="steps", dtype=dtype, pair=pair
    )
    assert history.steps == expected.steps == 21
    assert len(history.seconds) == spec.epochs
    assert_close(
        history.loss, expected.loss, stage="train_loss", tensor="loss", dtype=dtype, pair=pair
    )
    assert_close(
        history.accuracy,
        expected.accuracy,
        stage="train_accuracy",
        tensor="accuracy",
        dtype=dtype,
        pair=pair,
    )


def test_on_step_counts_from_one_and_snapshots_copy(
    fw: SklearnMLP, spec: Spec, data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = data
    steps: list[int] = []
    snaps = []

    def on_step(step: int, snapshot: Callable[[], Params]) -> None:
        steps.append(step)
        snaps.append(snapshot())

    final, _ = fw.train(
        spec, model.init_params(spec), X, y, batch_plan(N_SAMPLES, 3, 0), on_step=on_step
    )
    assert steps == list(range(1, 22))
    assert not np.array_equal(snaps[0]["W1"], snaps[-1]["W1"]), "snapshots must be copies"
    for key in final:
        np.testing.assert_array_equal(snaps[-1][key], final[key], err_msg=key)


# --------------------------------------------------------------------------- unsupported

UNSUPPORTED = {
    "lecture": (lecture(sizes=SIZES), "log-loss"),
    "squared-error": (small(loss="squared_error"), "log-loss"),
    "diagonal": (small(loss="squared_error", softmax_grad="diagonal"), "diagonal"),
    "no-bias": (small(bias=False), "intercepts"),
    "two-classes": (standard(sizes=(12, 8, 2)), "one logistic output unit"),
}


@pytest.mark.parametrize("case", list(UNSUPPORTED), ids=list(UNSUPPORTED))
def test_unsupported_spec_says_why(
    fw: SklearnMLP, data: tuple[np.ndarray, np.ndarray], case: str
) -> None:
    spec, reason = UNSUPPORTED[case]
    assert reason in (fw.supports(spec) or "")
    params = model.init_params(spec)
    X, y = data[0], data[1] % spec.n_classes
    calls = {
        "forward": lambda: fw.forward(spec, params, X),
        "gradients": lambda: fw.gradients(spec, params, X, y),
        "train": lambda: fw.train(spec, params, X, y, batch_plan(N_SAMPLES, spec.epochs, 0)),
    }
    for call in calls.values():
        with pytest.raises(Unsupported, match=reason):
            call()


def test_lecture_gives_every_reason(fw: SklearnMLP) -> None:
    reason = fw.supports(lecture(sizes=SIZES)) or ""
    assert all(part in reason for part in ("log-loss", "diagonal", "intercepts")), reason


@pytest.mark.parametrize(("activation", "dtype"), CASES, ids=CASE_IDS)
def test_standard_is_supported(fw: SklearnMLP, activation: str, dtype: str) -> None:
    assert fw.supports(small(activation, dtype)) is None


# --------------------------------------------------------------------------- private signature


def _version() -> tuple[int, int]:
    major, minor = sklearn.__version__.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()))


def test_installed_backprop_branch(fw: SklearnMLP) -> None:
    expected = "sample_weight" if _version() >= (1, 7) else "no sample_weight"
    assert fw.backprop_branch == expected, sklearn.__version__
    assert SGDRun(small(), model.init_params(small())).branch == expected


def _fake_old(X, y, activations, deltas, coef_grads, intercept_grads):
    return ("old", X, y, activations, deltas, coef_grads, intercept_grads)


def _fake_new(X, y, sample_weight, activations, deltas, coef_grads, intercept_grads):
    return ("new", X, y, sample_weight, activations, deltas, coef_grads, intercept_grads)


def _fake_other(X, y, sample_weight, activations, deltas, grads):
    raise AssertionError("never called")


@pytest.mark.parametrize(
    ("method", "branch", "called"),
    [
        (_fake_old, "no sample_weight", ("old", "X", "Y", "a", "d", "cg", "ig")),
        (_fake_new, "sample_weight", ("new", "X", "Y", None, "a", "d", "cg", "ig")),
    ],
    ids=["1.5-1.6", "1.7-1.9"],
)
def test_backprop_dispatch(method, branch: str, called: tuple) -> None:
    got_branch, call = backprop_dispatch(method)
    assert got_branch == branch
    assert call("X", "Y", "a", "d", "cg", "ig") == called


def test_unknown_backprop_signature_is_unavailable() -> None:
    with pytest.raises(FrameworkUnavailable, match="needs checking"):
        backprop_dispatch(_fake_other)


# --------------------------------------------------------------------------- bad input

BAD_INPUT = {
    "X-wrong-width": ("gradients", lambda X, y, p, o: (X[:, :5], y, p, o)),
    "X-nan": ("forward", lambda X, y, p, o: (np.where(X > 0.9, np.nan, X), y, p, o)),
    "y-out-of-range": ("gradients", lambda X, y, p, o: (X, y + 4, p, o)),
    "y-float": ("train", lambda X, y, p, o: (X, y.astype(float), p, o)),
    "y-wrong-length": ("train", lambda X, y, p, o: (X, y[:-1], p, o)),
    "params-missing-key": ("forward", lambda X, y, p, o: (X, y, {"W1": p["W1"]}, o)),
    "params-transposed": ("gradients", lambda X, y, p, o: (X, y, {**p, "W1": p["W1"].T}, o)),
    "orders-wrong-epochs": ("train", lambda X, y, p, o: (X, y, p, o[:1])),
    "orders-out-of-range": ("train", lambda X, y, p, o: (X, y, p, o + N_SAMPLES)),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_raises_the_references_error(
    fw: SklearnMLP, spec: Spec, data: tuple[np.ndarray, np.ndarray], case: str
) -> None:
    method, spoil = BAD_INPUT[case]
    X, y, params, orders = spoil(*data, model.init_params(spec), batch_plan(N_SAMPLES, 3, 0))
    reference = {
        "forward": lambda: model.forward(spec, params, X),
        "gradients": lambda: model.gradients(spec, params, X, y),
        "train": lambda: reference_train(spec, params, X, y, orders),
    }[method]
    with pytest.raises(ValueError) as expected:
        reference()
    ours = {
        "forward": lambda: fw.forward(spec, params, X),
        "gradients": lambda: fw.gradients(spec, params, X, y),
        "train": lambda: fw.train(spec, params, X, y, orders),
    }[method]
    with pytest.raises(ValueError) as raised:
        ours()
    assert str(raised.value) == str(expected.value)


# --------------------------------------------------------------------------- registry


def test_registry_and_protocol(fw: SklearnMLP) -> None:
    loaded = frameworks.load("sklearn")
    assert isinstance(loaded, SklearnMLP) and isinstance(loaded, Framework)
    assert loaded.name == "sklearn"
    assert set(fw.versions()) >= {"scikit-learn", "scipy"}
    assert fw.versions()["scikit-learn"] == sklearn.__version__
