"""A user's own implementation: found by path, module or entry point, checked at the boundary.

Every way a user's MLP can break the contract is one ContractError line (with the user's own
frame for an exception), while a disagreement stays a failing stage.
"""

from __future__ import annotations

import pickle
import re
import sys
from pathlib import Path

import pytest

import frameworks
from frameworks.checked import Checked, ContractError, recorded_violation
from frameworks.numpy_ref import NumpyMLP
from parity.judge import NEEDS_TRAIN, judge
from parity.report.model import Report
from parity.testing import synthetic_digits
from reference.spec import standard
from tests.support.own import template_source, variant, write

SPEC = standard(sizes=(784, 16, 8, 10), epochs=2, batch_size=16, seed=5)


@pytest.fixture(scope="module")
def digits():
    return synthetic_digits(96, 40, seed=11)


def judged(names: list[str], digits, **kwargs) -> Report:
    X_train, y_train, X_test, y_test = digits
    return judge(SPEC, X_train, y_train, X_test, y_test, names=names, k_steps=3, **kwargs)


def load_variant(tmp_path: Path, defect: str, attribute: str = "MyMLP"):
    path = write(tmp_path, variant(defect))
    return path, frameworks.load(f"{path}:{attribute}")


def line_of(source: str, text: str) -> int:
    """The 1-based line of ``source`` where ``text`` first occurs."""
    return source[: source.index(text)].count("\n") + 1


# --------------------------------------------------------------------------- loading


def test_the_template_by_path_is_judged_and_agrees(tmp_path, digits):
    path = write(tmp_path, template_source())
    report = judged(["numpy", f"{path}:MyMLP"], digits)
    assert list(report.runs) == ["numpy", "MyMLP"]
    assert report.passed, report.verdict()
    stages = {s.stage for s in report.stages if "MyMLP" in s.pair}
    assert stages == {"forward", "gradients", "step", "steps", *NEEDS_TRAIN[2:]}


def test_a_module_is_found_beside_the_installed_ones(tmp_path, monkeypatch, digits):
    write(tmp_path, template_source(), "own_mlp_module.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "own_mlp_module", raising=False)
    framework = frameworks.load("own_mlp_module:MyMLP")
    assert isinstance(framework, Checked) and framework.name == "MyMLP"
    assert judged(["numpy", "own_mlp_module:MyMLP"], digits).passed


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A package installed with an entry point (a dist-info folder on sys.path)."""

    def install(package: str, body: str, entry: str) -> None:
        site = tmp_path / "site"
        write(site / package, body, "__init__.py")
        info = site / f"{package}-0.1.dist-info"
        write(info, f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n", "METADATA")
        write(info, f"[mlp_parity.frameworks]\n{entry}\n", "entry_points.txt")
        monkeypatch.syspath_prepend(str(site))
        monkeypatch.delitem(sys.modules, package, raising=False)

    return install


def test_an_entry_point_registers_a_name(installed, digits):
    installed("own_mlp_pkg", template_source(), "mine = own_mlp_pkg:MyMLP")
    framework = frameworks.load("mine")
    assert isinstance(framework, Checked) and framework.name == "mine"
    report = judged(["numpy", "mine"], digits)
    assert list(report.runs) == ["numpy", "mine"] and report.passed, report.verdict()


def test_a_broken_entry_point_is_one_line_at_the_users_frame(installed):
    body = "import numpy as np\n\nraise ImportError('needs CUDA')\n"
    installed("own_mlp_broken", body, "broken = own_mlp_broken:MyMLP")
    with pytest.raises(ContractError) as caught:
        frameworks.load("broken")
    message = str(caught.value)
    assert "\n" not in message
    assert re.search(
        r"entry point own_mlp_broken:MyMLP .* raised at .*__init__\.py:3 in <module>", message
    )
    assert message.endswith("ImportError: needs CUDA"), message


@pytest.mark.parametrize(
    "attribute", ["MyMLP", "mlp", "make"], ids=["class", "instance", "factory"]
)
def test_a_class_an_instance_or_a_factory(tmp_path, attribute):
    source = template_source() + "\n\nmlp = MyMLP()\n\n\ndef make():\n    return MyMLP()\n"
    path = write(tmp_path, source)
    framework = frameworks.load(f"{path}:{attribute}")
    assert isinstance(framework, Checked) and framework.name == "MyMLP"


@pytest.mark.parametrize(
    ("defect", "expected"),
    [("named_numpy", "numpy (my_mlp.py:MyMLP)"), ("bias_averaged_twice", "MyMLP")],
    ids=["collides-with-a-built-in", "class-name"],
)
def test_report_names(tmp_path, defect, expected):
    assert load_variant(tmp_path, defect)[1].name == expected


def test_two_implementations_of_one_name_are_told_apart(tmp_path, digits):
    a = write(tmp_path / "a", template_source())
    b = write(tmp_path / "b", template_source())
    report = judged(["numpy", f"{a}:MyMLP", f"{b}:MyMLP"], digits)
    assert list(report.runs) == ["numpy", "MyMLP", "MyMLP #2"]


def test_built_ins_are_not_wrapped():
    assert isinstance(frameworks.load("numpy"), NumpyMLP)


def test_an_unknown_name_says_how_to_name_your_own():
    with pytest.raises(ValueError, match=r"path/to/file\.py:Class or package\.module:Class"):
        frameworks.load("tensorflow")


def test_a_wrapper_pickles_by_loading_again(tmp_path):
    _, framework = load_variant(tmp_path, "named_numpy")
    again = pickle.loads(pickle.dumps(framework))
    assert isinstance(again, Checked) and again.name == framework.name
    assert again.impl is not framework.impl


# --------------------------------------------------------------------------- optional parts


def test_without_train_the_training_stages_are_skipped_and_said(tmp_path, digits):
    path = write(tmp_path, variant("no_train"))
    report = judged(["numpy", f"{path}:MyMLP"], digits)
    assert report.passed, report.verdict()
    run = report.runs["MyMLP"]
    assert run.skipped == {s: "MyMLP has no train method" for s in NEEDS_TRAIN}
    assert report.to_dict()["frameworks"]["MyMLP"]["skipped"] == run.skipped
    judged_stages = [s.stage for s in report.stages if "MyMLP" in s.pair]
    assert judged_stages == ["forward", "gradients"]


def test_versions_default_to_numpy_and_the_modules_version(tmp_path):
    path = write(tmp_path, '__version__ = "2.1"\n' + template_source())
    versions = frameworks.load(f"{path}:MyMLP").versions()
    assert versions["my_mlp.py"] == "2.1" and "numpy" in versions


# --------------------------------------------------------------------------- broken contracts

# defect -> (what the one line says, the source text it must show as the user's frame)
BROKEN: dict[str, tuple[str, str | None]] = {
    "no_forward": (r"has no forward\(spec, params, X\) method; an implementation needs", None),
    "no_gradients": (r"has no gradients\(spec, params, X, y\) method", None),
    "forward_takes_X_only": (
        r"\.forward\(X\) cannot be called as forward\(spec, params, X\)",
        None,
    ),
    "probs_transposed": (
        r"MyMLP\.forward\(\) has shape \(10, \d+\), expected probs \(n_samples, n_classes\) = "
        r"\(\d+, 10\) \(transposed\? one row per sample\)",
        None,
    ),
    "probs_a_list": (r"MyMLP\.forward\(\) is a list of \d+, expected a NumPy array", None),
    "probs_float32": (r"MyMLP\.forward\(\) has dtype float32, expected the spec's float64", None),
    "probs_nan": (r"MyMLP\.forward\(\) is nan at \[0, 0\] on ordinary inputs", None),
    "grads_missing_b2": (
        r"MyMLP\.gradients\(\) has keys \[.*\], expected .* \(missing \['b2'\]\)",
        None,
    ),
    "grads_W1_transposed": (
        r"MyMLP\.gradients\(\)\['W1'\] has shape \(784, 16\), expected \(fan_out, fan_in\) = "
        r"\(16, 784\) \(transposed\? W\{l\} is \(fan_out, fan_in\)",
        None,
    ),
    "grads_bias_2d": (
        r"\['b1'\] has shape \(1, 16\), expected \(fan_out,\) = \(16,\) \(biases are 1-D\)",
        None,
    ),
    "grads_float32": (
        r"MyMLP\.gradients\(\)\['W1'\] has dtype float32, expected the spec's float64",
        None,
    ),
    "grads_inf": (r"MyMLP\.gradients\(\)\['b2'\] is inf at \[\d+\] on ordinary inputs", None),
    "forward_raises": (
        r"MyMLP\.forward raised at .*: ValueError: matmul",
        'A[-1] @ params[f"W{l}"] +',
    ),
    "helper_raises": (
        r"MyMLP\.gradients raised at .* in one_hot: .*: KeyError: 10$",
        "return {'y': y}[k]",
    ),
    "writes_into_X": (
        r"MyMLP\.forward raised at .*: ValueError: output array is read-only",
        "X *= 1.0",
    ),
    "import_error": (
        r"importing .* raised at .*ModuleNotFoundError: No module named 'not_a_module_xyz'",
        "import not_a_module_xyz",
    ),
    "syntax_error": (r"importing .* raised at .*my_mlp\.py:\d+: .*SyntaxError", None),
    "exits_at_import": (r"importing .* raised at .*: SystemExit: 3", "sys.exit(3)"),
    "init_needs_arguments": (
        r"MyMLP\(\) raised TypeError: .*missing 1 required positional argument"
        r".*instantiated with no arguments",
        None,
    ),
    "init_raises": (
        r"MyMLP\(\) raised at .* in __init__: .*: RuntimeError: no GPU here",
        "raise RuntimeError('no GPU here')",
    ),
    "train_returns_params_only": (
        r"MyMLP\.train\(\) returned a dict, expected a pair \(params, history\)",
        None,
    ),
    "history_without_accuracy": (
        r"MyMLP\.train\(\)'s history \(a dict\) has no 'accuracy'",
        None,
    ),
    "history_loss_per_batch": (
        r"MyMLP\.train\(\)'s history\['loss'\] has \d+ entries, expected one per epoch \(1\)",
        None,
    ),
    "supports_returns_bool": (r"MyMLP\.supports\(\) returned a bool, expected None", None),
}


@pytest.mark.parametrize("defect", BROKEN, ids=list(BROKEN))
def test_a_broken_contract_is_one_line(tmp_path, digits, defect):
    pattern, frame = BROKEN[defect]
    source = variant(defect)
    path = write(tmp_path, source)
    with pytest.raises(ContractError) as caught:
        judged(["numpy", f"{path}:MyMLP"], digits)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert re.search(pattern, message), message
    if frame is not None:  # the user's own frame: file:line, the source line
        line = line_of(source, frame)
        assert f"my_mlp.py:{line} in " in message, message
        assert frame in message, message


@pytest.mark.parametrize("problem", ["no such file", "no such class"], ids=["file", "class"])
def test_a_bad_name_is_one_line(tmp_path, problem):
    path = write(tmp_path, template_source())
    source = f"{tmp_path / 'nope.py'}:MyMLP" if problem == "no such file" else f"{path}:Nope"
    expected = (
        r"no such file .*nope\.py"
        if problem == "no such file"
        else r"defines no 'Nope' \(it defines MyMLP\)"
    )
    with pytest.raises(ContractError, match=expected):
        frameworks.load(source)


def test_a_violation_in_the_full_training_is_kept(tmp_path, digits):
    """Where the judge only records a training's error, the violation is still found."""
    twice = '                history["accuracy"].append('
    source = template_source().replace(twice, twice + "0.0)\n" + twice)
    path = write(tmp_path, source)
    framework = frameworks.load(f"{path}:MyMLP")
    report = judged(["numpy"], digits, loaded={"MyMLP": framework})
    assert report.runs["MyMLP"].status == "error"
    assert framework.violation is not None
    assert "history['accuracy'] has 4 entries, expected one per epoch (2)" in str(
        framework.violation
    )


# --------------------------------------------------------------------------- disagreements


@pytest.mark.parametrize(
    ("defect", "stage", "tensor"),
    [("bias_averaged_twice", "gradients", "b1"), ("softmax_without_max_shift", "forward", None)],
    ids=["bias-averaged-twice", "softmax-without-max-shift"],
)
def test_a_disagreement_fails_its_stage_not_the_contract(tmp_path, digits, defect, stage, tensor):
    path = write(tmp_path, variant(defect))
    report = judged(["numpy", f"{path}:MyMLP"], digits)
    failure = report.first_failure
    assert failure is not None and failure.stage == stage, report.verdict()
    worst = failure.worst
    assert worst is not None
    if tensor is not None:
        assert worst.tensor == tensor
    else:  # the large-logit probe: NaN, or (warnings as errors, as here) the overflow itself
        assert "at large logits" in worst.message() or "overflow" in worst.message()


def test_an_overflow_in_training_after_a_wrong_gradient_keeps_the_gradient_finding(
    tmp_path, digits
):
    source = variant("bias_averaged_twice").replace(
        "        return params, history",
        "        np.exp(np.float64(1e3))\n        return params, history",
    )
    path = write(tmp_path, source)
    report = judged(["numpy", f"{path}:MyMLP"], digits)
    assert report.first_failure is not None and report.first_failure.stage == "gradients"


@pytest.mark.parametrize(
    ("reason", "raises"),
    [("raised ContractError: MyMLP.train() returned a dict", True), ("raised KeyError: 3", False)],
    ids=["contract-error", "other-error"],
)
def test_a_violation_recorded_only_as_a_runs_reason_is_found(reason, raises):
    """A training in another process keeps its wrapper there: its run's reason tells."""
    if raises:
        with pytest.raises(ContractError, match=r"^MyMLP\.train\(\) returned a dict$"):
            recorded_violation([], [reason])
    else:
        recorded_violation([], [reason])
