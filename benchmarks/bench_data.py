"""Time and memory of loading MNIST from the .gz files (issue 4: train split <= 1.5 s).

    .venv/bin/python benchmarks/bench_data.py [--data-dir DIR] [--repeat N]

DIR defaults to $MLP_PARITY_DATA, else ../shared/datasets/mnist. Prints the first ("cold")
call and the best of N for each step, and the peak traced memory of one train load next to
the size of what it returns (an extra full-size copy would show as +1x the float array).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout without installing
    sys.path.insert(0, str(ROOT))

from parity.data import ENV_VAR, load_mnist, read_split, to_float  # noqa: E402
from parity.data.idx import parse_idx, read_bytes  # noqa: E402

BUDGET_S = 1.5  # the train split from the gz files, first call in a fresh process (issue 4)
TRAIN = "train split float64 (60000 x 784)"


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(first, best) wall seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times[0], min(times)


def peak_bytes(fn: Callable[[], object]) -> tuple[int, object]:
    """Peak traced bytes while `fn` runs (NumPy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        result = fn()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get(ENV_VAR) or str(ROOT.parent / "shared" / "datasets" / "mnist")
    parser.add_argument("--data-dir", type=Path, default=Path(default))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder, repeat = args.data_dir, args.repeat
    images_gz = folder / "train-images-idx3-ubyte.gz"

    print(f"MNIST from {folder}; {os.cpu_count()} CPUs; first call and best of {repeat}")
    # The train split goes first: its first call is what a fresh process pays, including the
    # first touch of 376 MB of new memory (on this VM up to ~1 s when the host has not yet
    # backed those pages; later calls reuse memory already backed).
    train_first, train_best = timed(lambda: read_split(folder, "train", "float64"), repeat)
    print(f"  {TRAIN:<40} first {train_first:6.3f} s   best {train_best:6.3f} s")
    pixels = parse_idx(read_bytes(images_gz), str(images_gz))  # (60000, 28, 28) uint8
    steps: list[tuple[str, Callable[[], object]]] = [
        ("train images: read + gunzip (uint8)", lambda: read_bytes(images_gz)),
        ("train images: uint8 -> float64 / 255", lambda: to_float(pixels, "float64")),
        ("train images: uint8 -> float32 / 255", lambda: to_float(pixels, "float32")),
        ("train split float32", lambda: read_split(folder, "train", "float32")),
        ("load_mnist float64 (train + test)", lambda: load_mnist(folder)),
    ]
    for label, step in steps:
        first, best = timed(step, repeat)
        print(f"  {label:<40} first {first:6.3f} s   best {best:6.3f} s")

    peak, (X, y) = peak_bytes(lambda: read_split(folder, "train", "float64"))  # type: ignore[misc]
    extra = peak - X.nbytes - y.nbytes
    print(
        f"  peak traced memory, train float64: {peak / 1e6:.0f} MB = result "
        f"{(X.nbytes + y.nbytes) / 1e6:.0f} MB + {extra / 1e6:.0f} MB "
        f"(uint8 pixels are {pixels.nbytes / 1e6:.0f} MB: no extra float-size copy)"
    )
    verdict = "within" if train_first <= BUDGET_S else "OVER"
    print(
        f"{TRAIN}: first {train_first:.3f} s, best {train_best:.3f} s: "
        f"{verdict} the {BUDGET_S} s budget"
    )
    return 0 if train_first <= BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
