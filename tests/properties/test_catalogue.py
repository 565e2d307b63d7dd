"""The suite's power: every defect of the catalogue fails, first at the stage it names.

Each mutant is judged on a stratified 300/100 real-MNIST subset (the selftest's data); the
message of its first failure must name the stage, the pair, the tensor and the error. Planting
a defect must leave everything else untouched: the patched modules are the same objects after
the run, and only comparisons involving the mutated implementation fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

import frameworks
from parity import cli
from parity.data import Dataset, load_mnist, subset
from parity.selftest import BY_NAME, CATALOGUE, N_TEST, N_TRAIN, Mutant, Outcome, run_mutant
from parity.selftest.catalogue import at_lr
from parity.selftest.runner import stage_rows, summary
from parity.tolerances import STAGES
from tests.conftest import DATA_ENV, ROOT

ISSUE_7 = (  # the defects issue 7 lists, by catalogue name
    "softmax_grad_diagonal",
    "sigmoid_grad_of_activation",
    "tanh_grad_of_preactivation",
    "gradient_not_divided_by_batch",
    "bias_grad_averaged",
    "outer_product_transposed",
    "delta_through_updated_weights",
    "softmax_without_max_shift",
    "update_sign_flipped",
    "last_partial_batch_dropped",
    "batch_plan_ignored",
    "init_fan_in",
    "bias_lr_twice",
    "one_hot_one_based",
    "float32_accumulation",
    "torch_cross_entropy_on_probabilities",
    "sklearn_default_momentum",
    "sklearn_default_alpha",
)
PATCHED_MODULES = (
    "reference.activations",
    "reference.losses",
    "reference.model",
    "reference.persample",
    "reference.train",
    "frameworks.torch_mlp",
    "frameworks.sklearn_mlp",
)


@pytest.fixture(scope="module")
def selftest_data(mnist_dir) -> Dataset:
    return subset(load_mnist(mnist_dir), N_TRAIN, N_TEST, stratified=True, seed=0)


@pytest.fixture(scope="module")
def judged(selftest_data) -> Callable[[Mutant], Outcome]:
    """The outcome of one mutant, computed once per module."""
    cache: dict[str, Outcome] = {}

    def get(mutant: Mutant) -> Outcome:
        if mutant.name not in cache:
            d = selftest_data
            cache[mutant.name] = run_mutant(mutant, d.X_train, d.y_train, d.X_test, d.y_test)
        return cache[mutant.name]

    return get


def _needs_every_framework() -> None:
    for name, reason in frameworks.availability().items():
        if reason is not None:
            pytest.skip(f"{name}: {reason}")


def _namespace_snapshot() -> dict[str, dict[str, int]]:
    """id() of every attribute of the patchable modules, and of the patchable dicts' entries."""
    from frameworks.torch_mlp import DTYPES
    from reference.activations import DERIVATIVES

    snapshot = {m: {k: id(v) for k, v in vars(sys.modules[m]).items()} for m in PATCHED_MODULES}
    snapshot["DERIVATIVES"] = {k: id(v) for k, v in DERIVATIVES.items()}
    snapshot["torch_mlp.DTYPES"] = {k: id(v) for k, v in DTYPES.items()}
    return snapshot


# --------------------------------------------------------------------------- the catalogue


def test_catalogue_has_the_issues_defects_and_more():
    names = [m.name for m in CATALOGUE]
    assert len(names) == len(set(names)), f"duplicate names: {names}"
    missing = [n for n in ISSUE_7 if n not in BY_NAME]
    assert not missing, f"issue 7's defects missing from the catalogue: {missing}"
    assert len(CATALOGUE) >= 16


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.name)
def test_entry_is_well_formed(mutant):
    assert mutant.stage in STAGES, f"{mutant.name}: unknown stage {mutant.stage!r}"
    assert mutant.target in (*frameworks.NAMES, "data"), mutant.target
    assert "\n" not in mutant.mistake and 20 < len(mutant.mistake) <= 100, mutant.mistake
    planted = [mutant.adapter, mutant.params0, mutant.data]
    assert sum(p is not None for p in planted) == 1, f"{mutant.name}: plant exactly one defect"


# --------------------------------------------------------------------------- caught, and where


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.name)
def test_caught_first_at_its_stage(judged, mutant):
    _needs_every_framework()
    outcome = judged(mutant)
    assert outcome.status == "judged", outcome.message
    assert outcome.first_stage is not None, f"{mutant.name} NOT caught: {outcome.message}"
    assert outcome.first_stage == mutant.stage, (
        f"{mutant.name}: first failure at {outcome.first_stage}, expected {mutant.stage}: "
        f"{outcome.message}"
    )


@pytest.mark.parametrize("mutant", at_lr(CATALOGUE, 5.0), ids=lambda m: m.name)
def test_caught_first_at_its_stage_at_lr_5(selftest_data, mutant):
    """Where training turns chaotic a bug must not hide behind INDETERMINATE: every defect is
    still caught, and first at its own stage (issue 10)."""
    _needs_every_framework()
    d = selftest_data
    outcome = run_mutant(mutant, d.X_train, d.y_train, d.X_test, d.y_test)
    assert outcome.caught, (mutant.stage, outcome.first_stage, outcome.message)
    assert outcome.report is not None and outcome.report.status == "FAIL"


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.name)
def test_message_names_stage_pair_tensor_and_error(judged, mutant):
    _needs_every_framework()
    outcome = judged(mutant)
    assert outcome.report is not None and outcome.pair is not None, outcome.message
    failure = outcome.report.first_failure
    assert failure is not None and failure.worst is not None, outcome.message
    worst = failure.worst
    a, b = outcome.pair
    head = f"{mutant.stage} {a} vs {b} {worst.tensor}"
    assert outcome.message.startswith(head), f"{outcome.message!r} lacks {head!r}"
    sizes = ("max|diff|", "not finite", "raised", "shape")
    assert any(s in outcome.message for s in sizes), f"no error size in: {outcome.message}"
    assert worst.tensor and worst.tensor != "*", outcome.message


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.name)
def test_only_the_mutated_implementation_disagrees(judged, mutant):
    """Every failing comparison involves the target: the witnesses stayed correct."""
    _needs_every_framework()
    outcome = judged(mutant)
    assert outcome.report is not None, outcome.message
    culprit = "input" if mutant.target == "data" else mutant.target
    innocent = [
        c.message()
        for s in outcome.report.stages
        if culprit not in s.pair
        for c in s.comparisons
        if not c.passed
    ]
    assert not innocent, "\n".join(innocent)


@pytest.mark.parametrize("mutant", CATALOGUE, ids=lambda m: m.name)
def test_planting_leaves_no_trace(selftest_data, mutant):
    """After the mutant's run every module attribute is the object it was before."""
    _needs_every_framework()
    before = _namespace_snapshot()
    d = selftest_data
    run_mutant(mutant, d.X_train[:64], d.y_train[:64], d.X_test[:16], d.y_test[:16])
    after = _namespace_snapshot()
    changed = {m: sorted(k for k in before[m] if after[m].get(k) != before[m][k]) for m in before}
    assert not any(changed.values()), f"{mutant.name} left patches behind: {changed}"


def test_a_mutant_whose_framework_is_missing_is_unavailable(monkeypatch, selftest_data):
    def unavailable(name: str, **options: object) -> frameworks.Framework:
        raise frameworks.FrameworkUnavailable(f"{name} is unavailable: not installed (test)")

    monkeypatch.setattr(frameworks, "load", unavailable)
    d = selftest_data
    mutant = BY_NAME["torch_cross_entropy_on_probabilities"]
    outcome = run_mutant(mutant, d.X_train, d.y_train, d.X_test, d.y_test)
    assert (outcome.status, outcome.caught) == ("unavailable", False), outcome
    assert "torch is unavailable" in outcome.message


def test_summary_counts_per_stage(judged):
    _needs_every_framework()
    outcomes = [judged(m) for m in CATALOGUE]
    assert summary(outcomes) == f"caught {len(CATALOGUE)}/{len(CATALOGUE)}"
    for stage, caught in stage_rows(outcomes):
        n = sum(m.stage == stage for m in CATALOGUE)
        assert caught == f"{n}/{n}", f"{stage}: {caught}"


# --------------------------------------------------------------------------- the command


def _selftest(args: list[str], mnist_dir) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, DATA_ENV: str(mnist_dir)}
    return subprocess.run(
        [sys.executable, "-m", "parity", "selftest", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


def test_selftest_command_catches_everything(mnist_dir):
    _needs_every_framework()
    result = _selftest([], mnist_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"caught {len(CATALOGUE)}/{len(CATALOGUE)}" in lines, result.stdout
    for mutant in CATALOGUE:
        row = next((line for line in lines if line.startswith(mutant.name + " ")), None)
        assert row is not None, f"no row for {mutant.name}:\n{result.stdout}"
        assert row.split()[:5] == [mutant.name, mutant.target, mutant.stage, mutant.stage, "yes"]
    assert any(line.startswith("gradients ") for line in lines), result.stdout


def test_selftest_only_and_verbose(mnist_dir):
    _needs_every_framework()
    result = _selftest(["--only", "update_sign_flipped", "-v"], mnist_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "caught 1/1" in result.stdout
    assert "update_sign_flipped: step torch vs numpy W1: MISMATCH" in result.stdout, result.stdout


def test_selftest_unknown_mutant_is_a_usage_error(mnist_dir):
    result = _selftest(["--only", "no_such_bug"], mnist_dir)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "unknown mutant(s) ['no_such_bug']" in result.stderr
    assert "Traceback" not in result.stderr


def test_selftest_exits_1_when_a_defect_escapes(monkeypatch, capsys, mnist_dir):
    """In-process: a 'defect' that is no defect at all is not caught: exit 1, and it says so."""
    _needs_every_framework()
    from parity.selftest import catalogue

    harmless = Mutant(
        "correct_reference",
        "the reference itself, unchanged: nothing for the judge to find",
        "gradients",
        "numpy",
        catalogue.BASE.replace(epochs=1),
        adapter=lambda: frameworks.load("numpy"),
    )
    monkeypatch.setattr(catalogue, "CATALOGUE", (harmless,))
    monkeypatch.setenv(DATA_ENV, str(mnist_dir))
    status = cli.main(["selftest"])
    out = capsys.readouterr().out
    assert status == 1, out
    assert "caught 0/1; NOT caught at their stage: correct_reference" in out
    assert "correct_reference: PASS" in out
