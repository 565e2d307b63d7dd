"""The verdicts at learning rates people try (issue 10's four runs): correct implementations
end PASS or INDETERMINATE, never FAIL, and the exit status says which."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_commands import _env, mlp_parity

RUN = ["run", "--train-limit", "2000", "--test-limit", "500", "--epochs", "2", "--quiet"]


@pytest.mark.parametrize("lr", ["5", "20", "100", "1e6"], ids=lambda lr: f"lr-{lr}")
def test_large_learning_rates_never_fail_correct_code(mnist_dir, tmp_path, lr):
    out = tmp_path / "report"
    result = mlp_parity([*RUN, "--lr", lr, "--out", str(out)], _env(tmp_path, mnist_dir))
    report = json.loads((out / "report.json").read_text())
    verdict = report["verdict"]
    assert verdict["status"] in ("PASS", "INDETERMINATE"), verdict["line"]
    assert (
        result.returncode
        == verdict["exit_status"]
        == {"PASS": 0, "INDETERMINATE": 3}[verdict["status"]]
    ), result.stderr
    assert result.stdout.strip().startswith(verdict["status"])
    if verdict["status"] == "INDETERMINATE":
        floor = report["floor"]
        assert floor["nudges"] >= 2 and floor["stages"], floor
        assert all(row["within"] for row in floor["stages"])
        assert verdict["first_failure"]["outcome"] == "indeterminate"
        assert verdict["first_failure"]["stage"] in (
            "steps", "train_params", "train_loss", "train_accuracy", "predictions",
        )  # fmt: skip
        assert "rounding alone grows to" in verdict["line"]
