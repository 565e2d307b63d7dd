"""The PyTorch witness: an ``nn.Linear`` stack built from the reference's params, in its dtype.

Traps this adapter owns (each tested in tests/frameworks/test_torch.py):

- dtype: every Linear is built in the spec's dtype (torch's default is float32).
- TF32 / bf16: off for every computation (``highest_precision``), restored afterwards. On CPUs
  with AVX512-BF16 ``set_float32_matmul_precision("medium")`` makes float32 matmuls bf16-based
  through oneDNN (measured: forward ~3e-8 off on 784-128-64-10), so it matters off-GPU too.
- loss: ``nn.CrossEntropyLoss`` takes LOGITS and applies log-softmax itself; the reference
  applies softmax first. ``forward`` returns softmax(logits), as the reference does.
- the lecture preset's softmax "derivative" a*(1-a) is not torch's: ``DiagonalSoftmax``.
- layout: ``W{l}`` (fan_out, fan_in) is exactly ``nn.Linear.weight``, so no transpose anywhere.
- SGD rounding: torch's update is ``param.add_(grad, alpha=-lr)``; on CPU torch picks the
  single-tensor for-loop (foreach is its default on CUDA only) and the CPU kernel evaluates it
  as one fused multiply-add, fma(-lr, dW, W), rounded once. The reference computes lr*dW and
  then W - that, rounded twice. They are bitwise equal when lr*dW is exact (lr a power of two,
  e.g. the standard 0.5) and otherwise differ by at most one ulp of W on some entries.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import numpy as np
import torch
from torch import nn

from frameworks.contract import (
    EvalData,
    FrameworkUnavailable,
    History,
    Orders,
    Params,
    StepCallback,
    as_inputs,
    as_labels,
    as_params,
    prepare,
)
from reference.spec import Spec

Array = np.ndarray
Tensor = torch.Tensor
LossFn = Callable[[Tensor, Tensor], Tensor]

DTYPES = {"float64": torch.float64, "float32": torch.float32}
ACTIVATIONS: dict[str, type[nn.Module]] = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
EVAL_CHUNK = 8192  # rows per forward when scoring eval data (as reference.model.predict_proba)


# --------------------------------------------------------------------------- precision switch

# The per-backend precision settings of torch >= 2.9 (absent before). torch 2.13 refuses to READ
# a legacy flag (allow_tf32, get_float32_matmul_precision) that these were set to disagree with,
# so state is saved from both APIs, each value only where readable, and restored in that order.
_NEW_API = ("", "cuda.matmul", "cudnn", "cudnn.conv", "cudnn.rnn", "mkldnn", "mkldnn.matmul")


def _new_api_holder(path: str) -> Any:
    holder: Any = torch.backends
    for part in filter(None, path.split(".")):
        holder = getattr(holder, part)
    return holder


def _read_precision_state() -> tuple[dict[str, Any], dict[str, str]]:
    legacy_getters: dict[str, Callable[[], Any]] = {
        "matmul_precision": torch.get_float32_matmul_precision,
        "cuda_tf32": lambda: torch.backends.cuda.matmul.allow_tf32,
        "cudnn_tf32": lambda: torch.backends.cudnn.allow_tf32,
    }
    legacy: dict[str, Any] = {}
    for name, get in legacy_getters.items():
        # A legacy flag the new API set to something it cannot say raises on reading: skipped.
        with suppress(RuntimeError):
            legacy[name] = get()
    new: dict[str, str] = {}
    for path in _NEW_API:
        with suppress(AttributeError, RuntimeError):  # torch < 2.9 has none of these
            new[path] = _new_api_holder(path).fp32_precision
    return legacy, new


def _restore_precision_state(legacy: dict[str, Any], new: dict[str, str]) -> None:
    # The matmul precision implies allow_tf32 (highest: off, high and medium: on), and setting
    # allow_tf32 after it would turn "medium" into "high": set it only when it is all we know.
    if "matmul_precision" in legacy:
        torch.set_float32_matmul_precision(legacy["matmul_precision"])
    elif "cuda_tf32" in legacy:
        torch.backends.cuda.matmul.allow_tf32 = legacy["cuda_tf32"]
    if "cudnn_tf32" in legacy:
        torch.backends.cudnn.allow_tf32 = legacy["cudnn_tf32"]
    for path, value in new.items():  # last: the legacy setters above overwrite these
        _new_api_holder(path).fp32_precision = value


@contextmanager
def highest_precision() -> Iterator[None]:
    """Full float32 precision inside (no TF32 on CUDA, no bf16 in oneDNN); restored after."""
    legacy, new = _read_precision_state()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        _restore_precision_state(legacy, new)


# --------------------------------------------------------------------------- the model


class DiagonalSoftmax(torch.autograd.Function):
    """Softmax whose backward multiplies by the Jacobian's DIAGONAL only, P(1-P).

    The teaching material's "softmax derivative": it drops the cross terms -P_i P_j, so it is
    NOT the gradient (reference/losses.py, ``softmax_grad="diagonal"``). Z, P: (n, n_classes).
    """

    @staticmethod
    def forward(ctx: Any, Z: Tensor) -> Tensor:
        P = torch.softmax(Z, dim=1)
        ctx.save_for_backward(P)
        return P

    @staticmethod
    def backward(ctx: Any, grad_P: Tensor) -> Tensor:
        (P,) = ctx.saved_tensors
        return grad_P * (P * (1 - P))  # the reference's G * (P * (1 - P)), same rounding order


def build_module(spec: Spec, params: Params, device: torch.device) -> nn.Sequential:
    """Linear, activation, ..., Linear in ``spec.dtype`` on ``device``, holding COPIES of params.

    ``W{l}`` (fan_out, fan_in) is ``nn.Linear.weight`` as is; ``b{l}`` (fan_out,) its bias.
    The output layer has no activation: the module returns logits (n, n_classes).
    """
    dtype = DTYPES[spec.dtype]
    layers: list[nn.Module] = []
    pairs = zip(spec.sizes[:-1], spec.sizes[1:], strict=True)
    for l, (fan_in, fan_out) in enumerate(pairs, start=1):
        # skip_init: no default initialization, so torch's global random state is never drawn.
        linear = nn.utils.skip_init(
            nn.Linear, fan_in, fan_out, bias=spec.bias, device=device, dtype=dtype
        )
        with torch.no_grad():
            linear.weight.copy_(_tensor(params[f"W{l}"]))  # copy_: never the caller's memory
            if spec.bias:
                linear.bias.copy_(_tensor(params[f"b{l}"]))
        layers.append(linear)
        if l < spec.n_layers:
            layers.append(ACTIVATIONS[spec.activation]())
    return nn.Sequential(*layers)


def module_params(spec: Spec, module: nn.Sequential) -> Params:
    """The module's weights as a fresh NumPy params dict in the reference layout (on the CPU)."""
    return _per_key(spec, module, lambda p: p)


def module_grads(spec: Spec, module: nn.Sequential) -> Params:
    """The ``.grad`` of every weight, same keys and layout as ``module_params``."""
    return _per_key(spec, module, lambda p: p.grad)


def _per_key(spec: Spec, module: nn.Sequential, pick: Callable[[Tensor], Any]) -> Params:
    linears = [m for m in module if isinstance(m, nn.Linear)]
    out: Params = {}
    for l, linear in enumerate(linears, start=1):
        out[f"W{l}"] = _numpy(pick(linear.weight))
        if spec.bias:
            out[f"b{l}"] = _numpy(pick(linear.bias))
    return out


def make_loss(spec: Spec) -> LossFn:
    """loss(logits (n, k), targets) -> the batch-mean loss, a 0-d tensor.

    cross_entropy: targets are int64 labels (n,); CrossEntropyLoss applies log-softmax to the
    logits itself, which equals the reference's softmax followed by -log.
    squared_error: targets are one-hot (n, k) in the spec's dtype; mean over batch AND the k
    outputs, as reference/losses.py (so dL/dP = 2(P - Y)/(n k)).
    """
    if spec.loss == "cross_entropy":
        return nn.CrossEntropyLoss(reduction="mean")
    softmax: Callable[[Tensor], Tensor]
    if spec.softmax_grad == "diagonal":
        softmax = DiagonalSoftmax.apply
    else:

        def softmax(Z: Tensor) -> Tensor:
            return torch.softmax(Z, dim=1)

    def squared_error(Z: Tensor, Y: Tensor) -> Tensor:
        return ((softmax(Z) - Y) ** 2).mean()

    return squared_error


def _targets(spec: Spec, labels: Array) -> Array:
    """What ``make_loss(spec)`` takes: int64 labels (n,) or one-hot rows (n, k) in spec.dtype."""
    if spec.loss == "cross_entropy":
        return labels
    # torch's own one-hot, not the reference's: a witness must not share the subject's code.
    hot = torch.nn.functional.one_hot(torch.from_numpy(labels), spec.n_classes)
    return hot.numpy().astype(spec.dtype)


def _probs(module: nn.Sequential, X: Tensor) -> Tensor:
    return torch.softmax(module(X), dim=1)


# --------------------------------------------------------------------------- conversions


def _tensor(array: Array, device: torch.device | None = None) -> Tensor:
    """A tensor of ``array``; on the CPU it may share memory, so only ever read it."""
    with warnings.catch_warnings():  # read-only arrays are fine: nothing here writes to them
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    return tensor if device is None else tensor.to(device)


def _numpy(tensor: Tensor) -> Array:
    """A NumPy copy on the CPU (never a view of the tensor's memory)."""
    return tensor.detach().to("cpu", copy=True).numpy()


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch.device for "cpu", "cuda" or "cuda:N"; FrameworkUnavailable without CUDA."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as error:
        msg = f"device={device!r} is not a torch device; use 'cpu' or 'cuda[:N]'"
        raise ValueError(msg) from error
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        raise ValueError(f"device={device!r}: the torch adapter runs on 'cpu' or 'cuda[:N]'")
    if not torch.cuda.is_available():
        raise FrameworkUnavailable(
            f"torch on {str(device)!r} is unavailable: torch.cuda.is_available() is False "
            f"(torch {torch.__version__}, CUDA build {torch.version.cuda}); use device='cpu', "
            "or a CUDA build of torch on a machine with an NVIDIA GPU"
        )
    index = torch.cuda.current_device() if dev.index is None else dev.index
    if index >= torch.cuda.device_count():
        raise FrameworkUnavailable(
            f"torch on {str(device)!r} is unavailable: only {torch.cuda.device_count()} CUDA "
            f"device(s) here (0..{torch.cuda.device_count() - 1})"
        )
    return torch.device("cuda", index)


# --------------------------------------------------------------------------- the adapter


class TorchMLP:
    """PyTorch behind the common interface; every spec is expressible.

    ``device``: "cpu" (default), "cuda" or "cuda:N". Results always come back as CPU NumPy.
    """

    name = "torch"

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = resolve_device(device)

    def versions(self) -> dict[str, str]:
        out = {"torch": torch.__version__, "device": str(self.device)}
        if self.device.type == "cuda":
            out["device"] += f" ({torch.cuda.get_device_name(self.device)})"
            out["cuda"] = str(torch.version.cuda)
        return out

    def supports(self, spec: Spec) -> str | None:
        return None  # both presets, every activation, loss, softmax_grad and dtype

    def forward(self, spec: Spec, params: Params, X: Array) -> Array:
        p, X = as_params(spec, params), as_inputs(spec, X)
        with highest_precision(), torch.no_grad():
            module = build_module(spec, p, self.device)
            return _numpy(_probs(module, _tensor(X, self.device)))

    def gradients(self, spec: Spec, params: Params, X: Array, y: Array) -> Params:
        p, X = as_params(spec, params), as_inputs(spec, X)
        labels = as_labels(spec, y, X.shape[0])
        with highest_precision():
            module = build_module(spec, p, self.device)
            T = _tensor(_targets(spec, labels), self.device)
            make_loss(spec)(module(_tensor(X, self.device)), T).backward()
            return module_grads(spec, module)

    def train(
        self,
        spec: Spec,
        params: Params,
        X: Array,
        y: Array,
        orders: Orders,
        *,
        eval_data: EvalData | None = None,
        on_step: StepCallback | None = None,
    ) -> tuple[Params, History]:
        """SGD over consecutive chunks of each epoch's order (the last, smaller one kept).

        X and the targets are converted to tensors once; each step indexes them with the
        batch's index tensor. History as frameworks.contract defines it.
        """
        given = prepare(spec, params, X, y, orders, eval_data)
        device = self.device
        history = History()
        with highest_precision():
            module = build_module(spec, given.params, device)
            Xt = _tensor(given.X, device)  # (n_samples, n_features)
            T = _tensor(_targets(spec, given.labels), device)  # (n,) labels or (n, k) one-hot
            if given.eval_data is not None:
                X_eval_t, y_eval_t = (_tensor(a, device) for a in given.eval_data)
            loss_fn = make_loss(spec)
            optimizer = torch.optim.SGD(
                module.parameters(),
                lr=spec.lr,
                momentum=0,
                dampening=0,
                weight_decay=0,
                nesterov=False,
            )

            def snapshot() -> Params:
                return module_params(spec, module)

            for order in given.plan:
                start = time.perf_counter()
                order_t = _tensor(order.astype(np.int64, copy=False), device)
                losses: list[Tensor] = []
                sizes: list[int] = []
                # torch's own chunking (the last, smaller batch kept), not the reference's.
                for idx in order_t.split(spec.batch_size):
                    batch_loss = loss_fn(module(Xt[idx]), T[idx])
                    # Zeroed in place, not freed: a fresh 800 KB dW1 every step let glibc's heap
                    # grow by ~0.1 MB a step (measured: +450 MB transient over 10 MNIST epochs).
                    # 0 + dW is exactly dW, so the numbers are the same either way.
                    optimizer.zero_grad(set_to_none=False)
                    batch_loss.backward()
                    optimizer.step()
                    losses.append(batch_loss.detach())
                    sizes.append(idx.shape[0])
                    history.steps += 1
                    if on_step is not None:
                        on_step(history.steps, snapshot)
                # One transfer per epoch (no per-step sync on CUDA); summed in Python floats in
                # step order, as the reference accumulates loss * batch size.
                total = 0.0
                for batch_loss_value, size in zip(torch.stack(losses).tolist(), sizes, strict=True):
                    total += batch_loss_value * size
                history.seconds.append(time.perf_counter() - start)
                history.loss.append(total / order.shape[0])
                if given.eval_data is not None:
                    history.accuracy.append(_accuracy(module, X_eval_t, y_eval_t))
            return snapshot(), history


def _accuracy(module: nn.Sequential, X: Tensor, y: Tensor) -> float:
    """Fraction of rows whose softmax argmax is the label, scored in chunks of EVAL_CHUNK rows."""
    if X.shape[0] == 0:
        return float("nan")  # as NumPy's mean of no rows, without its warning
    correct = 0
    with torch.no_grad():
        for start in range(0, X.shape[0], EVAL_CHUNK):
            rows = slice(start, start + EVAL_CHUNK)
            correct += int((_probs(module, X[rows]).argmax(dim=1) == y[rows]).sum())
    return correct / X.shape[0]
