"""Speed of the reference MLP (issue 2), two races, each timed in one run.

    .venv/bin/python benchmarks/bench_reference.py [--data-dir DIR] [--repeats N] [--quick]

1. One vectorized epoch (standard preset, 784-128-64-10, float64, batch 128) against exactly
   the matrix products it performs, timed alone: forward ``Z = A @ W.T`` per layer, backward
   ``dW = delta.T @ A`` per layer and ``delta @ W`` for every layer above the first, with the
   epoch's shapes and count. Bound: epoch <= 1.2x products.
2. One lecture-preset epoch (one SGD step per sample) against the material's own loop
   (``reference/material.py``) on the same data and initial weights. Bounds: >= 2x faster, and
   the same weights to max|dW| <= 1e-12.

Data: ``--data-dir``, else the project's data setting (``parity.data.load_mnist``:
$MLP_PARITY_DATA, then the user cache, then a download). ``--quick`` uses the first 6,000
training digits. Each figure is the best of ``--repeats`` runs after one warm-up, with the
garbage collector off while timing (as timeit does); the two sides of a race alternate run by
run so that load from other processes hits both alike. Exit status 1 when a full run misses a
bound.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout without installing
    sys.path.insert(0, str(ROOT))

from parity.plan import batch_plan  # noqa: E402

from parity.data import ENV_VAR, load_mnist  # noqa: E402
from reference import init_params, lecture, material, one_hot, standard, train  # noqa: E402
from reference.spec import Spec  # noqa: E402
from reference.train import History  # noqa: E402

QUICK_SAMPLES = 6000
BATCH_SIZE = 128
EPOCH_BOUND = 1.2  # vectorized epoch / its matrix products, at most
SPEEDUP_BOUND = 2.0  # material loop / lecture epoch, at least
WEIGHTS_BOUND = 1e-12  # max |dW| between the lecture epoch and the material's


# --------------------------------------------------------------------------- timing


def once(fn: Callable[[], object]) -> tuple[float, object]:
    """Wall seconds of one call with the garbage collector off, and its result."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = fn()
        return time.perf_counter() - start, result
    finally:
        gc.enable()


def race(
    contenders: dict[str, Callable[[], object]],
    repeats: int,
    warmups: dict[str, Callable[[], object]] | None = None,
) -> dict[str, tuple[float, object]]:
    """Warm each contender up once, then alternate ``repeats`` timed calls of each.

    Returns, per contender, the best seconds and that run's result. ``warmups`` replaces a
    contender's warm-up call (e.g. a shorter run of the same code).
    """
    for name, fn in contenders.items():
        (warmups or {}).get(name, fn)()
    runs: dict[str, list[tuple[float, object]]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            runs[name].append(once(fn))
    return {name: min(timed, key=lambda run: run[0]) for name, timed in runs.items()}


# --------------------------------------------------------------------------- the products


def batch_rows(n_samples: int, batch_size: int) -> list[int]:
    """Rows per batch of one epoch; the last, smaller batch is kept (as ``train`` does)."""
    return [min(batch_size, n_samples - i) for i in range(0, n_samples, batch_size)]


def epoch_products(
    spec: Spec, params: dict[str, np.ndarray], X: np.ndarray, rng: np.random.Generator
) -> tuple[Callable[[], None], int, float]:
    """A function doing exactly the matrix products of one vectorized epoch, alone.

    Same shapes and layouts as ``reference.model.forward_unchecked``/``backward_unchecked``:
    X's rows (n, 784) for the input layer, (fan_out, fan_in) weights used as ``W.T`` and
    ``W``, deltas used as ``delta.T``. Hidden activations and deltas are fixed random arrays
    (their values do not change a GEMM's speed). Returns (run, number of products, FLOP).
    """
    L = spec.n_layers
    W = {l: params[f"W{l}"] for l in range(1, L + 1)}
    rows = batch_rows(X.shape[0], spec.batch_size)
    acts = {b: {l: rng.random((b, spec.sizes[l])) for l in range(1, L)} for b in set(rows)}
    deltas = {
        b: {l: rng.standard_normal((b, spec.sizes[l])) * 1e-3 for l in range(1, L + 1)}
        for b in set(rows)
    }

    def run() -> None:  # the products' results are discarded: only their time counts
        start = 0
        for b in rows:
            A = {0: X[start : start + b], **acts[b]}
            start += b
            for l in range(1, L + 1):
                A[l - 1] @ W[l].T  # Z[l]: (b, fan_in) @ (fan_in, fan_out)
            for l in range(L, 0, -1):
                deltas[b][l].T @ A[l - 1]  # dW[l]: (fan_out, b) @ (b, fan_in)
                if l > 1:
                    deltas[b][l] @ W[l]  # delta[l - 1]: (b, fan_out) @ (fan_out, fan_in)

    pairs = list(zip(spec.sizes[:-1], spec.sizes[1:], strict=True))
    per_row = sum(2 * i * o for i, o in pairs) * 2 + sum(2 * i * o for i, o in pairs[1:])
    count = len(rows) * (2 * L + (L - 1))
    return run, count, float(per_row * X.shape[0])


# --------------------------------------------------------------------------- report


def blas_line() -> str:
    """NumPy's BLAS from its build config, plus the live thread pool when threadpoolctl is there."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        line = f"{blas.get('name', '?')} {blas.get('version', '?')}"
    except Exception as err:  # show_config's layout is not a stable API
        line = f"unknown ({type(err).__name__})"
    try:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        line += "".join(
            f"; {p['internal_api']} {p.get('architecture', '')} {p['num_threads']} threads"
            for p in pools
        )
    except ImportError:
        pass
    return line


def machine_lines() -> list[str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return [
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}",
        f"cores: {os.cpu_count()} ({usable} usable); load average {load}",
        f"python {platform.python_version()}, numpy {np.__version__}, BLAS {blas_line()}",
    ]


def busy_note() -> str | None:
    """A warning line when other processes load the machine (the 1-minute load average)."""
    if not hasattr(os, "getloadavg"):
        return None
    load = os.getloadavg()[0]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if load < 0.5 * (cores or 1):
        return None
    return f"note: load average {load:.2f} on {cores} cores: other processes compete, timings noisy"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def row(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<52} {value:>10}  {note}".rstrip())


# --------------------------------------------------------------------------- the two races


def vectorized_race(X: np.ndarray, y: np.ndarray, repeats: int) -> list[bool]:
    spec = standard(batch_size=BATCH_SIZE, epochs=1)
    params = init_params(spec)
    shuffled = batch_plan(X.shape[0], 1, spec.seed)
    products, count, flop = epoch_products(spec, params, X, np.random.default_rng(spec.seed))
    best = race(
        {
            "products": products,
            "dataset": lambda: train(spec, params, X, y)[1],
            "shuffled": lambda: train(spec, params, X, y, shuffled)[1],
        },
        repeats,
    )
    steps = len(batch_rows(X.shape[0], spec.batch_size))
    print(
        f"\n1. vectorized epoch: standard preset {'-'.join(map(str, spec.sizes))} "
        f"{spec.activation} + {spec.loss}, {spec.dtype}, batch {spec.batch_size} ({steps} steps)"
    )
    floor = best["products"][0]
    row(
        f"matrix products alone ({count} GEMMs, {flop / 1e9:.1f} GFLOP)",
        f"{floor:.3f} s",
        f"{flop / floor / 1e9:.1f} GFLOP/s",
    )
    oks = []
    for name, label in (("dataset", "dataset order"), ("shuffled", "shuffled (parity.plan)")):
        seconds, history = best[name]
        assert isinstance(history, History)
        ratio = seconds / floor
        oks.append(ratio <= EPOCH_BOUND)
        row(
            f"train() one epoch, {label}",
            f"{seconds:.3f} s",
            f"ratio {ratio:.2f}x (bound <= {EPOCH_BOUND}x: {verdict(oks[-1])})",
        )
        loop = history.seconds[0]
        row("  of which its loop (history.seconds)", f"{loop:.3f} s", f"ratio {loop / floor:.2f}x")
    return oks


def lecture_race(X: np.ndarray, y: np.ndarray, repeats: int) -> list[bool]:
    spec = lecture(epochs=1)
    params = init_params(spec)
    Y = one_hot(y, spec.n_classes)
    warm = slice(0, min(1000, X.shape[0]))
    best = race(
        {
            "material": lambda: material.train(params, X, Y, l_rate=spec.lr, epochs=1),
            "reference": lambda: train(spec, params, X, y)[0],
        },
        repeats,
        warmups={
            "material": lambda: material.train(params, X[warm], Y[warm], l_rate=spec.lr),
            "reference": lambda: train(spec, params, X[warm], y[warm]),
        },
    )
    (t_material, theirs), (t_reference, ours) = best["material"], best["reference"]
    assert isinstance(ours, dict) and isinstance(theirs, dict)
    max_dw = max(float(np.abs(ours[k] - theirs[k]).max()) for k in spec.param_keys())
    speedup = t_material / t_reference
    print(
        f"\n2. lecture epoch: {'-'.join(map(str, spec.sizes))} {spec.activation}, no biases, "
        f"{spec.loss} ({spec.softmax_grad}), lr {spec.lr}, {X.shape[0]} per-sample steps"
    )
    row("the material's loop (reference/material.py)", f"{t_material:.3f} s")
    row(
        "train(lecture(epochs=1)) (reference/persample.py)",
        f"{t_reference:.3f} s",
        f"speedup {speedup:.2f}x (bound >= {SPEEDUP_BOUND}x: {verdict(speedup >= SPEEDUP_BOUND)})",
    )
    row(
        "max |dW| between their weights",
        f"{max_dw:.1e}",
        f"(bound <= {WEIGHTS_BOUND:.0e}: {verdict(max_dw <= WEIGHTS_BOUND)})",
    )
    return [speedup >= SPEEDUP_BOUND, max_dw <= WEIGHTS_BOUND]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"folder with the four MNIST .gz files (default: ${ENV_VAR}, the cache, a download)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (best of)")
    parser.add_argument(
        "--quick", action="store_true", help=f"first {QUICK_SAMPLES} training digits only"
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: need at least 1")

    data = load_mnist(args.data_dir)
    if data.source.is_sample and not args.quick:
        print(
            f"only the {data.n_train}-digit sample is available ({data.source.notice}); the "
            f"benchmark needs the full MNIST: pass --data-dir or set {ENV_VAR}, or use --quick",
            file=sys.stderr,
        )
        return 2
    n = min(QUICK_SAMPLES, data.n_train) if args.quick else data.n_train
    X, y = data.X_train[:n], data.y_train[:n]

    print("mlp-parity reference benchmark (issue 2)")
    for line in machine_lines():
        print(line)
    print(f"data: {data!r}{' [QUICK]' if args.quick else ''}")
    print(f"      training on the first {n} x {X.shape[1]} {X.dtype} rows")
    print(f"timing: best of {args.repeats} after a warm-up; each race's sides alternate")

    oks = vectorized_race(X, y, args.repeats) + lecture_race(X, y, args.repeats)
    note = busy_note()
    if note:
        print(f"\n{note}")
    if args.quick:
        print("\n--quick: a try-out on a part of the data; the bounds are for the full epoch")
        return 0
    print(f"\nall bounds {'met' if all(oks) else 'NOT met'}")
    return 0 if all(oks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
