"""Real Claude Code forks in worktrees of their own, rehearsed: the fake API scripts a
``Write`` per agent, the real CLI performs it in the agent's worktree, each branch holds
exactly its agent's change, the checkout is untouched, and ``swarm merge`` brings the
changes together and reports the one scripted conflict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from swarm.backends import open_rehearsal
from swarm.cli import main
from swarm.mockapi import MockAPIConfig, ReplyRule, ToolUse
from swarm.stores import SQLiteStore
from tests.workspaces.helpers import (
    branches,
    commits_on,
    files_changed,
    head,
    make_repo,
    show,
    untouched,
)

from .conftest import Harness

pytestmark = pytest.mark.cli

WRITES = {
    "alpha": ("alpha.txt", "alpha's change\n"),
    "beta": ("beta.txt", "beta's change\n"),
    "left": ("shared.txt", "left's version\n"),
    "right": ("shared.txt", "right's version\n"),
}


def _plan(repo: Path) -> str:
    agents = "\n".join(
        f"  - {{id: {agent}, prompt: 'task {agent}', priority: {priority}}}"
        for agent, priority in zip(WRITES, ("high", "medium", "medium", "low"), strict=True)
    )
    return f"""
base: {{prompt: "the repository to change"}}
defaults:
  workspace: worktree
  cwd: {repo}
  allowed_tools: [Write]
  permission_mode: acceptEdits
agents:
{agents}
execution: {{max_parallel: 4}}
"""


async def test_real_forks_write_in_their_own_worktrees_and_merge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "repo")
    base = head(repo)
    # Relative paths: the CLI resolves them against its cwd, the agent's worktree.
    rules = tuple(
        ReplyRule(match=f"^task {agent}$", tool_uses=(ToolUse.write_file(path, text),))
        for agent, (path, text) in WRITES.items()
    )
    store_path = tmp_path / "store.db"
    store = await SQLiteStore.open(store_path)
    try:
        async with open_rehearsal(MockAPIConfig(rules=rules), tmp_path / "home") as rehearsal:
            harness = Harness(rehearsal, store, tmp_path)
            result = await harness.run(_plan(repo))
            assert result.succeeded, [a.error for a in result.agents.values()]
            # A fork run in another cwd than its base found the base's whole history.
            base_session = result.base_session_id
            assert base_session is not None
            for agent in WRITES:
                session = result.agents[agent].session_id
                assert session is not None
                first = harness.fork_texts(session)[0]
                assert first[0] == "the repository to change" and first[-1] == f"task {agent}"
                metadata = (await store.get_session(session)).metadata  # type: ignore[union-attr]
                assert metadata["cwd"] == str(repo / ".swarm" / "worktrees" / result.run_id / agent)
    finally:
        await store.aclose()
    run_id = result.run_id
    for agent, (path, text) in WRITES.items():
        branch = f"swarm/{run_id}/{agent}"
        assert len(commits_on(repo, branch, base)) == 1
        assert files_changed(repo, base, branch) == [path]  # exactly its own change
        assert show(repo, branch, path) == text
    assert head(repo) == base and untouched(repo)
    assert not (repo / "alpha.txt").exists() and not (repo / "shared.txt").exists()

    url = f"sqlite:///{store_path}"
    capsys.readouterr()
    # The command runs trio itself: off this test's trio thread.
    code = await trio.to_thread.run_sync(main, ["merge", run_id, "--store", url, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1  # one agent left out
    assert [(s["agent_id"], s["outcome"], s["conflicts"]) for s in report["steps"]] == [
        ("alpha", "merged", []),
        ("beta", "merged", []),
        ("left", "merged", []),
        ("right", "conflict", ["shared.txt"]),
    ]
    merged = f"swarm/{run_id}/merged"
    assert merged in branches(repo)
    for path, text in (WRITES["alpha"], WRITES["beta"], WRITES["left"]):
        assert show(repo, merged, path) == text
    assert head(repo) == base and untouched(repo)
