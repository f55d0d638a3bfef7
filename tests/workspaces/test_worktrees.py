"""workspace: worktree on the simulated backend, end to end through the `swarm` command:
each agent's change a commit on its own branch, `swarm changes`, `swarm merge`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from swarm.cli.app import main

from .helpers import (
    branches,
    commits_on,
    files_changed,
    git,
    head,
    make_repo,
    show,
    untouched,
    worktree_plan,
    write_plan,
)

AGENTS: list[dict[str, Any]] = [
    {
        "id": "fix-app",
        "prompt": "fix the greeting",
        "priority": "high",
        "simulated": {"edits": {"app.py": "print('hello, world')\n"}},
    },
    {
        "id": "docs",
        "prompt": "document it",
        "simulated": {"edits": {"README": "sample\nnow documented\n"}},
    },
    {
        "id": "rival",
        "prompt": "fix the greeting differently",
        "priority": "low",
        "simulated": {"edits": {"app.py": "print('HELLO')\n"}},
    },
]


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_each_agent_commits_exactly_its_own_change_on_its_own_branch(
    tmp_path: Path, repo: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = head(repo)
    plan = write_plan(tmp_path, worktree_plan(repo, store, AGENTS))
    code, result = run_json(capsys, "run", str(plan))
    assert code == 0, result
    run_id = result["run_id"]
    assert branches(repo) == sorted(["main"] + [f"swarm/{run_id}/{a['id']}" for a in AGENTS])
    for agent in AGENTS:
        branch = f"swarm/{run_id}/{agent['id']}"
        (edited,) = agent["simulated"]["edits"]
        assert len(commits_on(repo, branch, base)) == 1
        assert files_changed(repo, base, branch) == sorted([edited, f"SIMULATED-{agent['id']}.md"])
        assert show(repo, branch, edited) == agent["simulated"]["edits"][edited]
        message = git(repo, "log", "-1", "--format=%an <%ae>%n%s", branch)
        assert message.splitlines() == [
            f"swarm agent {agent['id']} <swarm@localhost>",
            f"swarm run {run_id}, agent {agent['id']} (succeeded): {agent['prompt']}",
        ]
    # The user's checkout: still on main at the same commit, nothing changed or left over.
    assert head(repo) == base and untouched(repo)
    assert not (repo / ".gitignore").exists()  # ignored through .git/info/exclude instead
    assert "/.swarm/" in (repo / ".git" / "info" / "exclude").read_text()
    # Each record holds its change; the final checkpoint keeps the patch too.
    records = {a["agent_id"]: a for a in result["agents"]}
    change = records["fix-app"]["workspace"]
    assert change["branch"] == f"swarm/{run_id}/fix-app" and change["start"] == base
    assert change["commit"] == head(repo, f"swarm/{run_id}/fix-app")
    assert change["patch"] is None and "app.py" in change["diff_stat"]


def test_changes_shows_stats_patches_and_likely_conflicts(
    tmp_path: Path, repo: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = write_plan(tmp_path, worktree_plan(repo, store, AGENTS))
    _, result = run_json(capsys, "run", str(plan))
    run_id = result["run_id"]
    code, changes = run_json(capsys, "changes", run_id, "--store", store, "--patch")
    assert code == 0
    assert [a["agent_id"] for a in changes["agents"]] == ["fix-app", "docs", "rival"]
    assert changes["likely_conflicts"] == {"app.py": ["fix-app", "rival"]}
    patch = changes["agents"][0]["patch"]
    assert "+print('hello, world')" in patch and "-print('hello')" in patch
    capsys.readouterr()
    assert main(["changes", run_id, "--store", store]) == 0
    text = capsys.readouterr().out
    assert "likely conflict: app.py (also changed by rival)" in text
    assert "fix-app (succeeded)" in text and "app.py" in text


def test_merge_brings_non_conflicting_changes_together_and_reports_the_conflict(
    tmp_path: Path, repo: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = head(repo)
    plan = write_plan(tmp_path, worktree_plan(repo, store, AGENTS))
    _, result = run_json(capsys, "run", str(plan))
    run_id = result["run_id"]
    before = branches(repo)
    code, dry = run_json(capsys, "merge", run_id, "--store", store, "--dry-run")
    assert code == 1  # a conflict is reported: not everything merged
    assert [(s["agent_id"], s["outcome"]) for s in dry["steps"]] == [
        ("fix-app", "merged"),
        ("docs", "merged"),
        ("rival", "conflict"),
    ]
    assert branches(repo) == before  # a dry run makes nothing
    code, report = run_json(capsys, "merge", run_id, "--store", store)
    assert code == 1
    assert report["steps"][2]["conflicts"] == ["app.py"]
    merged = f"swarm/{run_id}/merged"
    assert report["target"] == merged and head(repo, merged) == report["head"]
    assert show(repo, merged, "app.py") == "print('hello, world')\n"  # priority: fix-app first
    assert show(repo, merged, "README") == "sample\nnow documented\n"
    assert "SIMULATED-rival.md" not in git(repo, "ls-tree", "--name-only", merged)
    assert head(repo) == base and untouched(repo)
    assert git(repo, "worktree", "list").count("\n") == 4  # the checkout + 3 agents, no more
    # Asking again for the new branch: it exists, and the way out is named.
    capsys.readouterr()
    assert main(["merge", run_id, "--store", store]) == 2
    err = capsys.readouterr().err
    assert err.startswith("swarm: error: branch ") and "--into BRANCH" in err


@pytest.mark.parametrize("strategy", ["squash", "cherry-pick"])
def test_merge_strategies(
    tmp_path: Path, repo: Path, store: str, capsys: pytest.CaptureFixture[str], strategy: str
) -> None:
    base = head(repo)
    plan = write_plan(tmp_path, worktree_plan(repo, store, AGENTS[:2]))
    _, result = run_json(capsys, "run", str(plan))
    run_id = result["run_id"]
    code, report = run_json(capsys, "merge", run_id, "--store", store, "--strategy", strategy)
    assert code == 0, report
    merged = f"swarm/{run_id}/merged"
    # One commit per agent, each with one parent: no merge commits.
    assert len(commits_on(repo, merged, base)) == 2
    assert git(repo, "rev-list", "--merges", f"{base}..{merged}") == ""
    assert show(repo, merged, "app.py") == "print('hello, world')\n"
    assert show(repo, merged, "README") == "sample\nnow documented\n"


def test_merge_into_an_existing_branch_never_a_checked_out_one_unless_asked(
    tmp_path: Path, repo: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = head(repo)
    plan = write_plan(tmp_path, worktree_plan(repo, store, AGENTS[:2]))
    _, result = run_json(capsys, "run", str(plan))
    run_id = result["run_id"]
    capsys.readouterr()
    assert main(["merge", run_id, "--store", store, "--into", "main"]) == 2
    err = capsys.readouterr().err
    assert "checked out in" in err and "--update-checkout" in err
    assert head(repo) == base and untouched(repo)
    assert main(["merge", run_id, "--store", store, "--into", "nowhere"]) == 2
    assert "no branch 'nowhere'" in capsys.readouterr().err
    git(repo, "branch", "integration")
    assert main(["merge", run_id, "--store", store, "--into", "integration"]) == 0
    assert show(repo, "integration", "README") == "sample\nnow documented\n"
    assert head(repo) == base and untouched(repo)
    # Asked: the clean checkout is fast-forwarded to the result.
    (repo / "scratch.txt").write_text("not committed\n")
    assert main(["merge", run_id, "--store", store, "--into", "main", "--update-checkout"]) == 2
    assert "uncommitted changes" in capsys.readouterr().err
    (repo / "scratch.txt").unlink()
    assert main(["merge", run_id, "--store", store, "--into", "main", "--update-checkout"]) == 0
    assert (repo / "app.py").read_text() == "print('hello, world')\n" and untouched(repo)


def test_fork_from_starts_at_the_parent_agents_branch(
    tmp_path: Path, repo: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    agents = [
        AGENTS[0],
        {
            "id": "follow-up",
            "prompt": "build on the fix",
            "fork_from": {"agent": "fix-app"},
            "simulated": {"edits": {"notes.txt": "seen\n"}},
        },
    ]
    plan = write_plan(tmp_path, worktree_plan(repo, store, agents))
    _, result = run_json(capsys, "run", str(plan))
    run_id = result["run_id"]
    parent = head(repo, f"swarm/{run_id}/fix-app")
    child = f"swarm/{run_id}/follow-up"
    # Its worktree started with the parent's code; its change is only its own.
    git(repo, "merge-base", "--is-ancestor", parent, child)  # raises if it is not
    assert show(repo, child, "app.py") == "print('hello, world')\n"
    records = {a["agent_id"]: a for a in result["agents"]}
    assert records["follow-up"]["workspace"]["start"] == parent
    assert records["follow-up"]["workspace"]["files"] == ["SIMULATED-follow-up.md", "notes.txt"]


def test_a_subdirectory_cwd_is_kept_inside_the_worktree(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "repo", {"pkg/mod.py": "x = 1\n"})
    plan_data = worktree_plan(repo, store, [{"id": "a", "prompt": "p"}])
    plan_data["defaults"]["cwd"] = str(repo / "pkg")
    _, result = run_json(capsys, "run", str(write_plan(tmp_path, plan_data)))
    assert result["agents"][0]["workspace"]["files"] == ["pkg/SIMULATED-a.md"]


def test_shared_workspace_is_unchanged(
    tmp_path: Path, repo: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_data = worktree_plan(repo, store, [{"id": "a", "prompt": "p"}])
    plan_data["defaults"]["workspace"] = "shared"
    code, result = run_json(capsys, "run", str(write_plan(tmp_path, plan_data)))
    assert code == 0 and result["agents"][0]["workspace"] is None
    assert branches(repo) == ["main"] and untouched(repo)
    assert not (repo / ".swarm").exists()


class _Overlap:
    """How many git worktree commands ran at once, at the most."""

    def __init__(self) -> None:
        self.running = self.most = 0


def watch_worktree_commands(monkeypatch: pytest.MonkeyPatch) -> _Overlap:
    """Count the git worktree commands swarm's worktrees run at the same time."""
    from swarm.workspaces import _worktrees

    overlap = _Overlap()
    real_git = _worktrees.git

    async def watched(*args: str, **kwargs: Any) -> Any:
        if args[0] != "worktree":
            return await real_git(*args, **kwargs)
        overlap.running += 1
        overlap.most = max(overlap.most, overlap.running)
        try:
            return await real_git(*args, **kwargs)
        finally:
            overlap.running -= 1

    monkeypatch.setattr(_worktrees, "git", watched)
    return overlap


def test_agents_starting_together_make_their_worktrees_one_at_a_time(
    tmp_path: Path,
    repo: Path,
    store: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """git's worktree commands race when run at once in one repository (an `add` reads
    the entry another `add` is still writing: "failed to read .git/worktrees/<name>/
    commondir"). Eight agents that start together never run two of them at once, and
    each gets its worktree and its commit."""
    overlap = watch_worktree_commands(monkeypatch)
    agents = [
        {"id": f"w{i}", "prompt": f"edit {i}", "simulated": {"edits": {f"f{i}.txt": f"{i}\n"}}}
        for i in range(8)
    ]
    plan = worktree_plan(repo, store, agents, execution={"max_parallel": 8})
    code, result = run_json(capsys, "run", str(write_plan(tmp_path, plan)))
    assert code == 0, result
    assert overlap.most == 1, f"{overlap.most} git worktree commands ran at once"
    run_id = result["run_id"]
    assert branches(repo) == sorted(["main"] + [f"swarm/{run_id}/w{i}" for i in range(8)])
    assert all(a["workspace"]["commit"] for a in result["agents"])


async def test_two_runs_in_one_repository_make_their_worktrees_one_at_a_time(
    tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs' agents opening worktrees in the same repository at once (as two `swarm
    run` processes would) never run two git worktree commands together: the lock is a
    file in the repository's .git, not only each run's own."""
    import trio

    from swarm.workspaces._worktrees import RepoState, RunWorkspaces

    overlap = watch_worktree_commands(monkeypatch)
    state = RepoState(root=str(repo), base_commit=head(repo))
    runs = [
        RunWorkspaces(state, run_id)
        for run_id in ("20261201-000000-aaaaaa", "20261201-000000-bbbbbb")
    ]
    opened: list[str] = []

    async def open_one(workspaces: RunWorkspaces, agent_id: str) -> None:
        opened.append(await workspaces.open(agent_id, state.base_commit, str(repo)))

    async with trio.open_nursery() as nursery:
        for workspaces in runs:
            for n in range(4):
                nursery.start_soon(open_one, workspaces, f"w{n}")
    assert overlap.most == 1, f"{overlap.most} git worktree commands ran at once"
    assert len(opened) == 8 and all([await trio.Path(p, ".git").exists() for p in opened])
    assert len(branches(repo)) == 1 + 8
