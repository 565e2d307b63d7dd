"""The version matrix is one list: tox.ini's env_list, the workflow's jobs and .ci/run agree.

A new environment in tox.ini that the workflow forgets, or a job whose Python is not its
environment's, would silently shrink the matrix on one side; these tests name the drift.
"""

from __future__ import annotations

import configparser
import itertools
import re

import pytest

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _expand(pattern: str) -> list[str]:
    """tox's brace product: 'py311-numpy{126,20}' -> ['py311-numpy126', 'py311-numpy20']."""
    parts = re.split(r"\{([^}]*)\}", pattern)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(combo) for combo in itertools.product(*choices)]


def _tox_envs() -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    lines = parser["tox"]["env_list"].splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return [env for pattern in patterns for env in _expand(pattern)]


def _workflow_rows() -> list[tuple[str, str]]:
    """(env, python) of each `- { env: ..., python: "..." }` row of the tox job's matrix."""
    text = WORKFLOW.read_text()
    return re.findall(r"-\s*\{\s*env:\s*([\w-]+),\s*python:\s*\"([\d.]+)\"", text)


def _workflow_matrix() -> dict[str, str]:
    """env -> python of the tox job's matrix."""
    return dict(_workflow_rows())


def test_brace_expansion() -> None:
    assert _expand("py{310,311}-x") == ["py310-x", "py311-x"]
    assert _expand("lint") == ["lint"]


def test_env_list_has_no_duplicates() -> None:
    envs = _tox_envs()
    assert len(envs) == len(set(envs)), envs
    jobs = [env for env, _ in _workflow_rows()]
    assert len(jobs) == len(set(jobs)), f"workflow matrix repeats a job: {jobs}"


def test_workflow_runs_every_tox_environment() -> None:
    envs = set(_tox_envs())
    jobs = set(_workflow_matrix())
    separate = {"lint", "type"}  # their own jobs: no MNIST, no matrix Python
    assert jobs == envs - separate, (
        f"in tox.ini only: {sorted(envs - separate - jobs)}; "
        f"in the workflow only: {sorted(jobs - envs)}"
    )
    for env in separate:
        assert f"tox -e {env}" in WORKFLOW.read_text(), f"no workflow job runs tox -e {env}"


@pytest.mark.parametrize(("env", "python"), sorted(_workflow_matrix().items()))
def test_job_python_is_the_environments(env: str, python: str) -> None:
    factor = re.match(r"py3(\d+)", env)
    assert factor is not None, f"{env}: no pyXY factor"
    assert python == f"3.{factor.group(1)}", f"{env} runs on Python {python}"


def test_ci_run_leaves_out_only_existing_environments() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    left_out = re.search(r"grep -vxE '([^']*)'", ci)
    assert left_out is not None, ".ci/run no longer filters the matrix the way this test reads"
    unknown = set(left_out.group(1).split("|")) - set(_tox_envs())
    assert not unknown, f".ci/run leaves out environments tox.ini does not have: {unknown}"
