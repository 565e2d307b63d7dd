"""How close to its GEMMs can any NumPy epoch get? The floor under issue 2's 1.2x bound.

    .venv/bin/python benchmarks/bench_numpy_floor.py [--data-dir DIR] [--repeat N]

One epoch of the standard preset (784-128-64-10 sigmoid, float64, batch 128, dataset order)
written as tightly as NumPy allows: every elementwise step in place, the learning rate folded
into the output delta, no checks, no history, no copies. Printed next to the same GEMMs timed
alone (as benchmarks/bench_reference.py times them). What remains between the two is the
memory passes NumPy cannot fuse into a product: the update ``W -= D.T @ A`` (matmul has no
``beta``), the sigmoids and their derivatives, the bias adds and sums, the softmax.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout without installing
    sys.path.insert(0, str(ROOT))

from parity.data import ENV_VAR, load_mnist  # noqa: E402
from reference import init_params, one_hot, standard, train  # noqa: E402

BATCH, LR = 128, 0.5


def gemms_alone(X: np.ndarray, p: dict[str, np.ndarray]) -> float:
    """The epoch's 8 matrix products per batch and nothing else (their values are unused)."""
    W1, W2, W3 = p["W1"], p["W2"], p["W3"]
    start = time.perf_counter()
    for i in range(0, X.shape[0], BATCH):
        Xb = X[i : i + BATCH]
        Z1 = Xb @ W1.T
        Z2 = Z1 @ W2.T
        Z3 = Z2 @ W3.T
        _ = Z3.T @ Z2
        D2 = Z3 @ W3
        _ = D2.T @ Z1
        D1 = D2 @ W2
        _ = D1.T @ Xb
    return time.perf_counter() - start


def _sigmoid_(Z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-Z)) in place (overflow to inf gives the right 0; warnings silenced)."""
    np.negative(Z, out=Z)
    np.exp(Z, out=Z)
    Z += 1
    return np.reciprocal(Z, out=Z)


def fused_epoch(
    X: np.ndarray, Y: np.ndarray, p0: dict[str, np.ndarray]
) -> tuple[float, dict[str, np.ndarray]]:
    """One SGD epoch, softmax + cross-entropy, as few memory passes as NumPy allows."""
    W1, b1, W2, b2, W3, b3 = (p0[k].copy() for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    start = time.perf_counter()
    for i in range(0, X.shape[0], BATCH):
        Xb, Yb = X[i : i + BATCH], Y[i : i + BATCH]
        Z1 = Xb @ W1.T
        Z1 += b1
        A1 = _sigmoid_(Z1)
        Z2 = A1 @ W2.T
        Z2 += b2
        A2 = _sigmoid_(Z2)
        P = A2 @ W3.T
        P += b3
        P -= P.max(axis=1, keepdims=True)
        np.exp(P, out=P)
        P /= P.sum(axis=1, keepdims=True)
        D3 = P
        D3 -= Yb
        D3 *= LR / Xb.shape[0]
        D2 = D3 @ W3
        T = 1 - A2
        T *= A2
        D2 *= T
        D1 = D2 @ W2
        T = 1 - A1
        T *= A1
        D1 *= T
        W3 -= D3.T @ A2
        W2 -= D2.T @ A1
        W1 -= D1.T @ Xb
        b3 -= D3.sum(axis=0)
        b2 -= D2.sum(axis=0)
        b1 -= D1.sum(axis=0)
    seconds = time.perf_counter() - start
    return seconds, {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", help=f"the four MNIST .gz files (default: ${ENV_VAR}, then the cache)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = load_mnist(args.data_dir)
    if data.source.is_sample:
        sys.exit(
            f"the floor needs the full 60000 x 784 training set: pass --data-dir or set {ENV_VAR}"
        )
    X, Y = data.X_train, one_hot(data.y_train, 10)
    spec = standard(batch_size=BATCH, lr=LR, epochs=1)
    p0 = init_params(spec)
    with np.errstate(over="ignore"):
        _, fused_params = fused_epoch(X, Y, p0)  # also the warm-up: first touch of the buffers
        gemms_alone(X, p0)
        runs = [(gemms_alone(X, p0), fused_epoch(X, Y, p0)[0]) for _ in range(args.repeat)]
    reference, _ = train(spec, p0, X, data.y_train, [np.arange(X.shape[0])])
    worst = max(float(np.abs(fused_params[k] - reference[k]).max()) for k in reference)
    print(f"the same epoch as reference.train (dataset order): max |dW| {worst:.1e}")
    gemm, fused = min(r[0] for r in runs), min(r[1] for r in runs)
    print(f"best of {args.repeat}: GEMMs alone {gemm:.3f} s")
    print(f"best of {args.repeat}: hand-fused pure-NumPy epoch {fused:.3f} s, {fused / gemm:.2f}x")
    print(f"non-GEMM work {fused - gemm:.3f} s; 1.2x of the GEMMs allows {0.2 * gemm:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
