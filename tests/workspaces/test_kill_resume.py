"""kill -9 of a real `swarm run` whose agents work in worktrees, then `swarm resume`: the
interrupted agent's worktree is reused with what it left uncommitted, every change ends up
committed once, and the agent that had finished is not committed again."""

from __future__ import annotations

from pathlib import Path

from tests.faults.killing import json_result, read_store, run_and_kill, swarm_cli

from .helpers import commits_on, files_changed, head, make_repo, show, untouched, worktree_plan
from .helpers import write_plan as write


def test_kill_mid_run_then_resume_loses_no_change_and_commits_none_twice(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    base = head(repo)
    store_path = tmp_path / "store.db"
    url = f"sqlite:///{store_path}"
    agents = [
        {
            "id": "quick",
            "prompt": "a quick fix",
            "simulated": {"latency_s": 0.05, "edits": {"app.py": "print('quick')\n"}},
        },
        {
            "id": "slow",
            "prompt": "a slow fix",
            "simulated": {"latency_s": 2.0, "turns": 2, "edits": {"README": "slow\n"}},
        },
    ]
    plan = write(tmp_path, worktree_plan(repo, url, agents))
    # Lines: base started, base ready, started quick, started slow, succeeded quick.
    killed = run_and_kill(plan, url, kill_after_line=5, cwd=tmp_path)
    assert not killed.exited_first, killed.lines
    assert "succeeded quick" in killed.lines[-1], killed.lines
    at_kill = read_store(store_path)
    assert at_kill.run is not None
    run_id = at_kill.run.run_id
    assert at_kill.agents["quick"].status.value == "succeeded"
    assert at_kill.agents["slow"].status.value == "running"
    quick_commit = head(repo, f"swarm/{run_id}/quick")
    # Work the killed agent had done and not committed (a rerun would not redo it).
    slow_tree = repo / ".swarm" / "worktrees" / run_id / "slow"
    assert slow_tree.is_dir()
    (slow_tree / "half-done.txt").write_text("written before the kill\n")

    resumed = swarm_cli("resume", run_id, "--store", url, "--json", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    document = json_result(resumed.stdout)
    records = {a["agent_id"]: a for a in document["agents"]}
    assert records["slow"]["status"] == "succeeded"
    slow = f"swarm/{run_id}/slow"
    assert len(commits_on(repo, slow, base)) == 1
    assert files_changed(repo, base, slow) == ["README", "SIMULATED-slow.md", "half-done.txt"]
    assert show(repo, slow, "half-done.txt") == "written before the kill\n"
    assert records["slow"]["workspace"]["commit"] == head(repo, slow)
    # The agent that finished before the kill: kept, its one commit not made again.
    assert head(repo, f"swarm/{run_id}/quick") == quick_commit
    assert len(commits_on(repo, f"swarm/{run_id}/quick", base)) == 1
    assert records["quick"]["workspace"]["commit"] == quick_commit
    after = read_store(store_path, run_id)
    assert after.agents["quick"] == at_kill.agents["quick"]
    assert head(repo) == base and untouched(repo)
