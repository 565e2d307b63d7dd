"""The SGD loop: it follows the given batch order exactly, keeps the last partial batch, records
the history it promises, leaves its inputs alone, and its per-sample fast path (batch size 1,
``reference/persample.py``) equals the vectorized math applied one sample at a time."""

from __future__ import annotations

import numpy as np
import pytest

from parity.compare import assert_close, assert_params_close
from parity.stages.plan import batch_plan
from reference import batches, forward, gradients, init_params, loss, predict, sgd_step, train
from reference.spec import Spec, lecture, standard

N_SAMPLES = 10
N_FEATURES = 6


def data(rng: np.random.Generator, n: int = N_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    return rng.random((n, N_FEATURES)), rng.integers(0, 3, n)


def small(batch_size: int, **changes: object) -> Spec:
    fields = dict(sizes=(N_FEATURES, 5, 4, 3), batch_size=batch_size, epochs=1, lr=0.3)
    fields.update(changes)
    return standard(**fields)


def by_hand(spec: Spec, params: dict, X: np.ndarray, y: np.ndarray, orders: list) -> tuple:
    """``gradients`` + ``sgd_step`` over the batches of each epoch's order, and the history:
    per epoch the size-weighted mean of the batch losses before each update."""
    p = dict(params)
    losses = []
    for order in orders:
        total = 0.0
        for idx in batches(np.asarray(order), spec.batch_size):
            total += loss(spec, p, X[idx], y[idx]) * idx.size
            p = sgd_step(p, gradients(spec, p, X[idx], y[idx]), spec.lr)
        losses.append(total / len(order))
    return p, losses


ORDERS = {
    "dataset-order": lambda n: np.arange(n),
    "reversed": lambda n: np.arange(n)[::-1],
    "only-some-samples": lambda n: np.array([3, 1, 4]),
    "with-repeats": lambda n: np.array([2, 2, 0, 2, 7]),
    "shuffled": lambda n: batch_plan(n, 1, seed=3)[0],
}
BATCH_SIZES = {"per-sample": 1, "batch-3": 3, "batch-4": 4, "one-batch": 32}


@pytest.mark.parametrize("batch_size", list(BATCH_SIZES.values()), ids=list(BATCH_SIZES))
@pytest.mark.parametrize("order", list(ORDERS), ids=list(ORDERS))
def test_follows_the_given_order(order: str, batch_size: int, rng: np.random.Generator) -> None:
    spec = small(batch_size)
    params = init_params(spec)
    X, y = data(rng)
    orders = [ORDERS[order](N_SAMPLES)]
    got, history = train(spec, params, X, y, orders)
    expected, losses = by_hand(spec, params, X, y, orders)
    assert_params_close(got, expected, stage="steps", dtype="float64", pair=("train", "by hand"))
    assert history.steps == len(batches(orders[0], batch_size)), f"steps {history.steps}"
    assert_close(
        history.loss,
        losses,
        stage="train_loss",
        tensor="history.loss",
        dtype="float64",
        pair=("train", "by hand"),
    )


def test_order_matters(rng: np.random.Generator) -> None:
    # A check that the comparisons above can fail: another order gives other weights.
    spec = small(1)
    params = init_params(spec)
    X, y = data(rng)
    forward_order, _ = train(spec, params, X, y, [np.arange(N_SAMPLES)])
    reversed_order, _ = train(spec, params, X, y, [np.arange(N_SAMPLES)[::-1]])
    diff = np.abs(forward_order["W1"] - reversed_order["W1"]).max()
    assert diff > 1e-6, f"dataset and reversed order gave W1 only {diff:.1e} apart"


def test_none_is_dataset_order_every_epoch(rng: np.random.Generator) -> None:
    spec = small(4, epochs=3)
    params = init_params(spec)
    X, y = data(rng)
    got, _ = train(spec, params, X, y)
    expected, _ = train(spec, params, X, y, [np.arange(N_SAMPLES)] * 3)
    assert_params_close(got, expected, stage="steps", dtype="float64", pair=("None", "arange"))


def test_batch_plan_array_is_accepted(rng: np.random.Generator) -> None:
    spec = small(3, epochs=2)
    params = init_params(spec)
    X, y = data(rng)
    plan = batch_plan(N_SAMPLES, 2, seed=spec.seed)  # (2, n) int64
    got, _ = train(spec, params, X, y, plan)
    expected, _ = by_hand(spec, params, X, y, list(plan))
    assert_params_close(got, expected, stage="steps", dtype="float64", pair=("train", "by hand"))


@pytest.mark.parametrize("batch_size", [1, 4], ids=["per-sample", "vectorized"])
def test_last_partial_batch_is_kept(batch_size: int, rng: np.random.Generator) -> None:
    spec = small(batch_size)
    params = init_params(spec)
    X, y = data(rng)
    assert [b.size for b in batches(np.arange(10), 4)] == [4, 4, 2], "batches of 10 by 4"
    seen: list[int] = []
    got, history = train(spec, params, X, y, on_step=lambda step, snap: seen.append(step))
    n_steps = -(-N_SAMPLES // batch_size)
    assert seen == list(range(1, n_steps + 1)), f"on_step saw steps {seen}"
    assert history.steps == n_steps, f"{history.steps} steps, want {n_steps}"
    without_tail, _ = train(spec, params, X, y, [np.arange(8)])
    assert not np.allclose(got["W1"], without_tail["W1"]), "the last 2 samples changed nothing"


def test_history_loss_is_weighted_mean_of_pre_update_losses(rng: np.random.Generator) -> None:
    # 10 samples by 4: batches of 4, 4, 2; the epoch loss weighs each batch by its size.
    spec = small(4, epochs=2)
    params = init_params(spec)
    X, y = data(rng)
    orders = [np.arange(N_SAMPLES), np.arange(N_SAMPLES)[::-1]]
    _, history = train(spec, params, X, y, orders)
    p = dict(params)
    for epoch, order in enumerate(orders):
        parts = []
        for idx in batches(order, 4):
            parts.append((loss(spec, p, X[idx], y[idx]), idx.size))
            p = sgd_step(p, gradients(spec, p, X[idx], y[idx]), spec.lr)
        expected = sum(value * size for value, size in parts) / N_SAMPLES
        assert_close(
            history.loss[epoch],
            expected,
            stage="train_loss",
            tensor=f"history.loss[{epoch}]",
            dtype="float64",
        )
        unweighted = np.mean([value for value, _ in parts])
        assert abs(expected - unweighted) > 1e-9, "the test should tell weighted from unweighted"


@pytest.mark.parametrize("batch_size", [1, 4], ids=["per-sample", "vectorized"])
def test_accuracy_per_epoch_with_eval_data(batch_size: int, rng: np.random.Generator) -> None:
    spec = small(batch_size, epochs=3, lr=2.0)
    params = init_params(spec)
    X, y = data(rng, 30)
    X_eval, y_eval = data(rng, 17)
    _, history = train(spec, params, X, y, eval_data=(X_eval, y_eval))
    p, expected = dict(params), []
    for _ in range(3):
        p, _ = train(spec.replace(epochs=1), p, X, y)
        expected.append(float((predict(spec, p, X_eval) == y_eval).mean()))
    assert history.accuracy == expected, f"accuracy {history.accuracy}, want {expected}"
    assert len(history.loss) == len(history.seconds) == 3, history
    assert all(s >= 0 for s in history.seconds), f"seconds {history.seconds}"


def test_no_eval_data_no_accuracy(rng: np.random.Generator) -> None:
    _, history = train(small(4, epochs=2), init_params(small(4)), *data(rng))
    assert history.accuracy == [], f"accuracy without eval data: {history.accuracy}"
    assert len(history.loss) == 2, f"loss per epoch: {history.loss}"


@pytest.mark.parametrize("batch_size", [1, 4], ids=["per-sample", "vectorized"])
def test_inputs_are_not_modified(batch_size: int, rng: np.random.Generator) -> None:
    spec = small(batch_size, epochs=2)
    params = init_params(spec)
    before = {k: v.copy() for k, v in params.items()}
    X, y = data(rng)
    X_before, y_before = X.copy(), y.copy()
    got, _ = train(spec, params, X, y)
    for key in params:
        assert np.array_equal(params[key], before[key]), f"train modified params[{key!r}]"
        assert not np.shares_memory(got[key], params[key]), f"result {key} aliases the input"
    assert np.array_equal(X, X_before) and np.array_equal(y, y_before), "train modified X or y"


def test_sgd_step_leaves_its_inputs_alone(rng: np.random.Generator) -> None:
    spec = small(4)
    params = init_params(spec)
    grads = gradients(spec, params, *data(rng))
    before = {k: v.copy() for k, v in params.items()}
    grads_before = {k: v.copy() for k, v in grads.items()}
    new = sgd_step(params, grads, 0.1)
    for key in params:
        assert np.array_equal(params[key], before[key]), f"sgd_step modified params[{key!r}]"
        assert np.array_equal(grads[key], grads_before[key]), f"sgd_step modified grads[{key!r}]"
        assert_close(
            new[key],
            before[key] - 0.1 * grads_before[key],
            stage="step",
            tensor=key,
            dtype="float64",
        )


@pytest.mark.parametrize("batch_size", [1, 4], ids=["per-sample", "vectorized"])
def test_on_step_snapshots_are_copies(batch_size: int, rng: np.random.Generator) -> None:
    spec = small(batch_size)
    params = init_params(spec)
    X, y = data(rng)
    snapshots: dict[int, dict] = {}

    def on_step(step: int, snapshot) -> None:
        if step in (1, 2):
            snapshots[step] = snapshot()
            snapshots[step]["W1"][...] = 99.0  # must not reach the loop's own weights
            snapshots[step] = snapshot()

    got, _ = train(spec, params, X, y, on_step=on_step)
    expected, _ = by_hand(spec, params, X, y, [np.arange(N_SAMPLES)])
    assert_params_close(got, expected, stage="steps", dtype="float64", pair=("train", "by hand"))
    first, _ = by_hand(spec, params, X, y, [np.arange(batch_size)])
    assert_params_close(
        snapshots[1], first, stage="steps", dtype="float64", pair=("snapshot at step 1", "by hand")
    )


# ------------------------------------------------------------------ per-sample path == vectorized

LOSS_VARIANTS = {
    "cross_entropy": {"loss": "cross_entropy"},
    "squared-jacobian": {"loss": "squared_error", "softmax_grad": "jacobian"},
    "squared-diagonal": {"loss": "squared_error", "softmax_grad": "diagonal"},
}
INPUTS = {
    "no-zeros": lambda rng: rng.random((12, 8)) + 0.1,
    # ~80% zeros like MNIST, and one row that is all zeros (no input row is read at all).
    "many-zeros": lambda rng: (
        np.where(rng.random((12, 8)) < 0.8, 0.0, rng.random((12, 8)))
        * (np.arange(12) != 5)[:, None]
    ),
}
SAMPLE_CASES = [
    (depth, act, bias, loss_name, inputs)
    for depth in (0, 1, 2, 3)  # 0: no hidden layer, softmax straight on the inputs
    for act in (("sigmoid",) if depth == 0 else ("sigmoid", "tanh", "relu"))
    for bias in (True, False)
    for loss_name in LOSS_VARIANTS
    for inputs in INPUTS
]


@pytest.mark.parametrize(
    ("depth", "activation", "bias", "loss_name", "inputs"),
    SAMPLE_CASES,
    ids=[f"{d}hidden-{a}-{'bias' if b else 'nobias'}-{lo}-{i}" for d, a, b, lo, i in SAMPLE_CASES],
)
def test_per_sample_path_equals_vectorized_one_at_a_time(
    depth: int, activation: str, bias: bool, loss_name: str, inputs: str, rng: np.random.Generator
) -> None:
    spec = standard(
        sizes=(8, *([6] * depth), 4),
        activation=activation,
        bias=bias,
        batch_size=1,
        epochs=2,
        lr=0.2,
        **LOSS_VARIANTS[loss_name],
    )
    params = init_params(spec)
    X = INPUTS[inputs](rng)
    y = rng.integers(0, 4, 12)
    orders = [np.arange(12), rng.permutation(12)]
    got, history = train(spec, params, X, y, orders)  # batch size 1: SampleStepper
    expected, losses = by_hand(spec, params, X, y, orders)  # (1, n) batches through the model
    assert_params_close(
        got, expected, stage="steps", dtype="float64", pair=("per-sample", "vectorized")
    )
    assert_close(
        history.loss,
        losses,
        stage="train_loss",
        tensor="history.loss",
        dtype="float64",
        pair=("per-sample", "vectorized"),
    )


# ------------------------------------------------------------------ float32

F32_CASES = {
    "standard-per-sample": small(1, dtype="float32"),
    "standard-vectorized": small(4, dtype="float32"),
    "lecture-per-sample": lecture(sizes=(N_FEATURES, 5, 4, 3), epochs=1, dtype="float32"),
}


@pytest.mark.parametrize("name", list(F32_CASES), ids=list(F32_CASES))
def test_float32_stays_float32(name: str, rng: np.random.Generator) -> None:
    spec = F32_CASES[name]
    params = init_params(spec)
    X, y = data(rng)  # float64 inputs are cast to the spec's dtype
    assert all(v.dtype == np.float32 for v in params.values()), "init_params float32"
    P, cache = forward(spec, params, X)
    grads = gradients(spec, params, X, y)
    got, history = train(spec, params, X, y, on_step=lambda step, snap: None)
    assert P.dtype == np.float32, f"forward gave {P.dtype}"
    for l, (Z, A) in enumerate(zip(cache.Z.values(), list(cache.A.values())[1:], strict=True)):
        assert (Z.dtype, A.dtype) == (np.float32, np.float32), f"layer {l + 1}: {Z.dtype}"
    for key in spec.param_keys():
        assert grads[key].dtype == np.float32, f"d{key} is {grads[key].dtype}"
        assert got[key].dtype == np.float32, f"trained {key} is {got[key].dtype}"
    assert np.isfinite(history.loss).all(), f"history.loss {history.loss}"
    # And it trains the same as float64 from the same (rounded) start, within float32's table.
    spec64 = spec.replace(dtype="float64")
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    want, _ = train(spec64, p64, X, y)
    assert_params_close(got, want, stage="steps", dtype="float32", pair=("float32", "float64"))


def test_float32_per_sample_equals_vectorized(rng: np.random.Generator) -> None:
    spec = small(1, dtype="float32", epochs=2)
    params = init_params(spec)
    X, y = data(rng)
    X[X < 0.5] = 0.0
    got, _ = train(spec, params, X, y)
    expected, _ = by_hand(spec, params, X, y, [np.arange(N_SAMPLES)] * 2)
    assert all(v.dtype == np.float32 for v in expected.values()), "by-hand path left float32"
    assert_params_close(
        got, expected, stage="steps", dtype="float32", pair=("per-sample", "vectorized")
    )
