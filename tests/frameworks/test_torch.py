"""The torch adapter's own traps: precision, dtype, layout, logits vs softmax, the diagonal
softmax "derivative", SGD rounding, History and on_step, input checks, devices.

Broad parity sweeps over presets, activations and depths live in the generic parity tests;
here every test is about something only this adapter can get wrong. Nets are small (12-8-6-4).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip(
    "torch", reason="torch is not installed: pip install 'mlp-parity[torch]' (CPU build)"
)

import frameworks  # noqa: E402
from frameworks import torch_mlp  # noqa: E402
from frameworks.contract import Framework, FrameworkUnavailable  # noqa: E402
from frameworks.numpy_ref import NumpyMLP  # noqa: E402
from frameworks.torch_mlp import (  # noqa: E402
    DTYPES,
    DiagonalSoftmax,
    TorchMLP,
    build_module,
    highest_precision,
    make_loss,
    module_params,
)
from parity.compare import assert_close, assert_params_close  # noqa: E402
from reference import model  # noqa: E402
from reference.spec import Spec, lecture, standard  # noqa: E402

SIZES = (12, 8, 6, 4)
DTYPE_NAMES = ("float64", "float32")
CPU = torch.device("cpu")
HAS_CUDA = torch.cuda.is_available()
NEW_PRECISION_API = hasattr(torch.backends, "fp32_precision")  # torch >= 2.9


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def adapter() -> TorchMLP:
    return TorchMLP()


@pytest.fixture
def data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """X (96, 12) in [0, 1), y (96,) labels 0..3: three batches of 32."""
    return rng.random((96, SIZES[0])), rng.integers(0, SIZES[-1], 96)


@pytest.fixture
def precision_state() -> Iterator[None]:
    """Put torch's global precision flags back however a test leaves them."""
    saved = torch_mlp._read_precision_state()
    yield
    torch_mlp._restore_precision_state(*saved)


def std(dtype: str = "float64", **changes: Any) -> Spec:
    return standard(sizes=SIZES, dtype=dtype, **changes)


def lec(dtype: str = "float64", **changes: Any) -> Spec:
    return lecture(sizes=SIZES, dtype=dtype, **changes)


def flags() -> dict[str, Any]:
    """Every switch that could make a float32 matmul use less than float32 precision."""
    out: dict[str, Any] = {
        "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }
    if NEW_PRECISION_API:
        out["cuda.matmul.fp32_precision"] = torch.backends.cuda.matmul.fp32_precision
        out["mkldnn.matmul.fp32_precision"] = torch.backends.mkldnn.matmul.fp32_precision
    return out


FULL_PRECISION = {
    "cuda.matmul.allow_tf32": False,
    "cudnn.allow_tf32": False,
    "float32_matmul_precision": "highest",
    **(
        {"cuda.matmul.fp32_precision": "ieee", "mkldnn.matmul.fp32_precision": "ieee"}
        if NEW_PRECISION_API
        else {}
    ),
}


def _legacy_tf32() -> None:
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.set_float32_matmul_precision("high")


def _legacy_medium() -> None:
    torch.set_float32_matmul_precision("medium")  # bf16 matmuls through oneDNN on this CPU


def _new_api_tf32() -> None:
    if not NEW_PRECISION_API:
        pytest.skip(f"torch {torch.__version__} has no fp32_precision API (added in 2.9)")
    # After this torch 2.13 refuses to read allow_tf32 (mixed legacy and new API).
    torch.backends.cuda.matmul.fp32_precision = "tf32"
    torch.backends.mkldnn.matmul.fp32_precision = "bf16"


OUTSIDE_STATES: dict[str, Callable[[], None]] = {
    "default": lambda: None,
    "legacy-tf32-on": _legacy_tf32,
    "legacy-medium": _legacy_medium,
    "new-api-tf32-bf16": _new_api_tf32,
}


# --------------------------------------------------------------------------- precision


@pytest.mark.usefixtures("precision_state")
@pytest.mark.parametrize("outside", list(OUTSIDE_STATES), ids=list(OUTSIDE_STATES))
def test_tf32_off_inside_every_call_and_restored_after(
    adapter: TorchMLP,
    data: tuple[np.ndarray, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    outside: str,
) -> None:
    OUTSIDE_STATES[outside]()
    before = torch_mlp._read_precision_state()
    seen: list[tuple[str, dict[str, Any]]] = []

    def spy_build(*args: Any, **kwargs: Any) -> Any:
        seen.append(("build_module", flags()))
        return build_module(*args, **kwargs)

    monkeypatch.setattr(torch_mlp, "build_module", spy_build)
    spec, p = std("float32", epochs=1), model.init_params(std("float32"))
    X, y = data
    adapter.forward(spec, p, X)
    adapter.gradients(spec, p, X, y)
    adapter.train(
        spec, p, X, y, [np.arange(64)], on_step=lambda s, _: seen.append(("step", flags()))
    )
    assert [where for where, _ in seen] == ["build_module"] * 3 + ["step"] * 2
    for where, inside in seen:
        assert inside == FULL_PRECISION, f"{where}: reduced precision allowed inside: {inside}"
    assert torch_mlp._read_precision_state() == before, "precision flags not restored"


@pytest.mark.usefixtures("precision_state")
def test_tf32_restored_when_the_body_raises() -> None:
    _legacy_tf32()
    with pytest.raises(KeyError), highest_precision():
        assert flags() == FULL_PRECISION
        raise KeyError("boom")
    assert torch.backends.cuda.matmul.allow_tf32 is True
    assert torch.get_float32_matmul_precision() == "high"


@pytest.mark.usefixtures("precision_state")
def test_reduced_precision_outside_changes_no_float32_number(
    adapter: TorchMLP, rng: np.random.Generator
) -> None:
    # 784 inputs: on a CPU with AVX512-BF16 "medium" does change this float32 forward (~3e-8)
    # when the adapter does not switch it off. Elsewhere the test holds trivially.
    spec = standard(dtype="float32")
    p = model.init_params(spec)
    X, y = rng.random((64, 784)), rng.integers(0, 10, 64)
    probs, grads = adapter.forward(spec, p, X), adapter.gradients(spec, p, X, y)
    _legacy_medium()
    np.testing.assert_array_equal(adapter.forward(spec, p, X), probs)
    for key, grad in adapter.gradients(spec, p, X, y).items():
        np.testing.assert_array_equal(grad, grads[key], err_msg=key)


# --------------------------------------------------------------------------- module and layout


@pytest.mark.parametrize("dtype", DTYPE_NAMES, ids=DTYPE_NAMES)
def test_module_and_results_in_the_spec_dtype(
    adapter: TorchMLP, data: tuple[np.ndarray, np.ndarray], dtype: str
) -> None:
    spec = std(dtype, epochs=1)
    p = model.init_params(spec)
    module = build_module(spec, p, CPU)
    assert {param.dtype for param in module.parameters()} == {DTYPES[dtype]}
    X, y = data
    results = {
        "forward": adapter.forward(spec, p, X),
        **{f"d{k}": g for k, g in adapter.gradients(spec, p, X, y).items()},
        **adapter.train(spec, p, X, y, [np.arange(96)])[0],
    }
    for name, value in results.items():
        assert isinstance(value, np.ndarray), f"{name} is {type(value)}"
        assert value.dtype == np.dtype(dtype), f"{name} is {value.dtype}, the spec is {dtype}"


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("dtype", DTYPE_NAMES, ids=DTYPE_NAMES)
def test_params_round_trip_bitwise_through_own_memory(dtype: str, bias: bool) -> None:
    spec = std(dtype, bias=bias)
    p = model.init_params(spec)
    module = build_module(spec, p, CPU)
    back = module_params(spec, module)
    assert list(back) == list(spec.param_keys())
    for key, value in p.items():
        assert back[key].dtype == value.dtype and back[key].shape == value.shape, key
        np.testing.assert_array_equal(back[key], value, err_msg=f"{key} changed in the round trip")
        for param in module.parameters():
            assert not np.shares_memory(param.detach().numpy(), value), f"module shares {key}"
            assert not np.shares_memory(param.detach().numpy(), back[key]), f"{key} is a view"


def test_callers_arrays_never_modified(
    adapter: TorchMLP, data: tuple[np.ndarray, np.ndarray]
) -> None:
    spec = std(epochs=2)
    p = model.init_params(spec)
    X, y = data
    orders = [np.arange(96)[::-1].copy(), np.arange(96)]
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


# --------------------------------------------------------------------------- losses


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"], ids=str)
@pytest.mark.parametrize("dtype", DTYPE_NAMES, ids=DTYPE_NAMES)
def test_cross_entropy_on_logits_equals_reference_softmax_then_ce(
    adapter: TorchMLP, data: tuple[np.ndarray, np.ndarray], dtype: str, activation: str
) -> None:
    spec = std(dtype, activation=activation)
    p = model.init_params(spec)
    X, y = data
    assert isinstance(make_loss(spec), torch.nn.CrossEntropyLoss)
    with highest_precision():
        logits = build_module(spec, p, CPU)(torch.from_numpy(X.astype(dtype)))
        torch_loss = make_loss(spec)(logits, torch.from_numpy(y)).item()
    assert_close(
        torch_loss,
        model.loss(spec, p, X, y),
        stage="train_loss",
        tensor="cross-entropy",
        dtype=dtype,
        pair=("torch", "numpy"),
    )
    assert_close(
        adapter.forward(spec, p, X),
        model.forward(spec, p, X)[0],
        stage="forward",
        tensor="softmax",
        dtype=dtype,
        pair=("torch", "numpy"),
    )
    assert_params_close(
        adapter.gradients(spec, p, X, y),
        model.gradients(spec, p, X, y),
        stage="gradients",
        dtype=dtype,
        pair=("torch", "numpy"),
    )


def test_diagonal_backward_is_g_times_p_times_one_minus_p(rng: np.random.Generator) -> None:
    Z = torch.from_numpy(rng.standard_normal((5, 4)) * 3).requires_grad_()
    G = torch.from_numpy(rng.standard_normal((5, 4)))
    P = DiagonalSoftmax.apply(Z)
    P.backward(G)
    assert Z.grad is not None
    with torch.no_grad():
        expected_P = torch.softmax(Z, dim=1)
        torch.testing.assert_close(P.detach(), expected_P, rtol=0, atol=0)
        torch.testing.assert_close(Z.grad, G * expected_P * (1 - expected_P), rtol=1e-15, atol=0)
    true_grad = torch.autograd.grad(torch.softmax(Z, dim=1), Z, G)[0]
    gap = float((Z.grad - true_grad).abs().max())
    assert gap > 1e-3, f"diagonal backward equals the true softmax gradient (gap {gap:.1e})"


@pytest.mark.parametrize("softmax_grad", ["diagonal", "jacobian"], ids=str)
@pytest.mark.parametrize("dtype", DTYPE_NAMES, ids=DTYPE_NAMES)
def test_lecture_gradients_equal_reference(
    adapter: TorchMLP, data: tuple[np.ndarray, np.ndarray], dtype: str, softmax_grad: str
) -> None:
    spec = lec(dtype, softmax_grad=softmax_grad)
    p = model.init_params(spec)
    X, y = data
    grads = adapter.gradients(spec, p, X, y)
    assert_params_close(
        grads,
        model.gradients(spec, p, X, y),
        stage="gradients",
        dtype=dtype,
        pair=("torch", "numpy"),
    )
    other = spec.replace(softmax_grad="jacobian" if softmax_grad == "diagonal" else "diagonal")
    gap = max(np.abs(grads[k] - g).max() for k, g in adapter.gradients(other, p, X, y).items())
    assert gap > 1e-4, f"diagonal and jacobian gradients agree (gap {gap:.1e}): one is ignored"


# --------------------------------------------------------------------------- training


@pytest.mark.parametrize("softmax_grad", ["diagonal", "jacobian"], ids=str)
def test_lecture_per_sample_training_matches_reference(
    adapter: TorchMLP, rng: np.random.Generator, softmax_grad: str
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
    assert max(np.abs(trained["W1"] - p["W1"]).max(), 0) > 1e-3, "training did not move W1"
    assert_params_close(trained, expected, stage="steps", dtype="float64", pair=("torch", "numpy"))
    assert_close(
        history.loss,
        expected_history.loss,
        stage="train_loss",
        tensor="loss",
        dtype="float64",
        pair=("torch", "numpy"),
    )


@pytest.mark.parametrize("dtype", DTYPE_NAMES, ids=DTYPE_NAMES)
def test_standard_training_follows_the_plan_step_by_step(
    adapter: TorchMLP, rng: np.random.Generator, dtype: str
) -> None:
    # 100 samples at batch 32: 4 steps per epoch, the last of 4 samples; two different orders.
    spec = std(dtype, epochs=2)
    p = model.init_params(spec)
    X, y = rng.random((100, SIZES[0])), rng.integers(0, SIZES[-1], 100)
    X_eval, y_eval = rng.random((50, SIZES[0])), rng.integers(0, SIZES[-1], 50)
    orders = [rng.permutation(100), rng.permutation(100)]
    runs = {}
    for name, framework in (("torch", adapter), ("numpy", NumpyMLP())):
        snapshots: dict[int, model.Params] = {}
        params, history = framework.train(
            spec,
            p,
            X,
            y,
            orders,
            eval_data=(X_eval, y_eval),
            on_step=lambda s, snap, into=snapshots: into.update({s: snap()}),
        )
        runs[name] = (params, history, snapshots)
    (params, history, snaps), (ref_params, ref_history, ref_snaps) = runs["torch"], runs["numpy"]
    assert list(snaps) == list(ref_snaps) == list(range(1, 9)) and history.steps == 8
    stage = {1: "step"}
    for step, snap in snaps.items():
        assert_params_close(
            snap,
            ref_snaps[step],
            stage=stage.get(step, "steps"),
            dtype=dtype,
            pair=(f"torch@{step}", f"numpy@{step}"),
        )
    assert_params_close(params, ref_params, stage="steps", dtype=dtype, pair=("torch", "numpy"))
    for field in ("loss", "accuracy"):
        assert len(getattr(history, field)) == 2, field
        assert_close(
            getattr(history, field),
            getattr(ref_history, field),
            stage=f"train_{field}",
            tensor=field,
            dtype=dtype,
            pair=("torch", "numpy"),
        )
    assert len(history.seconds) == 2 and all(s > 0 for s in history.seconds)


@pytest.mark.parametrize(("lr", "exact"), [(0.5, True), (0.1, False)], ids=["lr-0.5", "lr-0.1"])
def test_sgd_update_is_w_minus_lr_dw_to_one_ulp(
    adapter: TorchMLP, data: tuple[np.ndarray, np.ndarray], lr: float, exact: bool
) -> None:
    # torch's CPU SGD is param.add_(grad, alpha=-lr): one fused multiply-add, rounded once.
    # With lr a power of two lr*dW is exact and it is bitwise W - lr*dW; otherwise <= 1 ulp.
    spec = std(epochs=1, lr=lr)
    p = model.init_params(spec)
    X, y = data
    grads = adapter.gradients(spec, p, X[:32], y[:32])
    stepped, _ = adapter.train(spec, p, X[:32], y[:32], [np.arange(32)])
    for key, value in p.items():
        two_roundings = value - lr * grads[key]
        ulps = np.abs(stepped[key] - two_roundings) / np.spacing(np.abs(two_roundings))
        if exact:
            np.testing.assert_array_equal(stepped[key], two_roundings, err_msg=key)
        assert ulps.max() <= 1, f"{key}: {ulps.max()} ulp from W - lr*dW"


def test_snapshot_is_a_copy_the_callback_cannot_disturb(
    adapter: TorchMLP, data: tuple[np.ndarray, np.ndarray]
) -> None:
    spec = std(epochs=1)
    p = model.init_params(spec)
    X, y = data

    def vandal(step: int, snapshot: Callable[[], model.Params]) -> None:
        for value in snapshot().values():
            value[...] = np.nan

    undisturbed, _ = adapter.train(spec, p, X, y, [np.arange(96)])
    disturbed, _ = adapter.train(spec, p, X, y, [np.arange(96)], on_step=vandal)
    for key, value in undisturbed.items():
        np.testing.assert_array_equal(disturbed[key], value, err_msg=key)


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
    "orders-out-of-range": ("train", lambda a: a.update(orders=[np.arange(1, 97)])),
    "eval-wrong-width": ("train", lambda a: a.update(eval_data=(a["X"][:, :3], a["y"]))),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_raises_the_references_value_error(
    adapter: TorchMLP, data: tuple[np.ndarray, np.ndarray], case: str
) -> None:
    spec = std(epochs=1)
    method, spoil = BAD_INPUTS[case]
    messages = []
    for framework in (adapter, NumpyMLP()):
        X, y = data
        args: dict[str, Any] = dict(params=model.init_params(spec), X=X.copy(), y=y.copy())
        args.update(orders=[np.arange(96)], eval_data=None)
        spoil(args)
        call: dict[str, Callable[[], Any]] = {
            "forward": lambda a=args, f=framework: f.forward(spec, a["params"], a["X"]),
            "gradients": lambda a=args, f=framework: f.gradients(spec, a["params"], a["X"], a["y"]),
            "train": lambda a=args, f=framework: f.train(
                spec, a["params"], a["X"], a["y"], a["orders"], eval_data=a["eval_data"]
            ),
        }
        with pytest.raises(ValueError) as error:
            call[method]()
        messages.append(str(error.value))
    assert messages[0] == messages[1]


# --------------------------------------------------------------------------- devices


def test_is_a_framework_that_expresses_every_spec(adapter: TorchMLP) -> None:
    assert isinstance(adapter, Framework) and adapter.name == "torch"
    assert adapter.versions() == {"torch": torch.__version__, "device": "cpu"}
    for spec in (std(), lec(), lec(softmax_grad="jacobian"), std("float32", activation="relu")):
        assert adapter.supports(spec) is None
    assert isinstance(frameworks.load("torch"), TorchMLP)


@pytest.mark.skipif(HAS_CUDA, reason="CUDA is available here: nothing to refuse")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"], ids=str)
def test_cuda_device_without_cuda_is_unavailable(device: str) -> None:
    with pytest.raises(FrameworkUnavailable, match=r"unavailable: torch\.cuda\.is_available"):
        TorchMLP(device)
    with pytest.raises(FrameworkUnavailable, match="use device='cpu'"):
        frameworks.load("torch", device=device)


@pytest.mark.parametrize("device", ["tpu", "mps", "gpu"], ids=str)
def test_unknown_device_is_a_value_error(device: str) -> None:
    with pytest.raises(ValueError, match="'cpu' or 'cuda"):
        TorchMLP(device)


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device: torch.cuda.is_available() is False")
def test_cuda_standard_float64_agrees_with_reference(rng: np.random.Generator) -> None:
    adapter = TorchMLP("cuda")
    assert adapter.device.type == "cuda" and "cuda" in adapter.versions()
    spec = std(epochs=1)
    p = model.init_params(spec)
    X, y = rng.random((640, SIZES[0])), rng.integers(0, SIZES[-1], 640)
    order = [rng.permutation(640)]  # 20 steps of 32
    pair = ("torch-cuda", "numpy")
    probs = adapter.forward(spec, p, X[:32])
    assert isinstance(probs, np.ndarray)
    assert_close(
        probs, model.forward(spec, p, X[:32])[0], stage="forward", tensor="P", dtype="float64"
    )
    assert_params_close(
        adapter.gradients(spec, p, X[:32], y[:32]),
        model.gradients(spec, p, X[:32], y[:32]),
        stage="gradients",
        dtype="float64",
        pair=pair,
    )
    trained, history = adapter.train(spec, p, X, y, order)
    expected, _ = NumpyMLP().train(spec, p, X, y, order)
    assert history.steps == 20
    assert_params_close(trained, expected, stage="steps", dtype="float64", pair=pair)
