"""An agent's change where runs are read back (runs show, history, checkpoints, export), the
patch cap, and `swarm worktrees list|prune` and `swarm gc` cleaning up safely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio
import yaml

from swarm import MemoryStore, ParallelSwarmExecutor, parse_plan
from swarm.backends import SimulatedBackend
from swarm.cli.app import main
from swarm.workspaces import PATCH_CAP_BYTES

from .helpers import branches, git, head, make_repo, worktree_plan, write_plan


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(args))
    return code, capsys.readouterr().out


def json_of(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out = run_cli(capsys, *args, "--json")
    assert code in (0, 1), out
    return json.loads(out)


@pytest.fixture
def ran(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str, str]:
    """A repository, a store and a run of two agents: one changes app.py, one nothing
    but its marker file."""
    repo = make_repo(tmp_path / "repo")
    store = f"sqlite:///{tmp_path / 'store.db'}"
    agents = [
        {"id": "fixer", "prompt": "fix it", "simulated": {"edits": {"app.py": "fixed\n"}}},
        {"id": "marker", "prompt": "look only"},
    ]
    plan = write_plan(tmp_path, worktree_plan(repo, store, agents))
    result = json_of(capsys, "run", str(plan))
    return repo, store, result["run_id"]


def test_the_change_shows_where_runs_are_read_back(
    ran: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, store, run_id = ran
    commit = head(repo, f"swarm/{run_id}/fixer")
    code, out = run_cli(capsys, "runs", "show", run_id, "--store", store)
    assert code == 0
    assert f"fixer: 2 files changed, {commit[:12]} on swarm/{run_id}/fixer" in out
    code, out = run_cli(capsys, "history", run_id, "fixer", "--store", store)
    assert f"worktree: 2 files changed, {commit[:12]}" in out
    code, out = run_cli(capsys, "export", run_id, "--store", store, "--format", "json")
    exported = json.loads(out)
    (agent,) = [a for a in exported["agents"] if a["agent_id"] == "fixer"]
    assert agent["workspace"]["commit"] == commit
    finals = [
        c
        for s in exported["sessions"]
        for c in s["checkpoints"]
        if c["kind"] == "final" and s.get("agent_id") == "fixer"
    ]
    assert len(finals) == 1 and "+fixed" in finals[0]["workspace"]["patch"]
    code, out = run_cli(capsys, "checkpoints", "show", finals[0]["checkpoint_id"], "--store", store)
    assert code == 0 and f"git        2 files changed, {commit[:12]}" in out


async def test_an_agent_that_changed_nothing_has_no_commit_and_says_so(tmp_path: Path) -> None:
    from swarm.testing import ScriptedBackend  # writes nothing anywhere

    repo = make_repo(tmp_path / "repo")
    data = worktree_plan(repo, "memory://", [{"id": "idle", "prompt": "p"}])
    store = MemoryStore()
    executor = ParallelSwarmExecutor(ScriptedBackend(store), store)
    result = await executor.run(parse_plan(yaml.safe_dump(data)))
    change = result.agents["idle"].workspace
    assert change is not None and change["commit"] is None and change["files"] == []
    assert change["start"] == head(repo) == head(repo, f"swarm/{result.run_id}/idle")


async def test_a_large_patch_is_capped_in_the_store_never_in_git(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    big = "".join(f"line {i} of a long generated file\n" for i in range(9_000))
    agents = [{"id": "big", "prompt": "p", "simulated": {"edits": {"big.txt": big}}}]
    store = MemoryStore()
    executor = ParallelSwarmExecutor(SimulatedBackend(store), store)
    result = await executor.run(
        parse_plan(yaml.safe_dump(worktree_plan(repo, "memory://", agents)))
    )
    agent = result.agents["big"]
    assert agent.session_id is not None
    (final,) = [c for c in await store.list_checkpoints(agent.session_id) if c.kind == "final"]
    assert final.workspace is not None
    stored = final.workspace["patch"]
    assert final.workspace["patch_truncated"] is True
    assert len(stored.encode()) <= PATCH_CAP_BYTES < final.workspace["patch_bytes"]
    assert git(repo, "show", f"swarm/{result.run_id}/big:big.txt") == big  # the commit is whole


def test_worktrees_list_and_prune_keep_what_is_needed(
    ran: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, store, run_id = ran
    listed = json_of(capsys, "worktrees", "list", "--repo", str(repo), "--store", store)
    assert [(e["agent_id"], e["state"], e["dirty"]) for e in listed] == [
        ("fixer", "succeeded", False),
        ("marker", "succeeded", False),
    ]
    marker_tree = Path(listed[1]["path"])
    (marker_tree / "by-hand.txt").write_text("a user's edit\n")
    code, out = run_cli(capsys, "worktrees", "prune", "--repo", str(repo), "--store", store)
    assert code == 0
    assert f"removed worktree {listed[0]['path']} (its agent finished)" in out
    assert f"kept worktree {marker_tree}: it has uncommitted changes (--force removes it)" in out
    assert not Path(listed[0]["path"]).exists() and (marker_tree / "by-hand.txt").exists()
    # Branches stay: they are the agents' changes.
    assert f"swarm/{run_id}/fixer" in branches(repo)


def test_gc_removes_a_deleted_runs_branches_but_never_a_merged_or_checked_out_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "repo")
    store = f"sqlite:///{tmp_path / 'store.db'}"
    agents = [
        {"id": "merged-in", "prompt": "a", "simulated": {"edits": {"a.txt": "a\n"}}},
        {"id": "lost", "prompt": "b", "simulated": {"edits": {"b.txt": "b\n"}}},
        {"id": "busy", "prompt": "c", "simulated": {"edits": {"c.txt": "c\n"}}},
    ]
    result = json_of(capsys, "run", str(write_plan(tmp_path, worktree_plan(repo, store, agents))))
    run_id = result["run_id"]
    # The user keeps one agent's work on a branch of theirs, and checks another one out.
    git(repo, "branch", "keep", f"swarm/{run_id}/merged-in")
    busy_tree = repo / ".swarm" / "worktrees" / run_id / "busy"
    git(repo, "worktree", "remove", str(busy_tree))
    git(
        tmp_path,
        "-C",
        str(repo),
        "worktree",
        "add",
        "-q",
        str(tmp_path / "mine"),
        f"swarm/{run_id}/busy",
    )
    code, out = run_cli(capsys, "gc", "--ttl", "0s", "--store", store)
    assert code == 0
    assert f"deleted branch swarm/{run_id}/lost (its run is gone)" in out
    assert f"kept branch swarm/{run_id}/merged-in: it is merged into keep, which stays" in out
    assert f"kept branch swarm/{run_id}/busy: it is checked out" in out
    assert branches(repo) == sorted(
        ["keep", "main", f"swarm/{run_id}/busy", f"swarm/{run_id}/merged-in"]
    )
    assert not (repo / ".swarm" / "worktrees" / run_id / "lost").exists()


def test_dry_run_gc_removes_nothing(
    ran: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, store, run_id = ran
    before = branches(repo)
    code, out = run_cli(capsys, "gc", "--ttl", "0s", "--store", store, "--dry-run")
    assert code == 0 and f"would delete branch swarm/{run_id}/fixer" in out
    assert branches(repo) == before
    assert trio.run(lambda: trio.Path(repo / ".swarm" / "worktrees" / run_id / "fixer").exists())
