"""scikit-learn's MLPClassifier as a witness: its own backprop and SGD optimizer, started from
the reference's weights and driven over the shared batch plan.

``fit`` is never called: it would draw its own init, pick its own batches and may stop early.
Instead the estimator is set up the way ``fit`` sets it up (``_initialize``, an ``SGDOptimizer``
built from the estimator's own settings), the reference's weights are written into its arrays
in place, and each step is scikit-learn's ``_backprop`` followed by ``update_params``, exactly
the body of its ``_fit_stochastic`` loop. Checked against the sources of 1.5 to 1.9.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy
import sklearn
from scipy.special import log_softmax
from sklearn.neural_network import MLPClassifier
from sklearn.neural_network._stochastic_optimizers import SGDOptimizer
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state

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
    require_support,
)
from reference.spec import Spec

Array = np.ndarray
# _backprop(X, Y, activations, deltas, coef_grads, intercept_grads) -> (loss, coef_grads,
# intercept_grads), whatever the installed version's own signature (see backprop_dispatch).
Backprop = Callable[[Array, Array, list, list, list, list], tuple[float, list, list]]

ACTIVATIONS = {"sigmoid": "logistic", "tanh": "tanh", "relu": "relu"}


def settings(spec: Spec) -> dict[str, Any]:
    """MLPClassifier's constructor arguments for plain mini-batch SGD on ``spec``.

    Every default that differs from plain SGD is overridden, and the two that already agree are
    stated, so that a changed default cannot slip in:

    parameter           default     here              why
    solver              "adam"      "sgd"             plain SGD, W <- W - lr * dW
    alpha               1e-4        0.0               no L2 penalty (it adds alpha*W/n to dW)
    momentum            0.9         0.0               no velocity carried between steps
    nesterovs_momentum  True        False             no look-ahead step
    learning_rate       "constant"  "constant"        no invscaling / adaptive decay
    learning_rate_init  0.001       spec.lr           the spec's step size
    activation          "relu"      spec.activation   sigmoid -> "logistic", tanh, relu
    hidden_layer_sizes  (100,)      spec.sizes[1:-1]  the spec's hidden layers
    shuffle             True        False             the batch plan alone fixes the order
    batch_size          "auto"      spec.batch_size   "auto" is min(200, n_samples)
    max_iter            200         spec.epochs       the spec's epochs
    tol                 1e-4        0.0               no improvement threshold...
    n_iter_no_change    10          inf               ...and never a stop for lack of one
    early_stopping      False       False             no 10% validation split held out
    random_state        None        spec.seed         no global RNG (its one draw is overwritten)

    The first eight are read by the code that runs here (``_initialize``, ``_backprop``,
    ``SGDOptimizer``). ``fit`` is never called, so the rest only describe the run: the batch
    plan sets order, batch size and epochs; they would also keep a stray ``fit`` plain SGD.
    """
    return dict(
        hidden_layer_sizes=tuple(spec.sizes[1:-1]),
        activation=ACTIVATIONS[spec.activation],
        solver="sgd",
        alpha=0.0,
        batch_size=spec.batch_size,
        learning_rate="constant",
        learning_rate_init=spec.lr,
        max_iter=spec.epochs,
        shuffle=False,
        random_state=spec.seed,
        tol=0.0,
        momentum=0.0,
        nesterovs_momentum=False,
        early_stopping=False,
        n_iter_no_change=np.inf,
    )


# --------------------------------------------------------------------------- the one transpose
# scikit-learn computes A @ coefs_[i] with coefs_[i] of shape (fan_in, fan_out); the reference
# (like torch.nn.Linear) keeps W (fan_out, fan_in) and computes A @ W.T. So coefs_[i] = W.T, and
# these two functions are the only place in the adapter where that transpose happens.


def to_sklearn_layout(spec: Spec, params: Params) -> tuple[list[Array], list[Array]]:
    """Reference params -> (coefs, intercepts): coefs[i] = W{i+1}.T (fan_in, fan_out), a view;
    intercepts[i] = b{i+1} (fan_out,)."""
    coefs, intercepts = [], []
    for l in range(1, spec.n_layers + 1):
        fan_in, fan_out = spec.sizes[l - 1], spec.sizes[l]
        W, b = params[f"W{l}"], params[f"b{l}"]
        assert W.shape == (fan_out, fan_in), f"W{l} {W.shape} != (fan_out, fan_in)"
        assert b.shape == (fan_out,), f"b{l} {b.shape} != (fan_out,)"
        coefs.append(W.T)  # (fan_in, fan_out)
        intercepts.append(b)
    return coefs, intercepts


def to_reference_layout(spec: Spec, coefs: list[Array], intercepts: list[Array]) -> Params:
    """(coefs, intercepts) -> reference params (copies): W{l} = coefs[l-1].T (fan_out, fan_in),
    b{l} = intercepts[l-1] (fan_out,). Works for gradients too (coef_grads, intercept_grads)."""
    assert len(coefs) == len(intercepts) == spec.n_layers, "one coef and intercept per layer"
    params: Params = {}
    for l in range(1, spec.n_layers + 1):
        fan_in, fan_out = spec.sizes[l - 1], spec.sizes[l]
        coef, intercept = coefs[l - 1], intercepts[l - 1]
        assert coef.shape == (fan_in, fan_out), f"coefs[{l - 1}] {coef.shape} != (fan_in, fan_out)"
        assert intercept.shape == (fan_out,), f"intercepts[{l - 1}] {intercept.shape} != (fan_out,)"
        params[f"W{l}"] = coef.T.copy(order="C")  # (fan_out, fan_in), always a copy
        params[f"b{l}"] = intercept.copy()
    return params


# --------------------------------------------------------------------------- private API
# _backprop's signature changed in scikit-learn 1.7, which inserted sample_weight after y:
#   1.5, 1.6: _backprop(X, y, activations, deltas, coef_grads, intercept_grads)
#   1.7-1.9:  _backprop(X, y, sample_weight, activations, deltas, coef_grads, intercept_grads)
# The installed method's own signature decides which call is made (a version string says what
# was released, the signature says what is there: backports and dev builds differ). Any other
# signature is a version this adapter was not checked against: unavailable, with the reason.
_BACKPROP_OLD = ("X", "y", "activations", "deltas", "coef_grads", "intercept_grads")
_BACKPROP_NEW = ("X", "y", "sample_weight", *_BACKPROP_OLD[2:])


def backprop_dispatch(method: Callable[..., Any]) -> tuple[str, Backprop]:
    """For a bound ``_backprop``: ("sample_weight" or "no sample_weight", a caller without it)."""
    names = tuple(inspect.signature(method).parameters)
    if names == _BACKPROP_OLD:
        return "no sample_weight", method
    if names == _BACKPROP_NEW:

        def call(X: Array, Y: Array, a: list, d: list, cg: list, ig: list) -> Any:
            return method(X, Y, None, a, d, cg, ig)  # sample_weight=None: every sample weighs 1

        return "sample_weight", call
    raise FrameworkUnavailable(
        f"sklearn {sklearn.__version__} is unavailable: MLPClassifier._backprop{names} is neither "
        f"the 1.5-1.6 form {_BACKPROP_OLD} nor the 1.7-1.9 form {_BACKPROP_NEW}; "
        "this adapter needs checking against that version"
    )


def build_estimator(spec: Spec, params: Params) -> MLPClassifier:
    """An MLPClassifier set up as ``fit`` would set it up, holding ``params`` (validated).

    The label binarizer is fitted on 0..n_classes-1, so class k is always column k, whatever
    classes a batch holds. ``_initialize`` draws an init (from spec.seed) that ``load_params``
    overwrites at once, in place, before the optimizer ever sees it.
    """
    est = MLPClassifier(**settings(spec))
    est._validate_params()  # scikit-learn's own check of the settings above
    est._label_binarizer = LabelBinarizer().fit(np.arange(spec.n_classes))
    est.classes_ = est._label_binarizer.classes_
    est.n_features_in_ = spec.n_features
    est._random_state = check_random_state(est.random_state)
    Y = est._label_binarizer.transform(est.classes_)  # (n_classes, n_classes): sets n_outputs_
    est._initialize(Y, list(spec.sizes), np.dtype(spec.dtype))
    # As _fit_stochastic does: the optimizer from the estimator's own settings.
    est._optimizer = SGDOptimizer(
        est.coefs_ + est.intercepts_,
        est.learning_rate_init,
        est.learning_rate,
        est.momentum,
        est.nesterovs_momentum,
        est.power_t,
    )
    load_params(spec, est, params)
    return est


def load_params(spec: Spec, est: MLPClassifier, params: Params) -> None:
    """Write reference params into the estimator's own arrays, in place.

    Never rebind coefs_[i]: scikit-learn's loop hands the list ``coefs_ + intercepts_`` made
    once to ``update_params``, which adds into those very arrays; a rebound coefs_[i] would be
    read by the forward pass while the updates went to the old array.
    """
    coefs, intercepts = to_sklearn_layout(spec, params)
    for dst, src in zip(est.coefs_ + est.intercepts_, coefs + intercepts, strict=True):
        dst[...] = src


def targets(est: MLPClassifier, y: Array) -> Array:
    """Integer labels (n,) -> (n, n_classes) bool indicator rows, as MLPClassifier makes them."""
    return est._label_binarizer.transform(y).astype(bool)


class SGDRun:
    """One estimator ready for steps: scikit-learn's backprop and optimizer, and the work lists
    its loop reuses (activations, deltas, coef_grads, intercept_grads)."""

    def __init__(self, spec: Spec, params: Params) -> None:
        self.spec = spec
        self.estimator = est = build_estimator(spec, params)
        self.params = est.coefs_ + est.intercepts_  # the list _fit_stochastic updates, made once
        self.branch, self.backprop = backprop_dispatch(est._backprop)
        n_layers = len(spec.sizes)
        self.activations: list = [None] * n_layers  # activations[0] = the batch
        self.deltas: list = [None] * (n_layers - 1)
        self.coef_grads = [np.empty_like(c) for c in est.coefs_]
        self.intercept_grads = [np.empty_like(b) for b in est.intercepts_]

    def grads(self, Xb: Array, Yb: Array) -> tuple[float, list[Array], list[Array]]:
        """scikit-learn's loss and gradients of the batch mean, in its layout."""
        self.activations[0] = Xb
        loss, self.coef_grads, self.intercept_grads = self.backprop(
            Xb, Yb, self.activations, self.deltas, self.coef_grads, self.intercept_grads
        )
        return float(loss), self.coef_grads, self.intercept_grads

    def unclipped_loss(self, Yb: Array) -> float:
        """The batch's mean log-loss from scikit-learn's own last forward pass, not clipped.

        ``_backprop`` returns log-loss of probabilities clipped to [eps, 1 - eps] (eps of the
        dtype): a true-class probability below eps counts as -log(eps) (36.04 in float64,
        15.94 in float32), which a diverging run reaches (lr 20 on MNIST: epoch losses 1.4%
        apart) and float32 reaches on single digits of full MNIST. The contract's loss is
        the plain mean cross-entropy, so it is computed here from the logits scikit-learn's
        forward pass computed (its last hidden activations times its own coefs_, plus its
        intercepts_, exactly as ``_forward_pass`` adds them), through scipy's log_softmax.
        Where nothing is clipped the two agree to rounding (tests/frameworks/test_sklearn.py).
        Training never sees the clip either way: its output delta is probs - Y.
        """
        Z = self.activations[-2] @ self.estimator.coefs_[-1]  # (n, fan_in) @ (fan_in, k)
        Z += self.estimator.intercepts_[-1]
        return float(-log_softmax(Z, axis=1)[Yb].sum() / Yb.shape[0])

    def step(self, Xb: Array, Yb: Array) -> float:
        """One SGD step in place; returns the (unclipped) batch loss before it."""
        _, coef_grads, intercept_grads = self.grads(Xb, Yb)
        loss = self.unclipped_loss(Yb)
        self.estimator._optimizer.update_params(self.params, coef_grads + intercept_grads)
        return loss

    def end_epoch(self, loss: float, n_samples: int) -> None:
        """The bookkeeping _fit_stochastic does after each epoch (stopping checks left out)."""
        est = self.estimator
        est.n_iter_ += 1
        est.t_ += n_samples
        est.loss_ = loss
        est.loss_curve_.append(loss)
        est._optimizer.iteration_ends(est.t_)  # a no-op for the constant schedule

    def snapshot(self) -> Params:
        """A copy of the current params in the reference layout."""
        return to_reference_layout(self.spec, self.estimator.coefs_, self.estimator.intercepts_)


class SklearnMLP:
    """scikit-learn's MLPClassifier, forced to plain SGD over the shared batch plan."""

    name = "sklearn"

    def __init__(self) -> None:
        # Fail here, as "unavailable", rather than mid-run on an unknown private signature.
        self.backprop_branch = backprop_dispatch(MLPClassifier()._backprop)[0]

    def versions(self) -> dict[str, str]:
        return {
            "scikit-learn": sklearn.__version__,
            "scipy": scipy.__version__,
            "numpy": np.__version__,
        }

    def supports(self, spec: Spec) -> str | None:
        reasons = []
        if spec.loss != "cross_entropy":
            reasons.append(
                f"MLPClassifier always uses log-loss, it has no {spec.loss} on a softmax output."
            )
        if spec.softmax_grad == "diagonal":
            reasons.append(
                "softmax_grad='diagonal' is not a gradient; scikit-learn backpropagates "
                "the true one."
            )
        if not spec.bias:
            reasons.append("MLPClassifier always has intercepts; bias=False cannot be expressed.")
        if spec.n_classes == 2:
            reasons.append(
                "with two classes MLPClassifier uses one logistic output unit, not a softmax."
            )
        return " ".join(reasons) or None

    def forward(self, spec: Spec, params: Params, X: Array) -> Array:
        require_support(self, spec)
        est = build_estimator(spec, as_params(spec, params))
        # n_classes > 2, so this is the softmax output itself (no [1 - p, p] stacking).
        probs: Array = est.predict_proba(as_inputs(spec, X))
        return probs

    def gradients(self, spec: Spec, params: Params, X: Array, y: Array) -> Params:
        require_support(self, spec)
        p = as_params(spec, params)
        X = as_inputs(spec, X)
        labels = as_labels(spec, y, X.shape[0])
        run = SGDRun(spec, p)
        # _backprop divides by n_samples itself (mean loss); alpha=0 adds 0.0 * coefs_.
        _, coef_grads, intercept_grads = run.grads(X, targets(run.estimator, labels))
        return to_reference_layout(spec, coef_grads, intercept_grads)

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
        require_support(self, spec)
        given = prepare(spec, params, X, y, orders, eval_data)
        X = given.X
        run = SGDRun(spec, given.params)
        Y = targets(run.estimator, given.labels)  # (n_samples, n_classes) bool, made once
        history = History()
        for order in given.plan:
            start = time.perf_counter()
            total = 0.0
            # Consecutive chunks of the plan, the last smaller one kept; sliced here rather than
            # by reference.train.batches, so a witness never shares the subject's batching.
            for i in range(0, order.shape[0], spec.batch_size):
                idx = order[i : i + spec.batch_size]
                total += run.step(X[idx], Y[idx]) * idx.shape[0]
                history.steps += 1
                if on_step is not None:
                    on_step(history.steps, run.snapshot)
            history.seconds.append(time.perf_counter() - start)
            history.loss.append(total / order.shape[0])
            run.end_epoch(history.loss[-1], order.shape[0])
            if given.eval_data is not None:
                X_eval, y_eval = given.eval_data
                predicted = run.estimator.predict(X_eval)
                history.accuracy.append(float((predicted == y_eval).mean()))
        return run.snapshot(), history
