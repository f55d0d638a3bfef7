"""Every bad input and fault of workspace: worktree: one clear `swarm: error:` line (exit 2
for bad input) or a failed agent saying why, and nothing already persisted lost."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
import trio
import yaml

from swarm import (
    AgentOutcome,
    AgentRequest,
    AgentSink,
    MemoryStore,
    ParallelSwarmExecutor,
    Plan,
    SQLiteStore,
    WorkspaceRefused,
    parse_plan,
)
from swarm.backends import SimulatedBackend
from swarm.cli.app import main

from .helpers import branches, git, head, make_repo, untouched, worktree_plan, write_plan


def runs_in(store_path: Path) -> int:
    if not store_path.exists():
        return 0

    async def count() -> int:
        store = await SQLiteStore.open(store_path)
        try:
            return len(await store.list_runs())
        finally:
            await store.aclose()

    return trio.run(count)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(args))
    return code, capsys.readouterr().err


def plan_of(repo: Path, agents: list[dict[str, Any]], **sections: Any) -> Plan:
    data = worktree_plan(repo, "memory://", agents, **sections)
    return parse_plan(yaml.safe_dump(data), "plan.yaml")


def test_not_a_git_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    store = tmp_path / "store.db"
    plan = write_plan(
        tmp_path, worktree_plan(folder, f"sqlite:///{store}", [{"id": "a", "prompt": "p"}])
    )
    code, err = run_cli(capsys, "run", str(plan))
    assert code == 2
    assert err.splitlines() == [
        f"swarm: error: workspace: worktree needs a git repository, and {folder.resolve()} is "
        "not inside one (run `git init` and commit, or use workspace: shared)"
    ]
    assert runs_in(store) == 0
    assert run_cli(capsys, "validate", str(plan)) == (2, err)  # validate says what run would


def test_a_repository_with_no_commit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    git(repo, "init", "-q")
    store = tmp_path / "store.db"
    plan = write_plan(
        tmp_path, worktree_plan(repo, f"sqlite:///{store}", [{"id": "a", "prompt": "p"}])
    )
    code, err = run_cli(capsys, "run", str(plan))
    assert code == 2 and len(err.splitlines()) == 1
    assert "has no commit yet" in err and err.startswith("swarm: error: workspace: worktree")
    assert runs_in(store) == 0


def test_a_dirty_tree_is_said_once_and_recorded_or_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "app.py").write_text("print('edited, not committed')\n")
    (repo / "new.txt").write_text("untracked\n")
    store = tmp_path / "store.db"
    plan = write_plan(
        tmp_path, worktree_plan(repo, f"sqlite:///{store}", [{"id": "a", "prompt": "p"}])
    )
    code, err = run_cli(capsys, "run", str(plan), "--require-clean")
    assert code == 2 and runs_in(store) == 0
    assert err.startswith("swarm: error: execution.require_clean: ") and "commit or stash" in err
    assert run_cli(capsys, "validate", str(plan))[1].startswith("swarm: warning: ")
    code, err = run_cli(capsys, "run", str(plan), "--quiet")
    assert code == 0
    warnings = [line for line in err.splitlines() if line.startswith("swarm: warning:")]
    assert warnings == [
        f"swarm: warning: {repo} has uncommitted changes (2 paths: app.py, new.txt); agents' "
        f"worktrees start at HEAD ({head(repo)[:12]}) without them"
    ]
    run = trio.run(_only_run, store)
    assert run.workspace is not None
    assert run.workspace["uncommitted"] == ["app.py", "new.txt"]
    assert run.workspace["base_commit"] == head(repo)
    worktree = Path(run.workspace["repository"]) / ".swarm" / "worktrees" / run.run_id / "a"
    assert (worktree / "app.py").read_text() == "print('hello')\n"  # HEAD's, not the edit
    assert (repo / "app.py").read_text() == "print('edited, not committed')\n"  # left alone


async def _only_run(store_path: Path) -> Any:
    store = await SQLiteStore.open(store_path)
    try:
        (run,) = await store.list_runs()
        return run
    finally:
        await store.aclose()


@pytest.mark.parametrize("agent_id", ["fix.", "fix.lock"])
def test_an_agent_id_git_would_not_take_as_a_branch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], agent_id: str
) -> None:
    repo = make_repo(tmp_path / "repo")
    store = tmp_path / "store.db"
    plan = write_plan(
        tmp_path, worktree_plan(repo, f"sqlite:///{store}", [{"id": agent_id, "prompt": "p"}])
    )
    code, err = run_cli(capsys, "run", str(plan))
    assert code == 2 and len(err.splitlines()) == 1
    assert f"agent id {agent_id!r} makes branch 'swarm/" in err and "rename the agent" in err
    assert runs_in(store) == 0 and branches(repo) == ["main"]


def test_an_unsafe_id_from_a_stored_plan_names_no_path(tmp_path: Path) -> None:
    # Stored plans keep the rule they were written under ('..' allowed): never a path here.
    repo = make_repo(tmp_path / "repo")
    data = worktree_plan(repo, "memory://", [{"id": "a..b", "prompt": "p"}])
    plan = Plan.model_validate(data)
    store = MemoryStore()
    executor = ParallelSwarmExecutor(SimulatedBackend(store), store)
    with pytest.raises(WorkspaceRefused, match=r"agent id 'a\.\.b' cannot name a branch"):
        trio.run(executor.run, plan)
    assert trio.run(store.list_runs) == [] and not (repo / ".swarm").exists()


def test_a_branch_that_exists_already(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "branch", "swarm/r1/a")
    store = MemoryStore()
    executor = ParallelSwarmExecutor(SimulatedBackend(store), store)
    plan = plan_of(repo, [{"id": "a", "prompt": "p"}, {"id": "b", "prompt": "q"}])

    async def go() -> None:
        await executor.run(plan, run_id="r1")

    with pytest.raises(WorkspaceRefused, match="branch swarm/r1/a exists already"):
        trio.run(go)
    assert trio.run(store.list_runs) == []
    assert branches(repo) == ["main", "swarm/r1/a"]  # untouched, nothing else made


class _Deleting:
    """The simulated backend, whose agent ``victim`` has its worktree deleted by hand
    after it wrote its change and before it ended."""

    def __init__(self, inner: SimulatedBackend, victim: str) -> None:
        self.inner, self.victim, self.name = inner, victim, inner.name

    async def open_base(self, request: Any, sink: AgentSink) -> Any:
        return await self.inner.open_base(request, sink)

    async def run_agent(self, request: AgentRequest, sink: AgentSink) -> AgentOutcome:
        outcome = await self.inner.run_agent(request, sink)
        if request.agent_id == self.victim:
            assert request.cwd is not None and request.own_worktree
            shutil.rmtree(request.cwd)
        return outcome

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_worktree_deleted_by_hand_mid_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    store = MemoryStore()
    executor = ParallelSwarmExecutor(_Deleting(SimulatedBackend(store), "gone"), store)
    plan = plan_of(repo, [{"id": "gone", "prompt": "p"}, {"id": "kept", "prompt": "q"}])
    result = trio.run(executor.run, plan)
    gone, kept = result.agents["gone"], result.agents["kept"]
    assert gone.status.value == "failed"
    assert gone.error is not None and "its worktree" in gone.error and "is gone" in gone.error
    assert f"its branch swarm/{result.run_id}/gone is kept at {head(repo)[:12]}" in gone.error
    assert gone.output is not None  # what the session said is kept
    assert kept.succeeded and kept.workspace is not None and kept.workspace["commit"]
    assert f"swarm/{result.run_id}/gone" in branches(repo) and untouched(repo)


def _failing_git(folder: Path) -> Path:
    """A `git` on PATH that fails to commit the way a full disk does (git's own message)."""
    real = shutil.which("git")
    assert real is not None
    folder.mkdir()
    script = folder / "git"
    script.write_text(
        "#!/bin/sh\n"
        'for arg in "$@"; do\n'
        '  if [ "$arg" = commit ]; then\n'
        '    echo "error: unable to write file .git/objects/ab/cdef: No space left on device" >&2\n'
        '    echo "fatal: unable to write new index file" >&2\n'
        "    exit 128\n"
        "  fi\n"
        "done\n"
        f'exec {real} "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def test_disk_full_while_committing_keeps_the_change_in_its_worktree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    bin_dir = _failing_git(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    store = MemoryStore()
    executor = ParallelSwarmExecutor(SimulatedBackend(store), store)
    edits = {"app.py": "print('fixed')\n"}
    plan = plan_of(repo, [{"id": "a", "prompt": "p", "simulated": {"edits": edits}}])
    result = trio.run(executor.run, plan)
    agent = result.agents["a"]
    worktree = repo / ".swarm" / "worktrees" / result.run_id / "a"
    assert agent.status.value == "failed" and agent.error is not None
    assert "committing its change on swarm/" in agent.error
    assert "fatal: unable to write new index file" in agent.error
    assert f"the change is still in its worktree {worktree}, uncommitted" in agent.error
    # Nothing lost: the change is on disk, the session and its record are in the store.
    assert (worktree / "app.py").read_text() == "print('fixed')\n"
    assert agent.session_id is not None and trio.run(store.get_messages, agent.session_id)
    monkeypatch.undo()
    assert "app.py" in git(worktree, "status", "--porcelain")
    assert untouched(repo)


def test_an_agent_cwd_outside_the_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "repo")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    store = tmp_path / "store.db"
    agents = [{"id": "a", "prompt": "p", "cwd": str(elsewhere)}]
    plan = write_plan(tmp_path, worktree_plan(repo, f"sqlite:///{store}", agents))
    code, err = run_cli(capsys, "run", str(plan))
    assert code == 2 and len(err.splitlines()) == 1
    assert f"cwd {elsewhere} is outside the repository {repo}" in err
    assert runs_in(store) == 0 and branches(repo) == ["main"]
