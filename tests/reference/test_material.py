"""Faithfulness to the teaching material: ``reference/material.py`` is its loop transcribed
(per-sample, 1-D vectors, ``np.outer`` updates, ``a*(1-a)`` softmax "derivative",
``2*(output - y)/output.shape[0]``); the lecture preset must reproduce it on real MNIST."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parity.compare import assert_close, assert_params_close
from parity.data import load_mnist
from reference import forward, gradients, init_params, material, one_hot, train
from reference.activations import softmax
from reference.spec import lecture

N_SAMPLES = 300  # "a few hundred" real digits: the first rows of the training split


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The first N_SAMPLES training digits, (n, 784) float64 in [0, 1], labels (n,)."""
    data = load_mnist(mnist_dir)
    return data.X_train[:N_SAMPLES], data.y_train[:N_SAMPLES]


@pytest.mark.parametrize("epochs", [1, 2], ids=["1-epoch", "2-epochs"])
@pytest.mark.parametrize("seed", [0, 1], ids=["seed-0", "seed-1"])
def test_lecture_train_reproduces_the_material(
    digits: tuple[np.ndarray, np.ndarray], epochs: int, seed: int
) -> None:
    X, y = digits
    spec = lecture(epochs=epochs, seed=seed)
    params = init_params(spec)
    ours, history = train(spec, params, X, y)
    theirs = material.train(params, X, one_hot(y, 10), l_rate=spec.lr, epochs=epochs)
    assert history.steps == epochs * N_SAMPLES, f"{history.steps} per-sample steps"
    # train_params float64: <= 1e-12 absolute, the bound.
    assert_params_close(
        ours, theirs, stage="train_params", dtype="float64", pair=("reference lecture", "material")
    )
    moved = max(np.abs(ours[k] - params[k]).max() for k in params)
    assert moved > 1e-4, f"training moved the weights by only {moved:.1e}: nothing was compared"


@pytest.mark.parametrize("row", [0, 1, 7, 123, 299], ids=lambda r: f"digit-{r}")
def test_gradients_equal_the_materials_changes(
    digits: tuple[np.ndarray, np.ndarray], row: int
) -> None:
    X, y = digits
    spec = lecture()
    params = init_params(spec)
    ours = gradients(spec, params, X[row : row + 1], y[row : row + 1])
    cache = material.forward_pass(params, X[row])
    theirs = material.backward_pass(params, cache, one_hot(y[row : row + 1], 10)[0])
    assert_params_close(
        ours,
        theirs,
        stage="gradients",
        dtype="float64",
        pair=("reference gradients", "material backward_pass"),
    )
    probs, _ = forward(spec, params, X[row : row + 1])
    assert_close(
        probs[0],
        cache["A3"],
        stage="forward",
        tensor="A3",
        dtype="float64",
        pair=("reference forward", "material forward_pass"),
    )


def test_jacobian_lecture_does_not_reproduce_the_material(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    # The comparison above can fail: the true softmax derivative trains other weights.
    X, y = digits
    spec = lecture(epochs=1, softmax_grad="jacobian")
    params = init_params(spec)
    ours, _ = train(spec, params, X, y)
    theirs = material.train(params, X, one_hot(y, 10), l_rate=spec.lr, epochs=1)
    diff = np.abs(ours["W3"] - theirs["W3"]).max()
    assert diff > 1e-6, f"jacobian and diagonal W3 only {diff:.1e} apart after {N_SAMPLES} steps"


def test_material_softmax_matches_ours_on_its_example() -> None:
    z = np.array([1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0])
    assert_close(
        softmax(z[None])[0],
        material.softmax(z),
        stage="forward",
        tensor="softmax",
        dtype="float64",
        pair=("reference", "material"),
    )
    p = softmax(z[None])[0]
    assert_close(
        p * (1 - p),
        material.softmax(z, derivative=True),
        stage="forward",
        tensor="softmax diagonal",
        dtype="float64",
        pair=("reference a(1-a)", "material"),
    )


def test_material_train_leaves_its_inputs_alone(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    params = init_params(lecture())
    before = {k: v.copy() for k, v in params.items()}
    material.train(params, X[:5], one_hot(y[:5], 10))
    for key in params:
        assert np.array_equal(params[key], before[key]), f"material.train modified {key}"


@pytest.mark.slow
def test_lecture_epoch_on_full_mnist_reproduces_the_material(mnist_dir: Path) -> None:
    # One full epoch: 60,000 per-sample steps, as the benchmark times them (~10 s for the
    # material's loop on 2 cores).
    data = load_mnist(mnist_dir)
    spec = lecture(epochs=1)
    params = init_params(spec)
    ours, _ = train(spec, params, data.X_train, data.y_train)
    theirs = material.train(params, data.X_train, one_hot(data.y_train, 10), l_rate=spec.lr)
    assert_params_close(
        ours, theirs, stage="train_params", dtype="float64", pair=("reference lecture", "material")
    )
