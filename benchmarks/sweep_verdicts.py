"""No false FAIL across the regimes people use: the judge's verdict over a grid of settings.

    .venv/bin/python benchmarks/sweep_verdicts.py [--data-dir DIR] [--jobs N] [--quick]
                                                  [--json FILE] [--markdown FILE]

Grid (issue 10): lr in {0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 20, 100} x activation {sigmoid,
tanh, relu} x dtype {float64, float32} x batch {1, 32, 1000}; each cell is the standard preset
(784-128-64-10, softmax + cross-entropy) on the CLI's stratified 2,000/500 MNIST subset, 2
epochs, numpy vs torch vs scikit-learn, judged exactly as `mlp-parity run` judges. Correct
implementations must never FAIL: each cell is PASS or INDETERMINATE. Printed per cell: the
verdict, the worst ratio of a difference to its table bound, and for INDETERMINATE the worst
ratio to the noise floor (observed / floor; within the floor means <= the margin). Exit status
1 when any cell FAILs. ``--quick``: lr {0.5, 5, 100} only.

Cells run in worker processes (``--jobs``, default the cores available), one BLAS/torch thread
each. Not a timed test: minutes of work, run by hand; its table is in docs/verdicts.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import product
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout without installing
    sys.path.insert(0, str(ROOT))

LRS = (0.001, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 100.0)
ACTIVATIONS = ("sigmoid", "tanh", "relu")
DTYPES = ("float64", "float32")
BATCHES = (1, 32, 1000)
N_TRAIN, N_TEST, EPOCHS = 2000, 500, 2
Cell = tuple[float, str, str, int]  # (lr, activation, dtype, batch)

_DATA: dict[str, Any] = {}  # per worker: the subset in each dtype


def _init(data_dir: str | None) -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    import torch

    torch.set_num_threads(1)
    from parity import data as mnist

    full = mnist.load_mnist(data_dir)
    _DATA["subset"] = mnist.subset(full, N_TRAIN, N_TEST, stratified=True, seed=0)


def judge_cell(cell: Cell) -> dict[str, Any]:
    """One cell's verdict, worst ratio to the table bound and to the floor, and its time."""
    import numpy as np

    from parity.judge import judge
    from parity.stages.floor import amount
    from reference.spec import standard

    lr, activation, dtype, batch = cell
    spec = standard(activation=activation, dtype=dtype, batch_size=batch, lr=lr, epochs=EPOCHS)
    d = _DATA["subset"]
    start = time.perf_counter()
    with np.errstate(all="ignore"):  # diverging cells overflow: the judge sees it, not stderr
        report = judge(spec, d.X_train, d.y_train, d.X_test, d.y_test)
    comparisons = [
        c for s in report.stages if s.stage not in ("init", "data") for c in s.comparisons
    ]
    table = max((_ratio(amount(c), c.bound) for c in comparisons if not c.detail), default=0.0)
    floor_ratio = None
    if report.floor is not None:
        rows = report.floor.to_dict(report.stages)["stages"]
        floor_ratio = max((_ratio(r["observed"], r["floor"]) for r in rows), default=None)
    first = report.first_failure or report.first_excused
    return {
        "lr": lr,
        "activation": activation,
        "dtype": dtype,
        "batch": batch,
        "status": report.status,
        "stage": first.stage if first else None,
        "table_ratio": table,
        "floor_ratio": floor_ratio,
        "floor_seconds": report.floor.seconds if report.floor else 0.0,
        "seconds": time.perf_counter() - start,
        "line": report.verdict(),
    }


def _ratio(value: float, bound: float) -> float:
    if bound > 0:
        return value / bound
    return 0.0 if value == 0 else math.inf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="MNIST folder (else the project's data setting)")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--quick", action="store_true", help="lr 0.5, 5 and 100 only")
    parser.add_argument("--json", type=Path, help="write every cell's record here")
    parser.add_argument("--markdown", type=Path, help="write the table here")
    args = parser.parse_args(argv)
    lrs = (0.5, 5.0, 100.0) if args.quick else LRS
    cells = list(product(lrs, ACTIVATIONS, DTYPES, BATCHES))
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, initializer=_init, initargs=(args.data_dir,)) as pool:
        results = []
        for i, result in enumerate(pool.map(judge_cell, cells), start=1):
            results.append(result)
            print(
                f"[{i}/{len(cells)}] lr {result['lr']:g} {result['activation']} {result['dtype']} "
                f"batch {result['batch']}: {result['status']} ({result['seconds']:.1f} s)",
                file=sys.stderr,
            )
    seconds = time.perf_counter() - start
    text = markdown(results, lrs, seconds, args.jobs)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 1 if any(r["status"] == "FAIL" for r in results) else 0


def markdown(
    results: list[dict[str, Any]], lrs: tuple[float, ...], seconds: float, jobs: int
) -> str:
    """One row per (activation, dtype, batch), one column per lr: P or I, and the ratios."""
    by_cell = {(r["lr"], r["activation"], r["dtype"], r["batch"]): r for r in results}
    header = ["activation", "dtype", "batch", *(f"lr {lr:g}" for lr in lrs)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for activation, dtype, batch in product(ACTIVATIONS, DTYPES, BATCHES):
        cells = [_cell(by_cell[(lr, activation, dtype, batch)]) for lr in lrs]
        lines.append("| " + " | ".join([activation, dtype, str(batch), *cells]) + " |")
    counts = {s: sum(r["status"] == s for r in results) for s in ("PASS", "INDETERMINATE", "FAIL")}
    floor_seconds = sum(r["floor_seconds"] for r in results)
    summary = (
        f"{len(results)} cells: {counts['PASS']} PASS, {counts['INDETERMINATE']} INDETERMINATE, "
        f"{counts['FAIL']} FAIL; {seconds:.0f} s wall on {jobs} worker(s), of which noise "
        f"floors {floor_seconds:.0f} s (summed over cells)"
    )
    legend = (
        "P: PASS, I: INDETERMINATE (at the stage named), F: FAIL. The first number is the "
        "worst difference over its table bound (<= 1 within the table); after I, the worst "
        "difference over its noise floor (within the floor: <= the margin)."
    )
    return "\n".join([summary, "", legend, "", *lines])


def _cell(r: dict[str, Any]) -> str:
    letter = {"PASS": "P", "INDETERMINATE": "I", "FAIL": "F", "NO VERDICT": "-"}[r["status"]]
    text = f"{letter} {r['table_ratio']:.2g}"
    if r["status"] == "INDETERMINATE":
        text += f" / {r['floor_ratio']:.2g} {r['stage']}"
    elif r["status"] == "FAIL":
        text += f" {r['stage']}"
    return text


if __name__ == "__main__":
    sys.exit(main())
