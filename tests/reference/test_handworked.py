"""A 2-2-2 sigmoid net worked by hand, in the spirit of scikit-learn's ``test_fit``.

Every pre-activation, activation, softmax output, delta, gradient and updated weight is derived
below from closed forms in plain Python floats (``math.exp``, no matrices), with the arithmetic
for the first sample written out in the comments; the tests then assert ``forward``,
``backward``, ``gradients``, ``loss``, ``sgd_step`` and one ``train`` step against them.

Two nets share the weights:
- standard: biases, softmax + cross-entropy, lr 0.5;
- lecture: no biases, squared error averaged over the k = 2 outputs, the material's "diagonal"
  softmax derivative, lr 0.001 (and, for contrast, the true Jacobian).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from parity.compare import assert_close, assert_params_close
from reference import backward, forward, gradients, loss, sgd_step, train
from reference.spec import Spec, lecture, standard

X1 = (1.0, 2.0)  # the worked sample, label 1 (one-hot y = [0, 1])
LABEL1 = 1
X2 = (0.5, -1.0)  # a second sample, label 0, for the batch-mean checks
LABEL2 = 0

W1 = [[0.1, 0.2], [0.3, 0.4]]  # (fan_out, fan_in): row j feeds hidden unit j
B1 = [0.0, 0.1]
W2 = [[0.5, -0.5], [-0.3, 0.2]]
B2 = [0.1, -0.1]

STANDARD = standard(sizes=(2, 2, 2))  # sigmoid, biases, cross-entropy, lr 0.5
LECTURE = lecture(sizes=(2, 2, 2))  # sigmoid, no biases, squared error, diagonal, lr 0.001


def sig(z: float) -> float:
    """The logistic function as a closed form."""
    return 1.0 / (1.0 + math.exp(-z))


def params(bias: bool) -> dict[str, np.ndarray]:
    out = {"W1": np.array(W1), "W2": np.array(W2)}
    if bias:
        out |= {"b1": np.array(B1), "b2": np.array(B2)}
    return out


def standard_by_hand(x: tuple[float, float], label: int) -> dict[str, np.ndarray]:
    """Forward and backward of the standard 2-2-2 net for one sample, scalar by scalar."""
    x_1, x_2 = x
    y_1, y_2 = (1.0, 0.0) if label == 0 else (0.0, 1.0)
    # Hidden layer, Z1 = W1 x + b1.         For x = (1, 2):
    z1_1 = 0.1 * x_1 + 0.2 * x_2 + 0.0  # 0.1*1 + 0.2*2 + 0.0 = 0.5
    z1_2 = 0.3 * x_1 + 0.4 * x_2 + 0.1  # 0.3*1 + 0.4*2 + 0.1 = 1.2
    a1_1 = sig(z1_1)  # 1/(1+exp(-0.5)) = 0.622459
    a1_2 = sig(z1_2)  # 1/(1+exp(-1.2)) = 0.768525
    # Output logits, Z2 = W2 A1 + b2.
    z2_1 = 0.5 * a1_1 - 0.5 * a1_2 + 0.1  # 0.5*0.622459 - 0.5*0.768525 + 0.1 = 0.026967
    z2_2 = -0.3 * a1_1 + 0.2 * a1_2 - 0.1  # -0.3*0.622459 + 0.2*0.768525 - 0.1 = -0.133033
    # Softmax of two logits: p_1 = e^z1 / (e^z1 + e^z2) = 1 / (1 + e^(z2 - z1)).
    p_1 = 1.0 / (1.0 + math.exp(z2_2 - z2_1))  # 1/(1+exp(-0.160000)) = 0.539915
    p_2 = 1.0 / (1.0 + math.exp(z2_1 - z2_2))  # 1 - 0.539915 = 0.460085
    # Cross-entropy: -log p_label = -log 0.460085 = 0.776344.
    ce = -math.log(p_2 if label == 1 else p_1)
    # Softmax + cross-entropy: the output delta is p - y (n = 1, so no 1/n).
    d2_1 = p_1 - y_1  # 0.539915 - 0 = 0.539915
    d2_2 = p_2 - y_2  # 0.460085 - 1 = -0.539915
    # dW2[k, j] = d2_k * a1_j (outer product), db2 = d2.
    dW2 = [[d2_1 * a1_1, d2_1 * a1_2], [d2_2 * a1_1, d2_2 * a1_2]]
    #        0.539915*0.622459 = 0.336075, 0.539915*0.768525 = 0.414938; the second row negated
    # Back into the hidden layer: (W2^T d2)_j times sigmoid' = a (1 - a).
    back_1 = 0.5 * d2_1 + (-0.3) * d2_2  # 0.5*0.539915 + 0.3*0.539915 = 0.431932
    back_2 = -0.5 * d2_1 + 0.2 * d2_2  # -0.5*0.539915 - 0.2*0.539915 = -0.377940
    d1_1 = back_1 * a1_1 * (1 - a1_1)  # 0.431932 * 0.622459 * 0.377541 = 0.101506
    d1_2 = back_2 * a1_2 * (1 - a1_2)  # -0.377940 * 0.768525 * 0.231475 = -0.067234
    # dW1[j, i] = d1_j * x_i, db1 = d1.
    dW1 = [[d1_1 * x_1, d1_1 * x_2], [d1_2 * x_1, d1_2 * x_2]]
    #        0.101506, 0.203011 / -0.067234, -0.134467
    return {
        "Z1": np.array([[z1_1, z1_2]]),
        "A1": np.array([[a1_1, a1_2]]),
        "Z2": np.array([[z2_1, z2_2]]),
        "P": np.array([[p_1, p_2]]),
        "loss": np.array(ce),
        "W1": np.array(dW1),
        "b1": np.array([d1_1, d1_2]),
        "W2": np.array(dW2),
        "b2": np.array([d2_1, d2_2]),
    }


def lecture_by_hand(x: tuple[float, float], label: int, diagonal: bool) -> dict[str, np.ndarray]:
    """Forward and backward of the lecture 2-2-2 net (no biases) for one sample."""
    x_1, x_2 = x
    y_1, y_2 = (1.0, 0.0) if label == 0 else (0.0, 1.0)
    # Hidden layer, Z1 = W1 x (no bias).   For x = (1, 2):
    z1_1 = 0.1 * x_1 + 0.2 * x_2  # 0.1*1 + 0.2*2 = 0.5
    z1_2 = 0.3 * x_1 + 0.4 * x_2  # 0.3*1 + 0.4*2 = 1.1
    a1_1 = sig(z1_1)  # 1/(1+exp(-0.5)) = 0.622459
    a1_2 = sig(z1_2)  # 1/(1+exp(-1.1)) = 0.750260
    z2_1 = 0.5 * a1_1 - 0.5 * a1_2  # 0.5*0.622459 - 0.5*0.750260 = -0.063900
    z2_2 = -0.3 * a1_1 + 0.2 * a1_2  # -0.3*0.622459 + 0.2*0.750260 = -0.036686
    p_1 = 1.0 / (1.0 + math.exp(z2_2 - z2_1))  # 1/(1+exp(0.027215)) = 0.493197
    p_2 = 1.0 / (1.0 + math.exp(z2_1 - z2_2))  # 0.506803
    # Squared error averaged over the k = 2 outputs:
    # ((0.493197 - 0)^2 + (0.506803 - 1)^2) / 2 = 0.243243.
    se = ((p_1 - y_1) ** 2 + (p_2 - y_2) ** 2) / 2
    # dL/dp = 2 (p - y) / k, the material's 2*(output - y)/output.shape[0], k = 2:
    g_1 = 2 * (p_1 - y_1) / 2  # 0.493197
    g_2 = 2 * (p_2 - y_2) / 2  # -0.493197
    if diagonal:
        # The material's softmax "derivative" a (1 - a), the Jacobian's diagonal only:
        d2_1 = g_1 * p_1 * (1 - p_1)  # 0.493197 * 0.493197 * 0.506803 = 0.123276
        d2_2 = g_2 * p_2 * (1 - p_2)  # -0.493197 * 0.506803 * 0.493197 = -0.123276
    else:
        # The true chain rule, dL/dz_j = sum_i g_i dp_i/dz_j with dp_i/dz_j = p_i (δ_ij - p_j):
        d2_1 = g_1 * p_1 * (1 - p_1) + g_2 * (-p_2 * p_1)  # 0.123276 + 0.123276 = 0.246553
        d2_2 = g_1 * (-p_1 * p_2) + g_2 * p_2 * (1 - p_2)  # -0.123276 - 0.123276 = -0.246553
    dW2 = [[d2_1 * a1_1, d2_1 * a1_2], [d2_2 * a1_1, d2_2 * a1_2]]
    #        diagonal: 0.123276*0.622459 = 0.076735, 0.123276*0.750260 = 0.092489; row 2 negated
    back_1 = 0.5 * d2_1 + (-0.3) * d2_2  # diagonal: 0.5*0.123276 + 0.3*0.123276 = 0.098621
    back_2 = -0.5 * d2_1 + 0.2 * d2_2  # diagonal: -0.5*0.123276 - 0.2*0.123276 = -0.086293
    d1_1 = back_1 * a1_1 * (1 - a1_1)  # 0.098621 * 0.622459 * 0.377541 = 0.023176
    d1_2 = back_2 * a1_2 * (1 - a1_2)  # -0.086293 * 0.750260 * 0.249740 = -0.016169
    dW1 = [[d1_1 * x_1, d1_1 * x_2], [d1_2 * x_1, d1_2 * x_2]]
    #        0.023176, 0.046353 / -0.016169, -0.032338
    return {
        "Z1": np.array([[z1_1, z1_2]]),
        "A1": np.array([[a1_1, a1_2]]),
        "Z2": np.array([[z2_1, z2_2]]),
        "P": np.array([[p_1, p_2]]),
        "loss": np.array(se),
        "W1": np.array(dW1),
        "W2": np.array(dW2),
    }


CASES = {
    "standard": (STANDARD, standard_by_hand),
    "lecture-diagonal": (LECTURE, lambda x, label: lecture_by_hand(x, label, diagonal=True)),
    "lecture-jacobian": (
        LECTURE.replace(softmax_grad="jacobian"),
        lambda x, label: lecture_by_hand(x, label, diagonal=False),
    ),
}
CASE_IDS = list(CASES)
FORWARD = {"Z1": ("Z", 1), "A1": ("A", 1), "Z2": ("Z", 2), "P": ("A", 2)}


def grad_keys(spec: Spec) -> list[str]:
    return list(spec.param_keys())


@pytest.mark.parametrize("tensor", list(FORWARD), ids=list(FORWARD))
@pytest.mark.parametrize("case", CASE_IDS, ids=CASE_IDS)
def test_forward_by_hand(case: str, tensor: str) -> None:
    spec, by_hand = CASES[case]
    expected = by_hand(X1, LABEL1)
    probs, cache = forward(spec, params(spec.bias), np.array([X1]))
    kind, layer = FORWARD[tensor]
    got = probs if tensor == "P" else getattr(cache, kind)[layer]
    assert_close(
        got,
        expected[tensor],
        stage="forward",
        tensor=tensor,
        dtype="float64",
        pair=("forward", "by hand"),
    )
    if tensor == "P":
        assert cache.A[2] is probs, "forward's probs should be the cache's last activation"


@pytest.mark.parametrize("case", CASE_IDS, ids=CASE_IDS)
def test_loss_by_hand(case: str) -> None:
    spec, by_hand = CASES[case]
    got = loss(spec, params(spec.bias), np.array([X1]), np.array([LABEL1]))
    assert_close(
        got,
        by_hand(X1, LABEL1)["loss"],
        stage="forward",
        tensor="loss",
        dtype="float64",
        pair=("loss", "by hand"),
    )


@pytest.mark.parametrize("case", CASE_IDS, ids=CASE_IDS)
def test_gradients_by_hand(case: str) -> None:
    spec, by_hand = CASES[case]
    expected = {key: by_hand(X1, LABEL1)[key] for key in grad_keys(spec)}
    got = gradients(spec, params(spec.bias), np.array([X1]), np.array([LABEL1]))
    assert list(got) == grad_keys(spec), f"gradient keys {list(got)} != {grad_keys(spec)}"
    assert_params_close(
        got, expected, stage="gradients", dtype="float64", pair=("gradients", "by hand")
    )


@pytest.mark.parametrize("case", CASE_IDS, ids=CASE_IDS)
def test_backward_from_forward_cache_by_hand(case: str) -> None:
    spec, by_hand = CASES[case]
    p = params(spec.bias)
    _, cache = forward(spec, p, np.array([X1]))
    got = backward(spec, p, cache, np.array([LABEL1]))
    expected = {key: by_hand(X1, LABEL1)[key] for key in grad_keys(spec)}
    assert_params_close(
        got, expected, stage="gradients", dtype="float64", pair=("backward", "by hand")
    )


@pytest.mark.parametrize("case", CASE_IDS, ids=CASE_IDS)
def test_two_sample_gradient_is_the_mean_by_hand(case: str) -> None:
    # The loss is the MEAN over the batch, so the batch gradient is the mean of the two
    # per-sample gradients worked above (not their sum).
    spec, by_hand = CASES[case]
    one, two = by_hand(X1, LABEL1), by_hand(X2, LABEL2)
    expected = {key: (one[key] + two[key]) / 2 for key in grad_keys(spec)}
    got = gradients(spec, params(spec.bias), np.array([X1, X2]), np.array([LABEL1, LABEL2]))
    assert_params_close(
        got, expected, stage="gradients", dtype="float64", pair=("gradients", "mean by hand")
    )
    got_loss = loss(spec, params(spec.bias), np.array([X1, X2]), np.array([LABEL1, LABEL2]))
    assert_close(
        got_loss,
        (one["loss"] + two["loss"]) / 2,
        stage="forward",
        tensor="loss",
        dtype="float64",
        pair=("loss", "mean by hand"),
    )


def updated_by_hand(case: str) -> dict[str, np.ndarray]:
    """W - lr dW for every key: e.g. standard W2[0, 0] = 0.5 - 0.5 * 0.336075 = 0.331962."""
    spec, by_hand = CASES[case]
    grads = by_hand(X1, LABEL1)
    return {key: value - spec.lr * grads[key] for key, value in params(spec.bias).items()}


@pytest.mark.parametrize("case", CASE_IDS, ids=CASE_IDS)
def test_sgd_step_by_hand(case: str) -> None:
    spec, _ = CASES[case]
    p = params(spec.bias)
    grads = gradients(spec, p, np.array([X1]), np.array([LABEL1]))
    got = sgd_step(p, grads, spec.lr)
    assert_params_close(
        got, updated_by_hand(case), stage="step", dtype="float64", pair=("sgd_step", "by hand")
    )


@pytest.mark.parametrize("case", CASE_IDS, ids=CASE_IDS)
def test_one_train_step_by_hand(case: str) -> None:
    # lecture has batch_size 1 (the per-sample path); standard's 32 takes the vectorized path.
    spec, by_hand = CASES[case]
    spec = spec.replace(epochs=1)
    got, history = train(spec, params(spec.bias), np.array([X1]), np.array([LABEL1]))
    assert history.steps == 1, f"one sample, one epoch: {history.steps} steps"
    assert_params_close(
        got, updated_by_hand(case), stage="step", dtype="float64", pair=("train", "by hand")
    )
    assert_close(
        history.loss[0],
        by_hand(X1, LABEL1)["loss"],
        stage="forward",
        tensor="history.loss[0]",
        dtype="float64",
        pair=("train", "by hand"),
    )


def test_two_class_jacobian_is_twice_the_diagonal() -> None:
    # With k = 2, p_2 = 1 - p_1 and g = p - y = (p_1, -p_1) for label 1, so the true delta
    # p_1 (g_1 - (g_1 p_1 + g_2 p_2)) = p_1 (p_1 - p_1 (p_1 - p_2)) = 2 p_1² p_2, while the
    # material's g_1 p_1 (1 - p_1) = p_1² p_2: the diagonal shortcut is off by exactly 2x here.
    diagonal = lecture_by_hand(X1, LABEL1, diagonal=True)
    jacobian = lecture_by_hand(X1, LABEL1, diagonal=False)
    assert_close(
        jacobian["W2"],
        2 * diagonal["W2"],
        stage="gradients",
        tensor="W2",
        dtype="float64",
        pair=("jacobian", "2 x diagonal"),
    )
    got = gradients(
        LECTURE.replace(softmax_grad="jacobian"), params(False), np.array([X1]), np.array([LABEL1])
    )
    want = gradients(LECTURE, params(False), np.array([X1]), np.array([LABEL1]))
    assert_close(
        got["W2"],
        2 * want["W2"],
        stage="gradients",
        tensor="W2",
        dtype="float64",
        pair=("jacobian", "2 x diagonal"),
    )
