"""A user's own MLP on the command line, as the user types it (subprocess): a file written
outside the repository, importing only NumPy, judged with one command."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sysconfig

import pytest

from tests.cli.test_commands import SMALL, _env
from tests.conftest import ROOT
from tests.support.own import template_source, variant, write


@pytest.fixture
def env(tmp_path, mnist_dir):
    return _env(tmp_path, mnist_dir)


def run_in(folder, args, env):
    """The installed ``mlp-parity`` run in ``folder`` (the user's own, outside the repository)."""
    exe = shutil.which("mlp-parity", path=sysconfig.get_path("scripts"))
    assert exe, "the mlp-parity entry point is not installed next to this Python"
    command = [exe, *args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, env=env, timeout=600)


def test_the_template_is_judged_with_one_command(tmp_path, env):
    write(tmp_path, template_source())
    out = tmp_path / "report"
    args = ["run", *SMALL, "--frameworks", "numpy,my_mlp.py:MyMLP", "--out", str(out)]
    result = run_in(tmp_path, args, env)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "VERDICT: PASS: MyMLP agree" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["frameworks"]["MyMLP"]["status"] == "ok"
    assert report["frameworks"]["MyMLP"]["skipped"] == {}


def test_a_planted_bug_fails_at_its_stage_naming_the_tensor(tmp_path, env):
    write(tmp_path, variant("bias_averaged_twice"))
    result = run_in(tmp_path, ["run", *SMALL, "--frameworks", "numpy,my_mlp.py:MyMLP"], env)
    assert result.returncode == 1, result.stderr + result.stdout
    verdict = result.stdout.strip().splitlines()[-1]
    assert re.match(
        r"VERDICT: FAIL at stage gradients \(MyMLP vs numpy\): gradients MyMLP vs numpy b1: "
        r"MISMATCH .* at \[\d+\]: MyMLP \S+ vs numpy \S+; "
        r"mismatched elements: \d+ / \d+ \([\d.]+%\); tolerance",
        verdict,
    ), verdict


def test_without_train_the_report_says_what_was_skipped(tmp_path, env):
    write(tmp_path, variant("no_train"))
    out = tmp_path / "report"
    args = ["run", *SMALL, "--frameworks", "numpy,my_mlp.py:MyMLP", "--out", str(out)]
    result = run_in(tmp_path, args, env)
    assert result.returncode == 0, result.stderr + result.stdout
    line = (
        "MyMLP: step, steps, train_params, train_loss, train_accuracy, predictions "
        "(MyMLP has no train method)"
    )
    assert f"skipped stages:\n  {line}" in result.stdout
    assert f"## Skipped stages\n\n- {line}" in (out / "report.md").read_text()
    skipped = json.loads((out / "report.json").read_text())["frameworks"]["MyMLP"]["skipped"]
    assert sorted(skipped) == sorted(line.split(": ")[1].split(" (")[0].split(", "))


# name on the command line (with {path} for the written file) -> what the one line says
BAD = {
    "no-such-file": (
        "numpy,missing.py:MyMLP",
        None,
        r"cannot load 'missing\.py:MyMLP': no such file",
    ),
    "no-such-class": ("numpy,my_mlp.py:Nope", "bias_averaged_twice", r"defines no 'Nope'"),
    "unknown-name": (
        "numpy,tensorflow",
        None,
        r"unknown framework\(s\) \['tensorflow'\].*file\.py:Class",
    ),
    "import-error": (
        "numpy,my_mlp.py:MyMLP",
        "import_error",
        r"my_mlp\.py:2 in <module>: `import not_a_module_xyz`: ModuleNotFoundError",
    ),
    "probs-transposed": (
        "numpy,my_mlp.py:MyMLP",
        "probs_transposed",
        r"MyMLP\.forward\(\) has shape \(10, 256\).*transposed",
    ),
    "W1-transposed": (
        "numpy,my_mlp.py:MyMLP",
        "grads_W1_transposed",
        r"MyMLP\.gradients\(\)\['W1'\] has shape \(784, 16\)",
    ),
    "forward-raises": (
        "numpy,my_mlp.py:MyMLP",
        "forward_raises",
        r"MyMLP\.forward raised at my_mlp\.py:8 in forward: `.*`: ValueError: matmul",
    ),
    "history-without-accuracy": (
        "numpy,my_mlp.py:MyMLP",
        "history_without_accuracy",
        r"history \(a dict\) has no 'accuracy'",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_implementation_is_one_line_and_exit_2(tmp_path, env, case):
    frameworks, defect, pattern = BAD[case]
    if defect is not None:
        write(tmp_path, variant(defect))
    result = run_in(tmp_path, ["run", *SMALL, "--frameworks", frameworks], env)
    assert result.returncode == 2, result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlp-parity run: error: "), result.stderr
    assert re.search(pattern, lines[0]), lines[0]


def test_a_module_beside_you_by_module_name(tmp_path, env):
    write(tmp_path, template_source(), "own_mlp.py")
    result = run_in(tmp_path, ["run", *SMALL, "--frameworks", "numpy,own_mlp:MyMLP", "-q"], env)
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.startswith("PASS: MyMLP agree")


def test_an_installed_entry_point_by_its_name(tmp_path, env):
    site = tmp_path / "site"
    write(site / "own_mlp_pkg", template_source(), "__init__.py")
    info = site / "own_mlp_pkg-0.1.dist-info"
    write(info, "Metadata-Version: 2.1\nName: own-mlp-pkg\nVersion: 0.1\n", "METADATA")
    write(info, "[mlp_parity.frameworks]\nmine = own_mlp_pkg:MyMLP\n", "entry_points.txt")
    env = dict(env, PYTHONPATH=f"{ROOT}{os.pathsep}{site}")
    result = run_in(tmp_path, ["run", *SMALL, "--frameworks", "numpy,mine", "-q"], env)
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.startswith("PASS: mine agree")


def test_the_worked_example_passes(env):
    name = "numpy,examples/student_mlp.py:StudentMLP"
    result = run_in(ROOT, ["run", *SMALL, "--frameworks", name, "-q"], env)
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.startswith("PASS: student agree")


GRADCHECK = ["gradcheck", "--hidden", "16,8", "--samples", "8", "--max-entries", "12"]


@pytest.mark.parametrize(
    ("defect", "status", "expected"),
    [
        (None, 0, "VERDICT: PASS: MyMLP's gradients match finite differences of its own loss"),
        ("bias_averaged_twice", 1, "VERDICT: FAIL: MyMLP's gradients are not the gradient"),
    ],
    ids=["template", "bias-averaged-twice"],
)
def test_gradcheck_of_your_own_gradients(tmp_path, env, defect, status, expected):
    write(tmp_path, template_source() if defect is None else variant(defect))
    result = run_in(tmp_path, [*GRADCHECK, "--framework", "my_mlp.py:MyMLP"], env)
    assert result.returncode == status, result.stderr + result.stdout
    assert expected in result.stdout
    if defect is not None:
        assert re.search(r"gradcheck b1\[\d+\]: MyMLP \S+ vs finite difference \S+", result.stdout)


def test_gradcheck_of_a_bad_name_is_one_line(tmp_path, env):
    result = run_in(tmp_path, [*GRADCHECK, "--framework", "nope.py:MyMLP"], env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("mlp-parity gradcheck: error: cannot load 'nope.py:MyMLP'")
