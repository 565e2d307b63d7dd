"""The JAX adapter: parity with the reference for every expressible spec, and its own traps
(scoped float64, dtype, the diagonal custom_vjp, jit shapes, FMA in the update, History and
on_step, input checks, the unavailable path).

Nets are small (12-8-6-4); data are seeded by the ``rng`` fixture. Without jax every test but
the unavailable-path one skips, with the registry's reason.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from fractions import Fraction
from itertools import product
from typing import Any

import numpy as np
import pytest

import frameworks
from frameworks.contract import Framework, FrameworkUnavailable
from frameworks.numpy_ref import NumpyMLP
from parity.compare import assert_close, assert_params_close
from reference import model
from reference.activations import softmax as reference_softmax
from reference.losses import output_delta
from reference.spec import Spec, lecture, standard


def _jax_reason() -> str | None:
    try:
        frameworks.load("jax")
    except FrameworkUnavailable as error:
        return str(error)
    return None


JAX_REASON = _jax_reason()
if JAX_REASON is None:
    import jax
    import jax.numpy as jnp

    from frameworks import jax_mlp
    from frameworks.jax_mlp import JaxMLP, diagonal_softmax

pytestmark = pytest.mark.jax
needs_jax = pytest.mark.skipif(JAX_REASON is not None, reason=str(JAX_REASON))

SIZES = (12, 8, 6, 4)
DTYPE_NAMES = ("float64", "float32")
# (loss, softmax_grad): the three the Spec accepts (diagonal is squared error's shortcut only)
LOSSES = {
    "ce": ("cross_entropy", "jacobian"),
    "se-jacobian": ("squared_error", "jacobian"),
    "se-diagonal": ("squared_error", "diagonal"),
}
COMBOS = list(product(("sigmoid", "tanh", "relu"), LOSSES, (True, False), DTYPE_NAMES))
COMBO_IDS = [f"{a}-{loss}-{'bias' if b else 'no-bias'}-{d}" for a, loss, b, d in COMBOS]
PAIR = ("jax", "numpy")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def adapter() -> JaxMLP:
    return JaxMLP()


@pytest.fixture
def data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """X (30, 12) in [0, 1), y (30,) labels 0..3: batches of 8, 8, 8 and a last one of 6."""
    return rng.random((30, SIZES[0])), rng.integers(0, SIZES[-1], 30)


@pytest.fixture
def x64_outside() -> Iterator[None]:
    """Put the global jax_enable_x64 back however a test leaves it."""
    before = x64()
    yield
    jax.config.update("jax_enable_x64", before)


def x64() -> bool:
    """``jax.config.jax_enable_x64`` as this thread sees it: the global value outside a scope."""
    return bool(jax.config.jax_enable_x64)  # type: ignore[attr-defined]


def n_compiled(jitted: Any) -> int:
    """How many shapes a jitted function has been compiled for (JAX's private counter)."""
    return int(jitted._cache_size())


def combo_spec(activation: str, loss: str, bias: bool, dtype: str, **changes: Any) -> Spec:
    loss_name, softmax_grad = LOSSES[loss]
    base: dict[str, Any] = dict(
        sizes=SIZES,
        activation=activation,
        loss=loss_name,
        softmax_grad=softmax_grad,
        bias=bias,
        dtype=dtype,
        batch_size=8,
        epochs=2,
        lr=0.5 if loss == "ce" else 2.0,  # squared error's gradients are small: move the weights
    )
    base.update(changes)
    return Spec(**base)


def std(dtype: str = "float64", **changes: Any) -> Spec:
    return standard(sizes=SIZES, dtype=dtype, **changes)


def lec(dtype: str = "float64", **changes: Any) -> Spec:
    return lecture(sizes=SIZES, dtype=dtype, **changes)


# --------------------------------------------------------------------------- parity, per stage


@needs_jax
@pytest.mark.parametrize(("activation", "loss", "bias", "dtype"), COMBOS, ids=COMBO_IDS)
def test_forward_agrees_with_reference(
    adapter: JaxMLP,
    data: tuple[np.ndarray, np.ndarray],
    activation: str,
    loss: str,
    bias: bool,
    dtype: str,
) -> None:
    spec = combo_spec(activation, loss, bias, dtype)
    p, (X, _) = model.init_params(spec), data
    probs = adapter.forward(spec, p, X)
    assert probs.dtype == np.dtype(dtype), f"probs are {probs.dtype}, the spec is {dtype}"
    expected = model.forward(spec, p, X)[0]
    assert_close(probs, expected, stage="forward", tensor="probs", dtype=dtype, pair=PAIR)


@needs_jax
@pytest.mark.parametrize(("activation", "loss", "bias", "dtype"), COMBOS, ids=COMBO_IDS)
def test_gradients_agree_with_reference(
    adapter: JaxMLP,
    data: tuple[np.ndarray, np.ndarray],
    activation: str,
    loss: str,
    bias: bool,
    dtype: str,
) -> None:
    spec = combo_spec(activation, loss, bias, dtype)
    p, (X, y) = model.init_params(spec), data
    grads = adapter.gradients(spec, p, X[:8], y[:8])
    assert list(grads) == list(spec.param_keys())
    for key, grad in grads.items():
        assert grad.dtype == np.dtype(dtype) and grad.shape == p[key].shape, key
    expected = model.gradients(spec, p, X[:8], y[:8])
    assert_params_close(grads, expected, stage="gradients", dtype=dtype, pair=PAIR)


@needs_jax
@pytest.mark.parametrize(("activation", "loss", "bias", "dtype"), COMBOS, ids=COMBO_IDS)
def test_one_step_agrees_with_reference(
    adapter: JaxMLP,
    data: tuple[np.ndarray, np.ndarray],
    activation: str,
    loss: str,
    bias: bool,
    dtype: str,
) -> None:
    spec = combo_spec(activation, loss, bias, dtype, epochs=1)
    p, (X, y) = model.init_params(spec), data
    order = [np.arange(8)]
    stepped, history = adapter.train(spec, p, X, y, order)
    expected, _ = NumpyMLP().train(spec, p, X, y, order)
    assert history.steps == 1
    assert_params_close(stepped, expected, stage="step", dtype=dtype, pair=PAIR)


@needs_jax
@pytest.mark.parametrize(("activation", "loss", "bias", "dtype"), COMBOS, ids=COMBO_IDS)
def test_training_agrees_with_reference(
    adapter: JaxMLP,
    rng: np.random.Generator,
    data: tuple[np.ndarray, np.ndarray],
    activation: str,
    loss: str,
    bias: bool,
    dtype: str,
) -> None:
    # 2 epochs of 30 samples in batches of 8: 4 steps each, the last of 6; two orders.
    spec = combo_spec(activation, loss, bias, dtype)
    p, (X, y) = model.init_params(spec), data
    X_eval, y_eval = rng.random((20, SIZES[0])), rng.integers(0, SIZES[-1], 20)
    orders = [rng.permutation(30), rng.permutation(30)]
    trained, history = adapter.train(spec, p, X, y, orders, eval_data=(X_eval, y_eval))
    expected, expected_history = NumpyMLP().train(spec, p, X, y, orders, eval_data=(X_eval, y_eval))
    assert history.steps == expected_history.steps == 8
    assert max(float(np.abs(trained[k] - p[k]).max()) for k in p) > 1e-3, "nothing moved"
    assert_params_close(trained, expected, stage="steps", dtype=dtype, pair=PAIR)
    for field in ("loss", "accuracy"):
        assert len(getattr(history, field)) == 2, field
        assert_close(
            getattr(history, field),
            getattr(expected_history, field),
            stage=f"train_{field}",
            tensor=field,
            dtype=dtype,
            pair=PAIR,
        )


SHAPES = {
    "2-classes": (12, 8, 2),
    "10-classes": (12, 8, 6, 10),
    "no-hidden": (12, 5),
    "three-hidden": (12, 9, 7, 5, 3),
}


@needs_jax
@pytest.mark.parametrize("sizes", list(SHAPES.values()), ids=list(SHAPES))
def test_any_depth_and_class_count(
    adapter: JaxMLP, rng: np.random.Generator, sizes: tuple[int, ...]
) -> None:
    spec = standard(sizes=sizes, batch_size=8, epochs=1)
    p = model.init_params(spec)
    X, y = rng.random((20, sizes[0])), rng.integers(0, sizes[-1], 20)
    assert_close(
        adapter.forward(spec, p, X),
        model.forward(spec, p, X)[0],
        stage="forward",
        tensor="probs",
        dtype="float64",
        pair=PAIR,
    )
    assert_params_close(
        adapter.gradients(spec, p, X, y),
        model.gradients(spec, p, X, y),
        stage="gradients",
        dtype="float64",
        pair=PAIR,
    )
    order = [rng.permutation(20)]
    trained, _ = adapter.train(spec, p, X, y, order)
    expected, _ = NumpyMLP().train(spec, p, X, y, order)
    assert_params_close(trained, expected, stage="steps", dtype="float64", pair=PAIR)


# --------------------------------------------------------------------------- float64, scoped


def _every_call(adapter: JaxMLP, spec: Spec, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    p = model.init_params(spec)
    seen: list[bool] = []
    out: dict[str, Any] = {"probs": adapter.forward(spec, p, X)}
    out.update({f"d{k}": g for k, g in adapter.gradients(spec, p, X, y).items()})
    trained, _ = adapter.train(
        spec,
        p,
        X,
        y,
        [np.arange(X.shape[0])] * spec.epochs,
        eval_data=(X, y),
        on_step=lambda s, snap: seen.append(x64()),
    )
    out.update(trained)
    out["x64 inside on_step"] = seen
    return out


@needs_jax
@pytest.mark.usefixtures("x64_outside")
@pytest.mark.parametrize("outside", [False, True], ids=["x64-off-outside", "x64-on-outside"])
@pytest.mark.parametrize("dtype", DTYPE_NAMES, ids=DTYPE_NAMES)
def test_global_x64_config_untouched_by_every_call(
    adapter: JaxMLP, data: tuple[np.ndarray, np.ndarray], outside: bool, dtype: str
) -> None:
    jax.config.update("jax_enable_x64", outside)
    X, y = data
    results = _every_call(adapter, std(dtype, batch_size=8, epochs=1), X, y)
    assert x64() is outside, "the adapter changed the global x64 setting"
    assert results.pop("x64 inside on_step") == [outside] * 4, "on_step saw the adapter's scope"
    for name, value in results.items():
        assert value.dtype == np.dtype(dtype), f"{name} is {value.dtype}, the spec is {dtype}"
    # And the user's own JAX still computes as configured: float32 unless they enabled x64.
    assert jnp.ones(2).dtype == (jnp.float64 if outside else jnp.float32)


@needs_jax
@pytest.mark.usefixtures("x64_outside")
def test_x64_is_thread_local_inside_the_scope() -> None:
    # What the adapter relies on: jax.enable_x64 as a context sets a thread-local value only.
    jax.config.update("jax_enable_x64", False)
    with jax_mlp.scope(jax.devices("cpu")[0]):
        assert x64() is True
        assert jnp.asarray(np.ones(2)).dtype == jnp.float64
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            other_thread = pool.submit(x64).result()
        assert other_thread is False, "the scope leaked into another thread"
    assert x64() is False


@needs_jax
def test_float64_spec_really_computes_in_float64(
    adapter: JaxMLP, data: tuple[np.ndarray, np.ndarray]
) -> None:
    # A float64 forward within the float64 table entry (1e-14) of the reference: float32
    # arithmetic anywhere on the way would land ~1e-8 away. The float32 spec proves the point.
    X, y = data
    spec64 = std("float64")
    p = model.init_params(spec64)
    expected = model.forward(spec64, p, X)[0]
    probs64 = adapter.forward(spec64, p, X)
    assert_close(probs64, expected, stage="forward", tensor="probs", dtype="float64", pair=PAIR)
    probs32 = adapter.forward(std("float32"), p, X).astype(np.float64)
    gap = float(np.abs(probs32 - expected).max())
    assert gap > 1e-10, f"a float32 forward is within {gap:.1e}: the check cannot tell them apart"
    grads = adapter.gradients(spec64, p, X, y)
    assert_params_close(
        grads, model.gradients(spec64, p, X, y), stage="gradients", dtype="float64", pair=PAIR
    )


@needs_jax
@pytest.mark.parametrize("dtype", DTYPE_NAMES, ids=DTYPE_NAMES)
def test_compiled_step_holds_only_the_spec_dtype(dtype: str) -> None:
    # The jaxpr of the training step names every intermediate's dtype: a float32 spec must not
    # widen anything to float64 (or a float64 spec narrow anything to float32).
    spec = std(dtype, batch_size=8)
    other = {"float64": "f32", "float32": "f64"}[dtype]
    with jax_mlp.scope(jax.devices("cpu")[0]):
        params = jax_mlp.to_device(spec, model.init_params(spec))
        losses = jnp.zeros(jax_mlp.LOSS_SLOTS, dtype=dtype)
        X, y = np.zeros((8, SIZES[0]), dtype=dtype), np.zeros(8, dtype=np.int64)
        jaxpr = str(jax.make_jaxpr(lambda *a: jax_mlp.sgd_step(spec, *a))(params, losses, 0, X, y))
    assert other not in jaxpr, f"the {dtype} step computes in {other}:\n{jaxpr}"


@needs_jax
@pytest.mark.usefixtures("x64_outside")
def test_user_matmul_precision_setting_changes_no_number(
    adapter: JaxMLP, rng: np.random.Generator
) -> None:
    # Every dot says precision=HIGHEST: a global bf16 default (TF32/bf16 passes on GPU/TPU)
    # must not reach the adapter. On CPU this holds either way; on an accelerator it is the trap.
    spec = standard(dtype="float32")
    p = model.init_params(spec)
    X, y = rng.random((64, 784)), rng.integers(0, 10, 64)
    probs, grads = adapter.forward(spec, p, X), adapter.gradients(spec, p, X, y)
    with jax.default_matmul_precision("bfloat16"):
        np.testing.assert_array_equal(adapter.forward(spec, p, X), probs)
        for key, grad in adapter.gradients(spec, p, X, y).items():
            np.testing.assert_array_equal(grad, grads[key], err_msg=key)


# --------------------------------------------------------------------------- the diagonal


@needs_jax
def test_diagonal_custom_vjp_is_the_references_diagonal_formula(rng: np.random.Generator) -> None:
    Z = rng.standard_normal((5, 4)) * 3
    G = rng.standard_normal((5, 4))
    with jax_mlp.scope(jax.devices("cpu")[0]):
        P, vjp = jax.vjp(diagonal_softmax, jnp.asarray(Z))
        (dZ,) = vjp(jnp.asarray(G))
        _, true_vjp = jax.vjp(lambda z: jax.nn.softmax(z, axis=1), jnp.asarray(Z))
        (true_dZ,) = true_vjp(jnp.asarray(G))
    expected_P = reference_softmax(Z)
    np.testing.assert_allclose(np.asarray(P), expected_P, rtol=1e-15, atol=0)
    np.testing.assert_allclose(np.asarray(dZ), G * (expected_P * (1 - expected_P)), rtol=1e-14)
    gap = float(np.abs(np.asarray(dZ) - np.asarray(true_dZ)).max())
    assert gap > 1e-3, f"diagonal backward equals the true softmax gradient (gap {gap:.1e})"


@needs_jax
@pytest.mark.parametrize("softmax_grad", ["diagonal", "jacobian"], ids=str)
def test_output_delta_is_the_references(rng: np.random.Generator, softmax_grad: str) -> None:
    # dLoss/dZ at the output, through jax.grad of the adapter's own loss, against
    # reference.losses.output_delta: the factor 2/(n k) and the softmax_grad switch.
    spec = lec(softmax_grad=softmax_grad)
    n, k = 6, spec.n_classes
    Z, y = rng.standard_normal((n, k)) * 2, rng.integers(0, k, n)
    with jax_mlp.scope(jax.devices("cpu")[0]):

        def loss_of_logits(Z: jax.Array) -> jax.Array:
            P = (diagonal_softmax if softmax_grad == "diagonal" else jax.nn.softmax)(Z)
            return jnp.mean((P - jax.nn.one_hot(jnp.asarray(y), k, dtype=Z.dtype)) ** 2)

        dZ = np.asarray(jax.grad(loss_of_logits)(jnp.asarray(Z)))
    expected = output_delta(spec, reference_softmax(Z), np.eye(k)[y])
    np.testing.assert_allclose(dZ, expected, rtol=1e-13, atol=1e-17)


@needs_jax
@pytest.mark.parametrize("softmax_grad", ["diagonal", "jacobian"], ids=str)
def test_lecture_per_sample_training_matches_reference(
    adapter: JaxMLP, rng: np.random.Generator, softmax_grad: str
) -> None:
    # 300 per-sample steps; lr 0.1 instead of the preset's 0.001 so the weights really move.
    spec = lec(softmax_grad=softmax_grad, epochs=1, lr=0.1)
    p = model.init_params(spec)
    X, y = rng.random((300, SIZES[0])), rng.integers(0, SIZES[-1], 300)
    order = [rng.permutation(300)]
    steps: list[int] = []
    trained, history = adapter.train(spec, p, X, y, order, on_step=lambda s, _: steps.append(s))
    expected, expected_history = NumpyMLP().train(spec, p, X, y, order)
    assert steps == list(range(1, 301)) and history.steps == 300
    assert float(np.abs(trained["W1"] - p["W1"]).max()) > 1e-3, "training did not move W1"
    assert_params_close(trained, expected, stage="steps", dtype="float64", pair=PAIR)
    assert_close(
        history.loss,
        expected_history.loss,
        stage="train_loss",
        tensor="loss",
        dtype="float64",
        pair=PAIR,
    )


# --------------------------------------------------------------------------- the SGD update


def _cpu_without_fma() -> bool:
    """True on a Linux x86 CPU that lacks FMA3 (elsewhere: assume it has a fused multiply-add)."""
    try:
        with open("/proc/cpuinfo") as info:
            flags = next((line for line in info if line.startswith("flags")), None)
    except OSError:
        return False
    return flags is not None and " fma" not in flags


@needs_jax
@pytest.mark.skipif(_cpu_without_fma(), reason="this CPU has no FMA instruction to contract to")
@pytest.mark.parametrize("lr", [0.5, 0.1], ids=["lr-0.5", "lr-0.1"])
def test_sgd_update_is_one_fused_multiply_add(
    adapter: JaxMLP, data: tuple[np.ndarray, np.ndarray], lr: float
) -> None:
    # XLA's CPU backend contracts W - lr*dW into one FMA: the exact W - lr*dW rounded once
    # (as torch's CPU SGD). The reference rounds lr*dW first; with lr a power of two that
    # product is exact and the two agree bitwise, otherwise they differ in the last bit on
    # some entries.
    spec = std(epochs=1, lr=lr, batch_size=8)
    p = model.init_params(spec)
    X, y = data
    grads = adapter.gradients(spec, p, X[:8], y[:8])
    stepped, _ = adapter.train(spec, p, X[:8], y[:8], [np.arange(8)])
    for key, W in p.items():
        fused = np.array(
            [
                float(Fraction(w) - Fraction(lr) * Fraction(g))  # exact, then rounded once
                for w, g in zip(W.flat, grads[key].flat, strict=True)
            ]
        ).reshape(W.shape)
        np.testing.assert_array_equal(stepped[key], fused, err_msg=f"{key}: not fma(-lr, dW, W)")
        if lr == 0.5:
            np.testing.assert_array_equal(stepped[key], W - lr * grads[key], err_msg=key)


# --------------------------------------------------------------------------- jit and batches


@needs_jax
def test_step_compiles_for_at_most_two_batch_shapes(
    adapter: JaxMLP, rng: np.random.Generator
) -> None:
    # A fresh lr gives a fresh cache entry. 100 samples at batch 32: shapes 32 and 4, for every
    # epoch and every later call with the same plan shape, whatever the number of samples.
    spec = std(batch_size=32, epochs=3, lr=0.4375)
    p = model.init_params(spec)
    X, y = rng.random((100, SIZES[0])), rng.integers(0, SIZES[-1], 100)
    adapter.train(spec, p, X, y, [rng.permutation(100) for _ in range(3)])
    step = jax_mlp.compiled(spec).step
    assert n_compiled(step) == 2, f"{n_compiled(step)} compiled shapes for 2 batch sizes"
    X2, y2 = rng.random((132, SIZES[0])), rng.integers(0, SIZES[-1], 132)  # 4 x 32 + 4
    adapter.train(spec.replace(epochs=1), p, X2, y2, [rng.permutation(132)])
    assert n_compiled(step) == 2, "a different number of samples compiled the step again"


@needs_jax
def test_scoring_eval_data_shares_the_forwards_compiled_shape(
    adapter: JaxMLP, rng: np.random.Generator
) -> None:
    # The judge scores the test set every epoch, then calls forward on it: one compile, not two.
    spec = std(batch_size=8, epochs=2, lr=0.40625)
    p = model.init_params(spec)
    X, y = rng.random((16, SIZES[0])), rng.integers(0, SIZES[-1], 16)
    X_test, y_test = rng.random((25, SIZES[0])), rng.integers(0, SIZES[-1], 25)
    trained, history = adapter.train(spec, p, X, y, [np.arange(16)] * 2, eval_data=(X_test, y_test))
    probs = adapter.forward(spec, trained, X_test)
    assert history.accuracy[-1] == float((probs.argmax(axis=1) == y_test).mean())
    assert n_compiled(jax_mlp.compiled(spec).probs) == 1


@needs_jax
def test_batch_sizes_of_a_plan() -> None:
    plan = [np.arange(100), np.arange(64), np.arange(5)]
    assert jax_mlp.batch_sizes(plan, 32) == [4, 5, 32]
    assert jax_mlp.batch_sizes([np.arange(1)] * 2, 1) == [1]


@needs_jax
def test_batch_plan_obeyed_a_permuted_order_gives_that_orders_result(
    adapter: JaxMLP, rng: np.random.Generator
) -> None:
    # Two epochs of different lengths (the second with repeats), batches of 8 with remainders.
    spec = std(batch_size=8, epochs=2)
    p = model.init_params(spec)
    X, y = rng.random((30, SIZES[0])), rng.integers(0, SIZES[-1], 30)
    orders = [rng.permutation(30), rng.integers(0, 30, 21)]
    trained, history = adapter.train(spec, p, X, y, orders)
    expected, expected_history = NumpyMLP().train(spec, p, X, y, orders)
    assert history.steps == 4 + 3
    assert_params_close(trained, expected, stage="steps", dtype="float64", pair=PAIR)
    assert_close(
        history.loss, expected_history.loss, stage="train_loss", tensor="loss", dtype="float64"
    )
    other, _ = adapter.train(spec, p, X, y, [orders[0][::-1].copy(), orders[1]])
    gap = max(float(np.abs(other[k] - trained[k]).max()) for k in p)
    assert gap > 1e-6, f"reversing the order changed nothing ({gap:.1e}): the plan is ignored"


@needs_jax
@pytest.mark.parametrize("dtype", DTYPE_NAMES, ids=DTYPE_NAMES)
def test_on_step_once_per_step_with_the_references_snapshots(
    adapter: JaxMLP, rng: np.random.Generator, dtype: str
) -> None:
    # 100 samples at batch 32: 4 steps per epoch, the last of 4 samples; two different orders.
    spec = std(dtype, epochs=2)
    p = model.init_params(spec)
    X, y = rng.random((100, SIZES[0])), rng.integers(0, SIZES[-1], 100)
    X_eval, y_eval = rng.random((50, SIZES[0])), rng.integers(0, SIZES[-1], 50)
    orders = [rng.permutation(100), rng.permutation(100)]
    runs = {}
    for name, framework in (("jax", adapter), ("numpy", NumpyMLP())):
        snapshots: dict[int, model.Params] = {}
        calls: list[int] = []

        def on_step(
            step: int,
            snapshot: Callable[[], model.Params],
            into: dict[int, model.Params] = snapshots,
            calls: list[int] = calls,
        ) -> None:
            calls.append(step)
            into[step] = snapshot()

        params, history = framework.train(
            spec, p, X, y, orders, eval_data=(X_eval, y_eval), on_step=on_step
        )
        runs[name] = (params, history, snapshots, calls)
    (params, history, snaps, calls), (ref_params, ref_history, ref_snaps, _) = (
        runs["jax"],
        runs["numpy"],
    )
    assert calls == list(range(1, 9)) and history.steps == 8, calls
    for step, snap in snaps.items():
        assert list(snap) == list(spec.param_keys())
        assert all(v.dtype == np.dtype(dtype) for v in snap.values())
        assert_params_close(
            snap,
            ref_snaps[step],
            stage="step" if step == 1 else "steps",
            dtype=dtype,
            pair=(f"jax@{step}", f"numpy@{step}"),
        )
    for key in p:
        np.testing.assert_array_equal(snaps[8][key], params[key], err_msg=f"last snapshot {key}")
    assert_params_close(params, ref_params, stage="steps", dtype=dtype, pair=PAIR)
    assert len(history.seconds) == 2 and all(s > 0 for s in history.seconds)
    for field in ("loss", "accuracy"):
        assert len(getattr(history, field)) == 2, field
        assert_close(
            getattr(history, field),
            getattr(ref_history, field),
            stage=f"train_{field}",
            tensor=field,
            dtype=dtype,
            pair=PAIR,
        )


@needs_jax
def test_history_loss_is_the_batch_size_weighted_mean(
    adapter: JaxMLP, rng: np.random.Generator
) -> None:
    # The loss each batch had BEFORE its update, weighted by its size: batches of 8, 8 and 4.
    spec = std(batch_size=8, epochs=1)
    p = model.init_params(spec)
    X, y = rng.random((20, SIZES[0])), rng.integers(0, SIZES[-1], 20)
    order = rng.permutation(20)
    snaps: list[model.Params] = [p]
    _, history = adapter.train(spec, p, X, y, [order], on_step=lambda s, snap: snaps.append(snap()))
    chunks = [order[:8], order[8:16], order[16:]]
    by_hand = sum(
        model.loss(spec, before, X[idx], y[idx]) * idx.size
        for before, idx in zip(snaps, chunks, strict=False)
    )
    assert_close(history.loss, [by_hand / 20], stage="train_loss", tensor="loss", dtype="float64")
    assert history.accuracy == []  # no eval data, no accuracy


@needs_jax
def test_empty_eval_data_gives_nan_accuracy(adapter: JaxMLP, rng: np.random.Generator) -> None:
    spec = std(batch_size=8, epochs=1)
    X, y = rng.random((8, SIZES[0])), rng.integers(0, SIZES[-1], 8)
    _, history = adapter.train(
        spec,
        model.init_params(spec),
        X,
        y,
        [np.arange(8)],
        eval_data=(np.empty((0, SIZES[0])), np.empty(0, dtype=np.int64)),
    )
    assert len(history.accuracy) == 1 and np.isnan(history.accuracy[0])


# --------------------------------------------------------------------------- the caller's arrays


@needs_jax
def test_callers_arrays_never_modified(
    adapter: JaxMLP, data: tuple[np.ndarray, np.ndarray]
) -> None:
    spec = std(epochs=2, batch_size=8)
    p = model.init_params(spec)
    X, y = data
    orders = [np.arange(30)[::-1].copy(), np.arange(30)]
    saved = {"X": X.copy(), "y": y.copy(), **{k: v.copy() for k, v in p.items()}}
    saved.update({f"order{e}": o.copy() for e, o in enumerate(orders)})
    for value in (X, y, *p.values(), *orders):
        value.setflags(write=False)  # read-only inputs must work, silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adapter.forward(spec, p, X)
        adapter.gradients(spec, p, X, y)
        trained, _ = adapter.train(spec, p, X, y, orders)
    after = {"X": X, "y": y, **p, **{f"order{e}": o for e, o in enumerate(orders)}}
    for name, value in saved.items():
        np.testing.assert_array_equal(after[name], value, err_msg=f"{name} was modified")
    for key in p:
        assert not np.shares_memory(trained[key], p[key]), f"trained {key} aliases the input"
        assert trained[key].flags.writeable, f"trained {key} is a read-only device view"


@needs_jax
def test_snapshot_is_a_copy_the_callback_cannot_disturb(
    adapter: JaxMLP, data: tuple[np.ndarray, np.ndarray]
) -> None:
    spec = std(epochs=1, batch_size=8)
    p = model.init_params(spec)
    X, y = data
    kept: list[model.Params] = []

    def vandal(step: int, snapshot: Callable[[], model.Params]) -> None:
        snap = snapshot()
        kept.append(snapshot())
        for value in snap.values():
            value[...] = np.nan

    undisturbed, _ = adapter.train(spec, p, X, y, [np.arange(30)])
    disturbed, _ = adapter.train(spec, p, X, y, [np.arange(30)], on_step=vandal)
    for key, value in undisturbed.items():
        np.testing.assert_array_equal(disturbed[key], value, err_msg=key)
    # Each snapshot keeps its step's values after the params' buffers were donated onward.
    assert all(np.isfinite(v).all() for snap in kept for v in snap.values())
    assert not np.array_equal(kept[0]["W1"], kept[-1]["W1"])


# --------------------------------------------------------------------------- bad input

BAD_INPUTS: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
    "params-missing-key": ("forward", lambda a: a["params"].pop("b2")),
    "params-wrong-shape": ("gradients", lambda a: a["params"].update(W1=np.zeros((12, 8)))),
    "params-nan": ("train", lambda a: a["params"]["W2"].__setitem__((0, 0), np.nan)),
    "X-wrong-width": ("forward", lambda a: a.update(X=a["X"][:, :11])),
    "X-inf": ("train", lambda a: a["X"].__setitem__((3, 4), np.inf)),
    "y-float": ("gradients", lambda a: a.update(y=a["y"].astype(float))),
    "y-out-of-range": ("train", lambda a: a["y"].__setitem__(5, 4)),
    "y-wrong-length": ("gradients", lambda a: a.update(y=a["y"][:-1])),
    "orders-wrong-epochs": ("train", lambda a: a.update(orders=a["orders"] * 2)),
    "orders-out-of-range": ("train", lambda a: a.update(orders=[np.arange(1, 31)])),
    "eval-wrong-width": ("train", lambda a: a.update(eval_data=(a["X"][:, :3], a["y"]))),
}


def _call(framework: Framework, spec: Spec, method: str, a: dict[str, Any]) -> Any:
    if method == "forward":
        return framework.forward(spec, a["params"], a["X"])
    if method == "gradients":
        return framework.gradients(spec, a["params"], a["X"], a["y"])
    return framework.train(spec, a["params"], a["X"], a["y"], a["orders"], eval_data=a["eval_data"])


@needs_jax
@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_raises_the_references_value_error(
    adapter: JaxMLP, data: tuple[np.ndarray, np.ndarray], case: str
) -> None:
    spec = std(epochs=1, batch_size=8)
    method, spoil = BAD_INPUTS[case]
    messages = []
    for framework in (adapter, NumpyMLP()):
        X, y = data
        args: dict[str, Any] = dict(params=model.init_params(spec), X=X.copy(), y=y.copy())
        args.update(orders=[np.arange(30)], eval_data=None)
        spoil(args)
        with pytest.raises(ValueError) as error:
            _call(framework, spec, method, args)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


# --------------------------------------------------------------------------- the registry


@needs_jax
def test_is_a_framework_that_expresses_every_spec(adapter: JaxMLP) -> None:
    import jaxlib

    assert isinstance(adapter, Framework) and adapter.name == "jax"
    assert adapter.versions() == {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "device": "cpu (cpu)",
    }
    for spec in (std(), lec(), lec(softmax_grad="jacobian"), std("float32", activation="relu")):
        assert adapter.supports(spec) is None
    assert isinstance(frameworks.load("jax"), JaxMLP)
    assert "jax" in frameworks.NAMES


@needs_jax
@pytest.mark.parametrize("device", ["tpu", "no-such-backend"], ids=str)
def test_missing_device_is_unavailable(device: str) -> None:
    with pytest.raises(FrameworkUnavailable, match=f"jax on '{device}' is unavailable"):
        frameworks.load("jax", device=device)


def test_without_jax_load_raises_unavailable_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Runs with or without jax: a None entry in sys.modules makes `import jax` fail as if
    # it were not installed; the adapter module is imported afresh.
    monkeypatch.setitem(sys.modules, "jax", None)
    monkeypatch.delitem(sys.modules, "frameworks.jax_mlp", raising=False)
    with pytest.raises(FrameworkUnavailable) as error:
        frameworks.load("jax")
    message = str(error.value)
    assert message.startswith("jax is unavailable: cannot import jax"), message
    assert "pip install 'mlp-parity[jax]'" in message
