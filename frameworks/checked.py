"""A user's implementation seen through the contract: every answer checked at the boundary.

``Checked`` wraps a user's MLP (made by ``frameworks.external.checked``) so that whatever it
returns is held to the contract before the judge sees it, and whatever goes wrong is ONE line
naming what and where (``ContractError``):

- a missing ``forward`` or ``gradients``, or one that cannot take the contract's arguments;
- a wrong return type, shape or keys: probs (n, n_classes), grads and trained params with the
  params' keys and shapes (``W{l}`` (fan_out, fan_in), ``b{l}`` (fan_out,)), a history with a
  per-epoch ``loss`` and ``accuracy``;
- a wrong dtype: every returned array in ``spec.dtype``;
- non-finite probs or grads on ORDINARY inputs: finite params and X on which no logit of the
  model reaches log(max float) (709.8 in float64, 88.7 in float32). The judge's large-logit
  probe goes past that on purpose; NaN there is a disagreement (a FAIL at ``forward``), and so
  is an exception raised there (a plain ``RuntimeError`` with the user's line, which fails the
  stage);
- an exception inside the user's code: the user's own frame (file:line in function, the source
  line) and the exception. Except where numbers may legitimately go bad: on the large-logit
  probe, and an arithmetic error (overflow, a RuntimeWarning raised as an error) inside
  ``train``: there it is a ``RuntimeError`` with that line, which fails the stage (or the
  run), so that a wrong gradient that makes the training overflow is still found at
  ``gradients``.

The built-in adapters are not wrapped: a crash of theirs is a failing stage, as before. The
first violation is kept on the wrapper (``violation``) as well as raised, so a caller whose
own loop catches exceptions (the full trainings) can still find it.
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from frameworks.contract import EvalData, History, Orders, Params, StepCallback, as_history
from frameworks.frames import describe

if TYPE_CHECKING:
    from reference.spec import Spec

Array = np.ndarray
DOCS = "docs/own-mlp.md"
FILE_MODULE_PREFIX = "_mlp_parity_file_"  # the module name of a file loaded as path.py:Class
# Arithmetic gone wrong (a RuntimeWarning too, where warnings are errors, as under pytest's
# filterwarnings): inside train, a failing stage rather than a broken contract.
NUMERIC_ERRORS = (ArithmeticError, RuntimeWarning)


class ContractError(ValueError):
    """An implementation that breaks the contract or cannot be loaded: one line, what and where."""

    def __init__(self, line: str) -> None:
        super().__init__(" ".join(line.split()))  # one line, whatever the parts held


def recorded_violation(frameworks: Iterable[object], reasons: Iterable[str | None] = ()) -> None:
    """Raise the first contract violation of ``frameworks`` (kept on a wrapper), or one a
    run's ``reasons`` records as "raised ContractError: ..." (a training in another process,
    whose wrapper the caller never sees)."""
    for framework in frameworks:
        violation = getattr(framework, "violation", None)
        if violation is not None:
            raise violation
    prefix = f"raised {ContractError.__name__}: "
    for reason in reasons:
        if reason is not None and reason.startswith(prefix):
            raise ContractError(reason[len(prefix) :])


def default_versions(impl: object) -> dict[str, str]:
    """NumPy's version, and the user's module's ``__version__`` when it has one (keyed by
    the module's name; a module loaded from a file by the file's name)."""
    versions = {"numpy": np.__version__}
    module = sys.modules.get(type(impl).__module__)
    version = getattr(module, "__version__", None)
    if module is not None and version is not None:
        label = module.__name__
        if label.startswith(FILE_MODULE_PREFIX) and getattr(module, "__file__", None):
            label = Path(str(module.__file__)).name
        versions[label] = str(version)
    return versions


# --------------------------------------------------------------------------- the wrapper


class _FromJudge(Exception):
    """An exception of the judge's own on_step hook, carried through the user's train loop."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class Checked:
    """A user's implementation with ``forward`` and ``gradients``, every answer checked."""

    def __init__(self, impl: Any, *, name: str, source: str | None, files: Iterable[str]) -> None:
        self.impl = impl
        self.name = name
        self.source = source  # "path.py:Class", "module:Class" or an entry point's name
        self.files = set(files)
        self.violation: ContractError | None = None  # the first contract violation, if any

    def __repr__(self) -> str:
        return f"Checked({self.name!r}, {self.impl!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # A worker process loads the implementation again from where it came from (a module
        # loaded from a path cannot be pickled by reference); an object given directly pickles
        # as itself.
        if self.source is not None:
            from frameworks.external import reload

            return (reload, (self.source, self.name))
        return (_rewrap, (self.impl, self.name))

    # ----------------------------------------------------------------- optional parts

    def versions(self) -> dict[str, str]:
        get = getattr(self.impl, "versions", None)
        if get is None:
            return default_versions(self.impl)
        value = self._call("versions", get)
        if not isinstance(value, Mapping):
            self._fail(f"{self.name}.versions() returned {_kind(value)}, expected a dict")
        return {str(k): str(v) for k, v in value.items()}

    def supports(self, spec: Spec) -> str | None:
        get = getattr(self.impl, "supports", None)
        if get is None:
            return None
        reason = self._call("supports", get, spec)
        if reason is not None and not isinstance(reason, str):
            self._fail(
                f"{self.name}.supports() returned {_kind(reason)}, expected None (it can run "
                "this spec) or a string saying why not"
            )
        return reason

    # ----------------------------------------------------------------- the math

    def forward(self, spec: Spec, params: Params, X: Array) -> Array:
        n, k = X.shape[0], spec.n_classes
        inputs = (spec, params, X)
        probs = self._call(
            "forward", self.impl.forward, spec, _copies(params), _readonly(X), inputs=inputs
        )
        what = f"{self.name}.forward()"
        _check_array(self, what, probs, (n, k), spec.dtype, "probs (n_samples, n_classes)")
        self._finite(what, probs, inputs)
        return probs

    def gradients(self, spec: Spec, params: Params, X: Array, y: Array) -> Params:
        inputs = (spec, params, X)
        grads = self._call(
            "gradients",
            self.impl.gradients,
            spec,
            _copies(params),
            _readonly(X),
            _readonly(y),
            inputs=inputs,
        )
        what = f"{self.name}.gradients()"
        grads = _check_params(self, what, grads, spec)
        for key, value in grads.items():
            self._finite(f"{what}[{key!r}]", value, inputs)
        return grads

    # ----------------------------------------------------------------- checks

    def _call(
        self,
        method: str,
        function: Callable[..., Any],
        *args: Any,
        inputs: tuple[Spec, Params, Array] | None = None,
        training: bool = False,
        **kwargs: Any,
    ) -> Any:
        """The user's method on ``args``; an exception becomes one located line: a
        ContractError, or a RuntimeError (a failing stage) where numbers may legitimately go
        bad: forward on inputs that are not ordinary, arithmetic errors while training."""
        try:
            return function(*args, **kwargs)
        except ContractError as error:  # ours, raised from a hook inside the user's loop
            self.violation = self.violation or error
            raise
        except _FromJudge as carried:
            raise carried.error from None
        except Exception as error:
            line = f"{self.name}.{method} raised {describe(error, self.files)}"
            stressed = inputs is not None and not ordinary(*inputs)
            blew_up = training and isinstance(error, NUMERIC_ERRORS)
            if stressed or blew_up:
                # The judge's finding, not a broken contract: the large-logit probe, or a
                # training that overflows (usually after a wrong gradient, which the judge
                # shows as the first failing stage).
                raise RuntimeError(line) from error
            self._fail(line)

    def _finite(self, what: str, value: Array, inputs: tuple[Spec, Params, Array]) -> None:
        if np.isfinite(value).all() or not ordinary(*inputs):
            return
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        spec = inputs[0]
        self._fail(
            f"{what} is {value[where]} at {list(where)} on ordinary inputs (finite params "
            f"and X, every logit within ±{_overflow(spec.dtype):.1f}, where exp does not "
            "overflow): a correct implementation is finite there"
        )

    def _fail(self, line: str) -> NoReturn:
        error = ContractError(line)
        self.violation = self.violation or error
        raise error


class CheckedTrainable(Checked):
    """A user's implementation that trains too: ``train``'s answers checked as well."""

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
        function = self.impl.train
        accepted = _keywords(function)
        kwargs: dict[str, Any] = {}
        if eval_data is not None:
            if "eval_data" not in accepted:
                self._fail(
                    f"{self.name}.train does not take eval_data=(X_test, y_test), which the "
                    f"judge passes for the per-epoch test accuracy; see {DOCS}"
                )
            kwargs["eval_data"] = (_readonly(eval_data[0]), _readonly(eval_data[1]))
        if on_step is not None and "on_step" in accepted:  # optional: the divergence curve
            kwargs["on_step"] = self._step_hook(spec, on_step)
        plan = [_readonly(np.asarray(order)) for order in orders]
        start = time.perf_counter()
        arrays = (_copies(params), _readonly(X), _readonly(y), plan)
        out = self._call("train", function, spec, *arrays, training=True, **kwargs)
        what = f"{self.name}.train()"
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            self._fail(f"{what} returned {_kind(out)}, expected a pair (params, history)")
        trained = _check_params(self, f"{what}'s params", out[0], spec)
        history = self._history(what, out[1], spec.epochs, eval_data is not None)
        if not history.seconds:  # not measured per epoch: the training's mean, for the table
            history.seconds = [(time.perf_counter() - start) / spec.epochs] * spec.epochs
        return trained, history

    def _history(self, what: str, value: object, epochs: int, evaluated: bool) -> History:
        has = value.__contains__ if isinstance(value, Mapping) else partial(hasattr, value)
        missing = [key for key in ("loss", "accuracy") if not has(key)]
        if missing:
            self._fail(
                f"{what}'s history ({_kind(value)}) has no {' and no '.join(map(repr, missing))}"
                ": expected per-epoch 'loss' and 'accuracy' lists (a dict, or an object with "
                "those attributes)"
            )
        try:
            history = as_history(value)
        except (TypeError, ValueError) as error:
            self._fail(f"{what}'s history cannot be read: {error}")
        counts = {"loss": len(history.loss)}
        if evaluated:
            counts["accuracy"] = len(history.accuracy)
        for key, count in counts.items():
            if count != epochs:
                self._fail(
                    f"{what}'s history[{key!r}] has {count} entries, expected one per epoch "
                    f"({epochs})"
                )
        return history

    def _step_hook(self, spec: Spec, on_step: StepCallback) -> Callable[[int, Any], None]:
        """The judge's on_step, with the user's snapshot checked and the judge's own errors
        carried through the user's loop untouched."""

        def hook(step: int, snapshot: Any) -> None:
            def snap() -> Params:
                value = snapshot() if callable(snapshot) else snapshot
                params = _check_params(self, f"{self.name}.train()'s on_step snapshot", value, spec)
                return {k: v.copy() for k, v in params.items()}

            try:
                on_step(int(step), snap)
            except ContractError:
                raise
            except Exception as error:
                raise _FromJudge(error) from error

        return hook


def _rewrap(impl: object, name: str) -> Checked:
    from frameworks.external import checked

    return checked(impl, name=name)


# --------------------------------------------------------------------------- value checks


def _check_array(
    owner: Checked, what: str, value: object, shape: tuple[int, ...], dtype: str, meaning: str
) -> Array:
    if not isinstance(value, np.ndarray):
        owner._fail(f"{what} is {_kind(value)}, expected a NumPy array: {meaning} = {shape}")
    if value.shape != shape:
        hint = ""
        if value.shape == shape[::-1] and len(shape) == 2:
            hint = " (transposed? " + (
                "W{l} is (fan_out, fan_in), as torch.nn.Linear.weight)"
                if meaning.startswith("(fan_out")
                else "one row per sample)"
            )
        elif len(shape) == 1 and value.size == shape[0]:
            hint = " (biases are 1-D)"
        owner._fail(f"{what} has shape {value.shape}, expected {meaning} = {shape}{hint}")
    if value.dtype != np.dtype(dtype):
        owner._fail(
            f"{what} has dtype {value.dtype}, expected the spec's {dtype} (compute in "
            "spec.dtype: the params and X arrive in it)"
        )
    return value


def _check_params(owner: Checked, what: str, value: object, spec: Spec) -> Params:
    """Keys, shapes and dtype of a params-like dict (gradients, trained params, a snapshot)."""
    if not isinstance(value, Mapping):
        keys = list(spec.param_keys())
        owner._fail(f"{what} is {_kind(value)}, expected a dict with keys {keys}")
    shapes = spec.param_shapes()
    missing = [k for k in shapes if k not in value]
    extra = [k for k in value if k not in shapes]
    if missing or extra:
        parts = [f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else ""]
        owner._fail(
            f"{what} has keys {sorted(map(str, value))}, expected {list(shapes)} "
            f"({', '.join(p for p in parts if p)})"
        )
    out: Params = {}
    for key, shape in shapes.items():
        meaning = "(fan_out, fan_in)" if key.startswith("W") else "(fan_out,)"
        out[key] = _check_array(owner, f"{what}[{key!r}]", value[key], shape, spec.dtype, meaning)
    return out


def ordinary(spec: Spec, params: Params, X: Array) -> bool:
    """Finite params and X on which no logit reaches log(max float): a correct forward is
    finite there. The large-logit probe is not ordinary."""
    from reference.model import forward_unchecked  # the judge's own reading of the logits

    if not all(np.isfinite(v).all() for v in params.values()) or not np.isfinite(X).all():
        return False
    with np.errstate(all="ignore"):
        _, cache = forward_unchecked(spec, params, X)
    Z = cache.Z[spec.n_layers]
    return bool(np.isfinite(Z).all() and (np.abs(Z).max(initial=0.0) < _overflow(spec.dtype)))


def _overflow(dtype: str) -> float:
    return float(np.log(np.finfo(dtype).max))


def _copies(params: Mapping[str, Array]) -> Params:
    """The user's own copy of the params: an in-place update never reaches the judge's."""
    return {key: np.array(value, copy=True) for key, value in params.items()}


def _readonly(a: Any) -> Any:
    """A read-only view: writing into the judge's data raises in the user's line instead."""
    if not isinstance(a, np.ndarray):
        return a
    view = a.view()
    view.flags.writeable = False
    return view


def _keywords(function: Callable[..., Any]) -> set[str]:
    """The keyword arguments ``function`` accepts (every name, with ``**kwargs``)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return {"eval_data", "on_step"}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return {"eval_data", "on_step"}
    return {p.name for p in parameters if p.kind is not inspect.Parameter.POSITIONAL_ONLY}


def _kind(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array {value.shape} {value.dtype}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}" if value is not None else "None"
