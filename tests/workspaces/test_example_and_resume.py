"""The shipped example (examples/worktrees), run as its README says; a crash between an
agent's commit and its final record; the plan's and the commands' own checks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import trio
import yaml

from swarm import AgentStatus, MemoryStore, ParallelSwarmExecutor, RunStatus, parse_plan
from swarm.backends import SimulatedBackend
from swarm.cli.app import main

from .helpers import branches, commits_on, git, head, make_repo, show, untouched, worktree_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "worktrees"
FIXES = {"fix-add": "calc.py", "fix-mean": "stats.py", "fix-greeting": "greet.py"}


def _make_demo(where: Path) -> Path:
    done = subprocess.run(
        [str(EXAMPLE / "make-repo.sh")], cwd=where, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"made {where / 'calc-demo'}: a git repository")
    return where / "calc-demo"


def _run_example(capsys: pytest.CaptureFixture[str], *extra: str) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    code = main(["run", str(EXAMPLE / "plan.yaml"), *extra, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)  # type: ignore[no-any-return]


def _merge_and_check(capsys: pytest.CaptureFixture[str], demo: Path, run_id: str) -> None:
    base = head(demo)
    capsys.readouterr()
    assert main(["changes", "latest"]) == 0
    changes = capsys.readouterr().out
    for agent, path in FIXES.items():
        assert f"{agent} (succeeded) swarm/{run_id}/{agent}: commit " in changes and path in changes
    assert main(["merge", "latest"]) == 0
    merged = capsys.readouterr().out.splitlines()
    assert merged[:4] == [
        f"merged {agent} (swarm/{run_id}/{agent})"
        for agent in ("fix-add", "fix-mean", "fix-greeting", "document")
    ]
    assert merged[4].startswith(f"new branch swarm/{run_id}/merged is now at ")
    assert len(commits_on(demo, f"swarm/{run_id}/merged", base)) == 8  # 4 changes, 4 merges
    assert head(demo) == base and untouched(demo)


@pytest.mark.cli
def test_the_example_rehearses_with_real_sessions_then_merges(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = _make_demo(in_tmp_cwd)
    result = _run_example(
        capsys, "--rehearse", "--rehearse-config", str(EXAMPLE / "rehearsal.yaml")
    )
    run_id = result["run_id"]
    assert show(demo, f"swarm/{run_id}/fix-add", "calc.py").count("return a + b") == 1
    assert "if values else 0.0" in show(demo, f"swarm/{run_id}/fix-mean", "stats.py")
    assert 'f"Hello, {name}!"' in show(demo, f"swarm/{run_id}/fix-greeting", "greet.py")
    _merge_and_check(capsys, demo, run_id)


def test_the_example_runs_offline_on_the_simulated_backend(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = _make_demo(in_tmp_cwd)
    result = _run_example(capsys, "--backend", "simulated")
    run_id = result["run_id"]
    assert show(demo, f"swarm/{run_id}/fix-add", "calc.py").startswith("def add(a, b):")
    assert "[simulated: no model was called]" in show(
        demo, f"swarm/{run_id}/fix-add", "SIMULATED-fix-add.md"
    )
    _merge_and_check(capsys, demo, run_id)


def test_make_repo_refuses_a_folder_that_exists(tmp_path: Path) -> None:
    (tmp_path / "calc-demo").mkdir()
    done = subprocess.run(
        [str(EXAMPLE / "make-repo.sh")], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "exists already" in done.stderr


async def test_a_crash_between_the_commit_and_the_final_record_commits_nothing_twice(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    base = head(repo)
    agents = [{"id": "a", "prompt": "p", "simulated": {"edits": {"app.py": "fixed\n"}}}]
    plan = parse_plan(yaml.safe_dump(worktree_plan(repo, "memory://", agents)))
    store = MemoryStore()
    executor = ParallelSwarmExecutor(SimulatedBackend(store), store)
    first = await executor.run(plan)
    committed = head(repo, f"swarm/{first.run_id}/a")
    # What a kill -9 right after the commit leaves: the agent still running in the store.
    agent = first.agents["a"]
    running = agent.evolve(status=AgentStatus.RUNNING, ended_at=None, workspace=None)
    await store.save_agents(first.run_id, [running])
    record = await store.get_run(first.run_id)
    assert record is not None
    await store.save_run(record.evolve(status=RunStatus.INTERRUPTED))
    resumed = await executor.resume(first.run_id)
    again = resumed.agents["a"]
    assert again.succeeded and again.workspace is not None
    assert again.workspace["commit"] == committed == head(repo, f"swarm/{first.run_id}/a")
    assert commits_on(repo, f"swarm/{first.run_id}/a", base) == [committed]
    assert again.workspace["files"] == ["SIMULATED-a.md", "app.py"]


def test_a_workspace_that_is_neither_shared_nor_worktree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("base: {prompt: x}\nagents:\n  - {id: a, prompt: p, workspace: clone}\n")
    assert main(["validate", str(plan)]) == 2
    err = capsys.readouterr().err
    assert f"{plan}:3: agents[0].workspace" in err and "'shared' or 'worktree'" in err


def test_changes_of_a_run_without_worktrees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "repo")
    store = f"sqlite:///{tmp_path / 'store.db'}"
    data = worktree_plan(repo, store, [{"id": "a", "prompt": "p"}])
    data["defaults"]["workspace"] = "shared"
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(data))
    assert main(["run", str(tmp_path / "plan.yaml"), "--quiet"]) == 0
    capsys.readouterr()
    for command in ("changes", "merge"):
        assert main([command, "latest", "--store", store]) == 2
        err = capsys.readouterr().err
        assert err.startswith("swarm: error: run ") and "no agent in a worktree" in err
    assert branches(repo) == ["main"]


async def test_a_resume_after_a_kill_mid_commit_clears_the_stale_index_lock(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    agents = [{"id": "a", "prompt": "p", "simulated": {"edits": {"app.py": "fixed\n"}}}]
    plan = parse_plan(yaml.safe_dump(worktree_plan(repo, "memory://", agents)))
    store = MemoryStore()
    executor = ParallelSwarmExecutor(SimulatedBackend(store), store)
    first = await executor.run(plan)
    worktree = repo / ".swarm" / "worktrees" / first.run_id / "a"
    # A git killed mid-commit leaves its lock behind, and the change uncommitted.
    git(repo, "update-ref", f"refs/heads/swarm/{first.run_id}/a", head(repo))
    git(worktree, "reset", "-q", "--mixed", "HEAD")
    lock = Path(
        git(worktree, "rev-parse", "--path-format=absolute", "--git-path", "index.lock").strip()
    )
    await trio.Path(lock).write_text("")
    running = first.agents["a"].evolve(status=AgentStatus.RUNNING, ended_at=None, workspace=None)
    await store.save_agents(first.run_id, [running])
    record = await store.get_run(first.run_id)
    assert record is not None
    await store.save_run(record.evolve(status=RunStatus.INTERRUPTED))
    resumed = await executor.resume(first.run_id)
    change = resumed.agents["a"].workspace
    assert resumed.agents["a"].succeeded and change is not None and change["commit"]
    assert show(repo, f"swarm/{first.run_id}/a", "app.py") == "fixed\n"
    assert not await trio.Path(lock).exists()
