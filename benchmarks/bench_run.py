"""The default `mlp-parity run` against the three trainings it contains (issues 3 and 5).

    .venv/bin/python benchmarks/bench_run.py [--data-dir DIR] [--epochs N] [--frameworks ...]

Runs, each in a fresh process, one after another (nothing else should run beside it):

1. `python -m parity run --out TMP --quiet` with the defaults (standard preset, 784-128-64-10
   sigmoid, batch 32, lr 0.5, 10 epochs, float64, full MNIST): its wall time from outside,
   its peak resident memory, and from its report.json the seconds its trainings took inside it;
2. each framework's training alone: a process that imports only that framework, loads MNIST,
   makes the same init and batch plan and calls the adapter's ``train`` (test accuracy per
   epoch included, as in the run) and ``forward`` on the test set; its wall time from outside
   and the seconds of ``train`` inside it.

Prints the run's wall time against (a) the trainings' seconds inside the run and (b) the
three training processes' wall times, with the bounds: <= 60 s, <= 1.1x the trainings,
<= 1.2 GB peak. Both ratios are printed because "the trainings' own time" can mean either;
(a) charges the run for importing the frameworks and loading MNIST, (b) does not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout without installing
    sys.path.insert(0, str(ROOT))

from parity.data import ENV_VAR, load_mnist, locate  # noqa: E402

WALL_BOUND_S = 60.0
RATIO_BOUND = 1.1
PEAK_BOUND_GB = 1.2


def train_alone(name: str, data_dir: str, epochs: int) -> None:
    """The child process of step 2: one framework's training and nothing else."""
    from parity.plan import batch_plan

    import frameworks
    from reference.model import init_params
    from reference.spec import standard

    adapter = frameworks.load(name)
    spec = standard(epochs=epochs)
    data = load_mnist(data_dir, dtype=spec.dtype)
    plan = batch_plan(data.n_train, spec.epochs, spec.seed)
    start = time.perf_counter()
    params, _ = adapter.train(
        spec,
        init_params(spec),
        data.X_train,
        data.y_train,
        plan,
        eval_data=(data.X_test, data.y_test),
    )
    adapter.forward(spec, params, data.X_test)
    print(json.dumps({"train_seconds": time.perf_counter() - start}))


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return wall, done.stdout


def verdict(ok: bool) -> str:
    return "within" if ok else "OVER"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", help=f"the four MNIST .gz files (default: ${ENV_VAR}, then the cache)"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--frameworks", default="numpy,torch,sklearn")
    parser.add_argument("--alone", help=argparse.SUPPRESS)  # the child process of step 2
    args = parser.parse_args()
    if args.alone:
        train_alone(args.alone, args.data_dir, args.epochs)
        return 0
    source = locate(args.data_dir)  # the project's data setting, resolved once for every process
    if source.kind == "download":
        sys.exit(f"the benchmark needs the full MNIST: pass --data-dir, set {ENV_VAR}, or fetch it")
    args.data_dir = source.path
    names = args.frameworks.split(",")
    print(f"MNIST from {args.data_dir}; {os.cpu_count()} CPUs; {args.epochs} epochs; {names}")

    with tempfile.TemporaryDirectory() as out:
        run = [sys.executable, "-m", "parity", "run", "--out", out, "--quiet"]
        run += ["--data-dir", args.data_dir, "--epochs", str(args.epochs)]
        run += ["--frameworks", args.frameworks]
        wall, _ = timed(run)
        # The children's peak so far is the run's: it is the only child yet (Linux: KiB).
        peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9
        report = json.loads((Path(out) / "report.json").read_text())
    inside = {n: report["frameworks"][n]["seconds"] for n in names}
    trained_in_run = sum(inside.values())

    alone_wall, alone_train = {}, {}
    for name in names:
        child = [sys.executable, __file__, "--alone", name, "--data-dir", args.data_dir]
        alone_wall[name], stdout = timed([*child, "--epochs", str(args.epochs)])
        alone_train[name] = json.loads(stdout.splitlines()[-1])["train_seconds"]

    print(f"\n{'framework':<10} {'train in run':>13} {'train alone':>12} {'process alone':>14}")
    for name in names:
        print(
            f"{name:<10} {inside[name]:>12.2f}s {alone_train[name]:>11.2f}s "
            f"{alone_wall[name]:>13.2f}s"
        )
    processes, trained_alone = sum(alone_wall.values()), sum(alone_train.values())
    print(f"{'sum':<10} {trained_in_run:>12.2f}s {trained_alone:>11.2f}s {processes:>13.2f}s")
    print(
        f"\nmlp-parity run: {wall:.2f} s wall (report: {report['timing']['total_seconds']:.2f} s "
        f"in judge, {report['timing']['judge_seconds']:.2f} s of it not training), "
        f"peak RSS {peak_gb:.2f} GB"
    )
    ratio_in, ratio_alone = wall / trained_in_run, wall / processes
    print(f"  wall <= {WALL_BOUND_S:.0f} s: {wall:.1f} s, {verdict(wall <= WALL_BOUND_S)}")
    print(
        f"  wall / trainings inside the run (imports, data, stages, plots charged to the run): "
        f"{ratio_in:.3f}x, {verdict(ratio_in <= RATIO_BOUND)} {RATIO_BOUND}x"
    )
    print(
        f"  wall / the three training processes alone (each imports and loads for itself): "
        f"{ratio_alone:.3f}x, {verdict(ratio_alone <= RATIO_BOUND)} {RATIO_BOUND}x"
    )
    print(
        f"  peak RSS <= {PEAK_BOUND_GB} GB: {peak_gb:.2f} GB, {verdict(peak_gb <= PEAK_BOUND_GB)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
