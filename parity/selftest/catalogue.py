"""The catalogue: realistic defects of a hand-written MLP and its ports, and where each is caught.

Each ``Mutant`` plants one mistake without editing a file: a mutated adapter put in the place
of the subject ("numpy") or of a witness (parity/selftest/patching.py), wrong initial weights
handed to the judge, or a wrong data pipeline. ``stage`` is the first stage of
``tolerances.STAGES`` that must fail when the judge runs the mutant's spec on the selftest's
data (N_TRAIN training digits, so that an epoch ends in a smaller batch, and N_TEST test
digits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

import frameworks
from frameworks.contract import Framework, Params
from parity.selftest import subject
from parity.selftest.patching import Mutated, Patch, attribute, entries, swap
from reference.activations import DERIVATIVES
from reference.spec import Spec, lecture, standard

Array = np.ndarray
DataBug = Callable[[Array, Array], tuple[Array, Array]]  # (X_train, X_test) -> the same, wrong
N_TRAIN, N_TEST = 300, 100  # 300 = 9 batches of 32 and one of 12
WITNESSES = ("torch", "sklearn")

# The specs the defects are judged on: small enough for the whole catalogue to run in seconds.
BASE = standard(sizes=(784, 32, 16, 10), batch_size=32, lr=0.5, epochs=2, seed=0)
SQUARE = BASE.replace(sizes=(784, 32, 32, 10))  # one square layer (32x32)
TANH = BASE.replace(activation="tanh")
LECTURE_INIT = BASE.replace(init="lecture")
# The material's network (squared error, per-sample SGD, no biases) with the true derivative.
LECTURE = lecture(sizes=(784, 32, 16, 10), softmax_grad="jacobian", epochs=1)


@dataclass(frozen=True)
class Mutant:
    """One defect: what is wrong, who has it, and the stage that must catch it."""

    name: str
    mistake: str  # one line: the mistake as a student or porter makes it
    stage: str  # the first stage that must fail
    target: str  # the implementation that has it: numpy | torch | sklearn | data
    spec: Spec
    adapter: Callable[[], Framework] | None = None  # the mutated implementation of ``target``
    params0: Callable[[Spec], Params] | None = None  # wrong initial weights
    data: DataBug | None = None  # a wrong data pipeline


def _numpy(*patches: Patch, kind: type[Mutated] = Mutated) -> Callable[[], Framework]:
    """The reference adapter with ``patches`` on during each of its calls."""
    return lambda: kind(frameworks.load("numpy"), patches)


def _witness(name: str, patches: Callable[[], list[Patch]]) -> Callable[[], Framework]:
    """A witness adapter with patches on; built lazily (it imports torch or scikit-learn)."""
    return lambda: Mutated(frameworks.load(name), patches())


def _torch_ce_on_probabilities() -> list[Patch]:
    from frameworks import torch_mlp
    from parity.selftest import witnesses

    return [attribute(torch_mlp, "make_loss", witnesses.cross_entropy_on_probabilities)]


def _torch_default_float32() -> list[Patch]:
    from frameworks import torch_mlp
    from parity.selftest import witnesses

    return [
        entries(torch_mlp.DTYPES, witnesses.FLOAT32_MODULE),
        attribute(torch_mlp, "_tensor", witnesses.tensor_in_default_float32),
    ]


def _sklearn(name: str) -> Callable[[], list[Patch]]:
    def patches() -> list[Patch]:
        from frameworks import sklearn_mlp
        from parity.selftest import witnesses

        if name == "to_sklearn_layout":
            return [attribute(sklearn_mlp, name, witnesses.sklearn_layout_reshaped)]
        return [attribute(sklearn_mlp, "settings", getattr(witnesses, name))]

    return patches


_BACKWARD = ("reference.model", "backward_unchecked")
_STEP = ("reference.train", "_step")
_DELTA = ("reference.losses", "output_delta")

CATALOGUE: tuple[Mutant, ...] = (
    # ---- init and data: every implementation gets the same wrong input; only the contract knows
    Mutant(
        "init_fan_in",
        "init randn(out, in) * sqrt(1/fan_in) where the material says sqrt(1/fan_out)",
        "init",
        "numpy",
        LECTURE_INIT,
        params0=subject.init_fan_in,
    ),
    Mutant(
        "pixels_over_256",
        "pixels divided by 256 (the byte range's size) instead of 255 (its maximum)",
        "data",
        "data",
        BASE,
        data=subject.divided_by_256,
    ),
    Mutant(
        "test_set_unscaled",
        "training images divided by 255, the test images left as 0..255",
        "data",
        "data",
        BASE,
        data=subject.unscaled_test_set,
    ),
    # ---- forward
    Mutant(
        "softmax_without_max_shift",
        "softmax as exp(z) / sum(exp(z)) without subtracting max(z): NaN once a logit passes 709",
        "forward",
        "numpy",
        BASE,
        _numpy(swap("reference.activations", "softmax", subject.softmax_without_shift)),
    ),
    Mutant(
        "torch_default_float32",
        "torch port left in torch's default float32 (Linear, .float() inputs) for a float64 spec",
        "forward",
        "torch",
        BASE,
        _witness("torch", _torch_default_float32),
    ),
    Mutant(
        "sklearn_reshape_not_transpose",
        "scikit-learn port fills coefs_[i] with W.reshape(fan_in, fan_out) instead of W.T",
        "forward",
        "sklearn",
        BASE,
        _witness("sklearn", _sklearn("to_sklearn_layout")),
    ),
    # ---- gradients
    Mutant(
        "softmax_grad_diagonal",
        "the material's softmax 'derivative' a*(1-a), the Jacobian's diagonal, where the spec says "
        "jacobian",
        "gradients",
        "numpy",
        LECTURE,
        _numpy(swap(*_DELTA, subject.delta_diagonal_softmax)),
    ),
    Mutant(
        "squared_error_factor_dropped",
        "squared error's dL/da taken as (a - y), the 2/k of its mean over the k outputs dropped",
        "gradients",
        "numpy",
        LECTURE,
        _numpy(swap(*_DELTA, subject.delta_squared_error_unscaled)),
    ),
    Mutant(
        "sigmoid_grad_of_activation",
        "sigmoid'(a) = s(a)(1 - s(a)) applied to the activation a instead of a(1 - a)",
        "gradients",
        "numpy",
        BASE,
        _numpy(entries(DERIVATIVES, {"sigmoid": subject.sigmoid_grad_of_activation})),
    ),
    Mutant(
        "tanh_grad_of_preactivation",
        "tanh' as 1 - z^2 on the pre-activation instead of 1 - a^2 on the activation",
        "gradients",
        "numpy",
        TANH,
        _numpy(entries(DERIVATIVES, {"tanh": subject.tanh_grad_of_preactivation})),
    ),
    Mutant(
        "gradient_not_divided_by_batch",
        "gradients of the batch SUM of losses: the 1/n of the batch mean missing",
        "gradients",
        "numpy",
        BASE,
        _numpy(swap(*_DELTA, subject.delta_summed_over_batch)),
    ),
    Mutant(
        "bias_grad_averaged",
        "bias gradient delta.mean(axis=0) instead of the sum: delta already carries 1/n",
        "gradients",
        "numpy",
        BASE,
        _numpy(
            swap(*_BACKWARD, subject.backward_with(subject.weight_grad, subject.bias_grad_averaged))
        ),
    ),
    Mutant(
        "outer_product_transposed",
        "dW = A_prev.T @ delta, the outer product transposed, in the square 32x32 layer (no error)",
        "gradients",
        "numpy",
        SQUARE,
        _numpy(
            swap(
                *_BACKWARD,
                subject.backward_with(subject.weight_grad_transposed_if_square, subject.bias_grad),
            )
        ),
    ),
    Mutant(
        "one_hot_one_based",
        "one-hot rows built with y - 1 (labels taken as 1-based): digit 0 becomes class 9",
        "gradients",
        "numpy",
        BASE,
        _numpy(swap("reference.model", "one_hot", subject.one_hot_one_based)),
    ),
    Mutant(
        "float32_accumulation",
        "a float64 spec whose dW sums over the batch in float32",
        "gradients",
        "numpy",
        BASE,
        _numpy(
            swap(*_BACKWARD, subject.backward_with(subject.weight_grad_float32, subject.bias_grad))
        ),
    ),
    Mutant(
        "torch_cross_entropy_on_probabilities",
        "torch port feeds softmax(logits) to CrossEntropyLoss, which applies log-softmax itself",
        "gradients",
        "torch",
        BASE,
        _witness("torch", _torch_ce_on_probabilities),
    ),
    Mutant(
        "sklearn_default_alpha",
        "scikit-learn port leaves alpha at its default 1e-4: an L2 term in every dW",
        "gradients",
        "sklearn",
        BASE,
        _witness("sklearn", _sklearn("settings_default_alpha")),
    ),
    # ---- one step
    Mutant(
        "update_sign_flipped",
        "W + lr * dW: the update climbs the loss",
        "step",
        "numpy",
        BASE,
        _numpy(swap(*_STEP, subject.step_with(subject.ascend))),
    ),
    Mutant(
        "bias_lr_twice",
        "the learning rate applied twice to the biases (in the gradient helper and the update)",
        "step",
        "numpy",
        BASE,
        _numpy(swap(*_STEP, subject.step_with(subject.bias_lr_twice))),
    ),
    Mutant(
        "delta_through_updated_weights",
        "each layer updated as soon as its dW is known: the delta below goes through the new W",
        "step",
        "numpy",
        BASE,
        _numpy(swap(*_STEP, subject.step_updating_as_it_goes)),
    ),
    Mutant(
        "sklearn_default_momentum",
        "scikit-learn port leaves momentum=0.9 and nesterovs_momentum=True (the defaults)",
        "step",
        "sklearn",
        BASE,
        _witness("sklearn", _sklearn("settings_default_momentum")),
    ),
    Mutant(
        "batch_plan_ignored",
        "every epoch in dataset order over all the data given: the batch plan is never read",
        "step",
        "numpy",
        BASE,
        _numpy(swap("reference.train", "as_orders", subject.orders_in_file_order)),
    ),
    # ---- k steps and training
    Mutant(
        "last_partial_batch_dropped",
        "the batch loop stops at the last full batch: the remaining 12 digits never train",
        "steps",
        "numpy",
        BASE,
        _numpy(swap("reference.train", "batches", subject.batches_full_only)),
    ),
    Mutant(
        "shuffled_once",
        "the shuffle drawn once before the epoch loop: every epoch repeats the first one's order",
        "train_params",
        "numpy",
        BASE,
        _numpy(swap("reference.train", "as_orders", subject.orders_drawn_once)),
    ),
    Mutant(
        "epoch_loss_unweighted",
        "epoch loss as the plain mean of batch losses: the smaller last batch weighs as a full one",
        "train_loss",
        "numpy",
        BASE,
        _numpy(kind=subject.EpochLossUnweighted),
    ),
    Mutant(
        "accuracy_on_training_data",
        "the per-epoch accuracy scored on the training data instead of the test data",
        "train_accuracy",
        "numpy",
        BASE,
        _numpy(kind=subject.AccuracyOnTrainingData),
    ),
)

BY_NAME = {m.name: m for m in CATALOGUE}


def at_lr(mutants: tuple[Mutant, ...], lr: float) -> tuple[Mutant, ...]:
    """The same defects judged at learning rate ``lr`` (where training may turn chaotic)."""
    return tuple(replace(m, spec=m.spec.replace(lr=lr)) for m in mutants)
