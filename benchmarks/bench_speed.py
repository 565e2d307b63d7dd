"""Every speed figure of issue 12 as a ratio measured in one run, each repeated (spread shown).

    .venv/bin/python benchmarks/bench_speed.py [--repeats 3] [--quick] [--only SECTION ...]
                                               [--lecture-full] [--data-dir DIR]

Sections (each repeated ``--repeats`` times, the parts of a ratio timed back to back):

  threads   one epoch per framework with 1 and with 2 BLAS/OpenMP/torch threads, batch 32 and
            128 (full MNIST, float64): t(2 threads) / t(1 thread)
  run       the default ``mlp-parity run`` (a fresh process; peak memory: the sum of PSS over
            it and its children, sampled every 0.1 s) against its critical path: the larger of
            the slowest framework's training alone at its best thread count, and the sum of the
            three single-threaded trainings over the cores (each alone in a fresh process)
  lecture   the per-sample step: one lecture epoch of torch against the reference's (6,000
            digits, one thread), CPU time and wall time
  judge     the judge's share of a lecture run on 6,000 digits (10 epochs): the run's wall time
            less its longest training, over the run's wall time
  gemms     the reference's epoch (batch 128, float64) against exactly its matrix products
            (benchmarks/bench_reference.py), one thread and two
  --lecture-full  also the whole ``mlp-parity run --preset lecture`` (60,000 digits, 10
            epochs), once: wall time and test accuracy (the material reports 56.48%)

--quick: a smoke run on a few thousand digits and 1-2 epochs (its ratios are not the bounds').
The machine's load is printed before and after: on a shared machine absolute seconds move,
ratios of back-to-back timings much less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:  # run as a script from a checkout without installing
        sys.path.insert(0, str(path))

import frameworks  # noqa: E402
from parity.data import ENV_VAR, Dataset, load_mnist, locate  # noqa: E402
from parity.stages.plan import batch_plan  # noqa: E402
from parity.workers import cores_available, thread_limits  # noqa: E402
from reference.model import init_params  # noqa: E402
from reference.spec import lecture, standard  # noqa: E402


def _installed() -> tuple[str, ...]:
    """The frameworks the default run trains: every registered one that loads here."""
    names = []
    for name in frameworks.NAMES:
        try:
            frameworks.load(name)
        except frameworks.FrameworkUnavailable:
            continue
        names.append(name)
    return tuple(names)


NAMES = _installed()
BOUNDS = {  # (ratio, bound, the ratio must be <= bound)
    "run wall / critical path": 1.25,
    "lecture step torch / numpy (CPU)": 2.5,
    "judge share, lecture 6,000 digits": 0.10,
    "reference epoch / its GEMMs, 1 thread": 1.5,
}


# --------------------------------------------------------------------------- helpers


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {cores_available()} cores"


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3g} [{min(values):.3g}-{max(values):.3g}]"


def set_torch_threads(n: int) -> None:
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def pss_tree(pid: int) -> int:
    """Sum of PSS (kB) over ``pid`` and its descendants, the resource tracker included."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total


def descendants(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        return []
    return children + [d for c in children for d in descendants(c)]


def run_watched(command: list[str]) -> tuple[float, float]:
    """Run ``command``; (wall seconds, peak PSS of its process tree in MB)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        peak = max(peak, pss_tree(process.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - start
    if process.returncode not in (0, 1):
        stderr = process.stderr.read().decode() if process.stderr else ""
        sys.exit(f"{' '.join(command)} exited {process.returncode}:\n{stderr[-2000:]}")
    return wall, peak / 1024


# --------------------------------------------------------------------------- sections


def one_epoch(
    adapter: frameworks.Framework, spec: Any, p0: Any, X: Any, y: Any, plan: Any
) -> float:
    start = time.perf_counter()
    adapter.train(spec, p0, X, y, plan)
    return time.perf_counter() - start


def section_threads(data: Dataset, n: int, repeats: int) -> dict[str, list[float]]:
    """t(2 threads) / t(1 thread) of one epoch, per framework and batch size."""
    X, y = data.X_train[:n], data.y_train[:n]
    adapters = {name: frameworks.load(name) for name in NAMES}
    out: dict[str, list[float]] = {}
    for rep in range(repeats):
        for batch in (32, 128):
            spec = standard(batch_size=batch, epochs=1)
            p0, plan = init_params(spec), batch_plan(n, 1, spec.seed)
            for name, adapter in adapters.items():
                seconds = {}
                for threads in (1, 2) if rep % 2 == 0 else (2, 1):
                    with thread_limits(threads):
                        set_torch_threads(threads)
                        seconds[threads] = one_epoch(adapter, spec, p0, X, y, plan)
                out.setdefault(f"threads {name} batch {batch}: 1 thread s", []).append(seconds[1])
                out.setdefault(f"threads {name} batch {batch}: 2 threads s", []).append(seconds[2])
                ratio = seconds[2] / seconds[1]
                out.setdefault(f"threads {name} batch {batch}: 2t / 1t", []).append(ratio)
    return out


def train_alone(name: str, threads: int, data_dir: str, epochs: int, limit: int) -> None:
    """Child process: one framework's training as the run does it, alone; prints JSON."""
    import torch

    torch.set_num_threads(threads)
    with thread_limits(threads):
        spec = standard(epochs=epochs)
        data = load_mnist(data_dir)
        X, y = data.X_train[:limit], data.y_train[:limit]
        plan = batch_plan(X.shape[0], spec.epochs, spec.seed)
        adapter = frameworks.load(name)
        start = time.perf_counter()
        params, _ = adapter.train(
            spec, init_params(spec), X, y, plan, eval_data=(data.X_test, data.y_test)
        )
        adapter.forward(spec, params, data.X_test)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def section_run(data_dir: str, epochs: int, limit: int, repeats: int) -> dict[str, list[float]]:
    cores = cores_available()
    out: dict[str, list[float]] = {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            command = [sys.executable, "-m", "parity", "run", "-q", "--out", folder]
            command += ["--data-dir", data_dir, "--epochs", str(epochs)]
            if limit < 60000:
                command += ["--train-limit", str(limit)]
            wall, peak = run_watched(command)
            report = json.loads((Path(folder) / "report.json").read_text())
        alone = {}
        for name in NAMES:
            for threads in (1, 2):
                child = [sys.executable, __file__, "--alone", name, "--threads", str(threads)]
                child += ["--data-dir", data_dir, "--epochs", str(epochs), "--limit", str(limit)]
                done = subprocess.run(child, capture_output=True, text=True, check=True)
                alone[name, threads] = json.loads(done.stdout.splitlines()[-1])["seconds"]
        slowest = max(min(alone[n, 1], alone[n, 2]) for n in NAMES)
        shared = sum(alone[n, 1] for n in NAMES) / cores
        critical = max(slowest, shared)
        out.setdefault("run wall s", []).append(wall)
        out.setdefault("run peak PSS MB (all processes)", []).append(peak)
        out.setdefault("critical path s", []).append(critical)
        out.setdefault("  (a) slowest alone, best threads s", []).append(slowest)
        out.setdefault("  (b) sum single-threaded / cores s", []).append(shared)
        out.setdefault("run wall / critical path", []).append(wall / critical)
        for name in NAMES:
            out.setdefault(f"  {name} in the run s", []).append(
                report["frameworks"][name]["seconds"]
            )
            out.setdefault(f"  {name} alone 1 thread s", []).append(alone[name, 1])
            out.setdefault(f"  {name} alone 2 threads s", []).append(alone[name, 2])
    return out


def section_lecture(data: Dataset, n: int, repeats: int) -> dict[str, list[float]]:
    """Per-sample steps: torch's epoch over the reference's, one thread, back to back."""
    X, y = data.X_train[:n], data.y_train[:n]
    spec = lecture(epochs=1)
    p0, plan = init_params(spec), batch_plan(n, 1, spec.seed)
    numpy_mlp, torch_mlp = frameworks.load("numpy"), frameworks.load("torch")
    out: dict[str, list[float]] = {}
    with thread_limits(1):
        set_torch_threads(1)
        for _ in range(repeats):
            nw, nc = timed(lambda: numpy_mlp.train(spec, p0, X, y, plan))
            tw, tc = timed(lambda: torch_mlp.train(spec, p0, X, y, plan))
            out.setdefault("lecture step numpy us (CPU)", []).append(nc / n * 1e6)
            out.setdefault("lecture step torch us (CPU)", []).append(tc / n * 1e6)
            out.setdefault("lecture step torch / numpy (CPU)", []).append(tc / nc)
            out.setdefault("lecture step torch / numpy (wall)", []).append(tw / nw)
    return out


def section_judge(data_dir: str, limit: int, epochs: int, repeats: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for _ in range(repeats):
        for jobs in ("auto", "1"):
            with tempfile.TemporaryDirectory() as folder:
                command = [sys.executable, "-m", "parity", "run", "-q", "--preset", "lecture"]
                command += ["--train-limit", str(limit), "--epochs", str(epochs), "--jobs", jobs]
                command += ["--data-dir", data_dir, "--out", folder]
                wall, _ = run_watched(command)
                runs = json.loads((Path(folder) / "report.json").read_text())["frameworks"]
            seconds = [r["seconds"] for r in runs.values() if r["status"] == "ok"]
            training = max(seconds) if jobs == "auto" else sum(seconds)
            label = f"judge share, lecture {limit:,} digits" + (
                "" if jobs == "auto" else ", jobs 1"
            )
            out.setdefault(label, []).append((wall - training) / wall)
            out.setdefault(f"  run wall s (jobs {jobs})", []).append(wall)
    return out


def section_gemms(data: Dataset, n: int, repeats: int) -> dict[str, list[float]]:
    from bench_reference import epoch_products

    from reference.train import train

    X, y = data.X_train[:n], data.y_train[:n]
    spec = standard(batch_size=128, epochs=1)
    p0, order = init_params(spec), [np.arange(n)]
    products, _, _ = epoch_products(spec, p0, X, np.random.default_rng(0))
    out: dict[str, list[float]] = {}
    for threads in (1, 2):
        with thread_limits(threads):
            products()
            train(spec, p0, X, y, order)  # warm-up: first touch of every buffer
            for _ in range(repeats):
                gemm, _ = timed(products)
                epoch, _ = timed(lambda: train(spec, p0, X, y, order))
                label = f"reference epoch / its GEMMs, {threads} thread{'s' * (threads > 1)}"
                out.setdefault(label, []).append(epoch / gemm)
                out.setdefault(f"  GEMMs alone s ({threads})", []).append(gemm)
                out.setdefault(f"  reference epoch s ({threads})", []).append(epoch)
    return out


def lecture_full(data_dir: str) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "parity", "run", "-q", "--preset", "lecture"]
        command += ["--data-dir", data_dir, "--out", folder]
        wall, peak = run_watched(command)
        runs = json.loads((Path(folder) / "report.json").read_text())["frameworks"]
    out = {"lecture full run wall s": [wall], "lecture full run peak PSS MB": [peak]}
    for name, run in runs.items():
        if run["status"] == "ok":
            out[f"  {name} test accuracy % (material: 56.48)"] = [100 * run["test_accuracy"]]
            out[f"  {name} training s"] = [run["seconds"]]
    return out


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help=f"the four MNIST files (default: ${ENV_VAR}, cache)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run on a few digits")
    parser.add_argument(
        "--only", nargs="*", choices=("threads", "run", "lecture", "judge", "gemms")
    )
    parser.add_argument("--lecture-full", action="store_true", help="the 4-minute lecture run too")
    parser.add_argument("--alone", help=argparse.SUPPRESS)  # child: one training alone
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=10, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=60000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.alone:
        train_alone(args.alone, args.threads, args.data_dir, args.epochs, args.limit)
        return 0
    source = locate(args.data_dir)
    if source.kind == "download":
        sys.exit(f"the benchmark needs the full MNIST: pass --data-dir or set {ENV_VAR}")
    data_dir = source.path
    data = load_mnist(data_dir)
    quick = args.quick
    print(f"bench_speed{' --quick' if quick else ''}: {args.repeats} repeats")
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}")
    print(f"before: {load_line()}")
    sections = args.only or ["threads", "run", "lecture", "judge", "gemms"]
    results: dict[str, list[float]] = {}
    n_full = 6000 if quick else 60000
    for section in sections:
        start = time.perf_counter()
        if section == "threads":
            results |= section_threads(data, n_full, args.repeats)
        elif section == "run":
            results |= section_run(data_dir, 1 if quick else 10, n_full, args.repeats)
        elif section == "lecture":
            results |= section_lecture(data, 1000 if quick else 6000, args.repeats)
        elif section == "judge":
            results |= section_judge(
                data_dir, 1000 if quick else 6000, 2 if quick else 10, args.repeats
            )
        elif section == "gemms":
            results |= section_gemms(data, n_full, args.repeats)
        print(f"  {section}: {time.perf_counter() - start:.0f} s ({load_line()})", flush=True)
    if args.lecture_full and not quick:
        results |= lecture_full(data_dir)
    print(f"after: {load_line()}\n")
    print(f"{'figure':<52} {'median [min-max]':>24}  bound")
    for label, values in results.items():
        bound = BOUNDS.get(label)
        verdict = ""
        if bound is not None:
            verdict = f"<= {bound:g}: {'met' if statistics.median(values) <= bound else 'MISSED'}"
        print(f"{label:<52} {spread(values):>24}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
