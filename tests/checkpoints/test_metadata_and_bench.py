"""Session metadata (cwd, git, model, versions) and the checkpoint benchmark's report."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from swarm.bench._checkpoint_cost import measure_checkpoints
from swarm.engine import SessionDescriber, git_state, swarm_version

from .helpers import cli_json, run_plan_cli

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed here")


def make_repo(path: Path) -> str:
    """A git repository with one commit; returns that commit's id."""
    env = ["-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", "-b", "trunk", str(path)], check=True)
    subprocess.run(["git", *env, "commit", "-q", "--allow-empty", "-m", "x"], cwd=path, check=True)
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=path, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@needs_git
def test_cli_runs_record_git_branch_and_commit(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions of a run started in a repository carry cwd, branch, commit and versions."""
    commit = make_repo(in_tmp_cwd)
    monkeypatch.setenv("SWARM_STORE", "sqlite:///store.db")
    run_plan_cli(in_tmp_cwd, capsys)
    _, sessions = cli_json(capsys, "sessions", "list")
    assert len(sessions) == 4
    for session in sessions:
        meta = session["metadata"]
        assert meta["cwd"] == str(in_tmp_cwd)
        assert (meta["git_branch"], meta["git_commit"]) == ("trunk", commit)
        assert meta["swarm_version"] == swarm_version()
        assert meta["simulated"] is True  # what the backend reported is kept


async def test_no_repository_means_no_git_fields(tmp_path: Path) -> None:
    """Outside a repository (or with git off) the git fields are left out, nothing fails."""
    assert await git_state(str(tmp_path)) == {}
    assert await git_state(str(tmp_path / "missing")) == {}
    describer = SessionDescriber(git=True)
    meta = await describer.describe(
        cwd=str(tmp_path), model="claude-x", reported={"cli_version": "2.1.330"}
    )
    assert meta == {
        "cwd": str(tmp_path),
        "swarm_version": swarm_version(),
        "model": "claude-x",
        "cli_version": "2.1.330",
    }


def test_measure_checkpoints_reports_medians(tmp_path: Path) -> None:
    """The benchmark function returns the figures and targets the benchmark engineer reads."""
    figures = measure_checkpoints(tmp_path / "bench.db", messages=120, repeats=3)
    assert figures["messages"] == 120 and figures["repeats"] == 3
    for key in ("create_ms", "create_named_ms", "fork_at_ms", "fork_pointer_ms"):
        assert figures[key] > 0
    assert figures["target_create_ms"] == 1.0 and figures["target_fork_at_ms"] == 10.0
    assert figures["create_met"] == (figures["create_ms"] <= 1.0)


def test_the_checkpoints_workload_measures_in_a_child_process() -> None:
    """The workload's figures come from a fresh interpreter (the bench's own process
    carries what earlier workloads left), parsed into the report's figures."""
    from swarm.bench._checkpointing import measure_in_child, summarize

    raw = measure_in_child(repeats=3)
    assert raw["repeats"] == 3 and raw["messages"] == 1000
    result = summarize(raw)
    assert result.figures[0].label == "take a checkpoint (executor path), median"
    assert result.figures[0].value == raw["create_ms"] > 0
    assert "child process" in result.method
