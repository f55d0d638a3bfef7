"""Helpers for the worktree tests: a small git repository, plans that edit it, git reads."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(repo: Path, *args: str, check: bool = True) -> str:
    import os

    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {done.stderr}")
    return done.stdout


def make_repo(folder: Path, files: dict[str, str] | None = None) -> Path:
    """A repository with one commit holding ``files``."""
    folder.mkdir(parents=True, exist_ok=True)
    git(folder, "init", "-q", "-b", "main")
    for name, text in (files or {"app.py": "print('hello')\n", "README": "sample\n"}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "initial")
    return folder


def worktree_plan(
    repo: Path,
    store_url: str,
    agents: list[dict[str, Any]],
    *,
    latency_s: float = 0.0,
    turns: int = 1,
    **sections: Any,
) -> dict[str, Any]:
    """A simulated plan whose agents work in worktrees of ``repo``."""
    document: dict[str, Any] = {
        "base": {"prompt": "the codebase"},
        "defaults": {"workspace": "worktree", "cwd": str(repo)},
        "agents": agents,
        "backend": {
            "name": "simulated",
            "simulated": {"latency_s": latency_s, "jitter": 0, "turns": turns},
        },
        "store": {"url": store_url},
    }
    document.update(sections)
    return document


def write_plan(folder: Path, plan: dict[str, Any], name: str = "plan.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(plan))
    return path


def branches(repo: Path) -> list[str]:
    out = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/")
    return sorted(out.split())


def commits_on(repo: Path, branch: str, since: str) -> list[str]:
    return git(repo, "rev-list", f"{since}..{branch}").split()


def files_changed(repo: Path, since: str, branch: str) -> list[str]:
    return sorted(git(repo, "diff", "--name-only", since, branch).split())


def head(repo: Path, ref: str = "HEAD") -> str:
    return git(repo, "rev-parse", ref).strip()


def show(repo: Path, ref: str, path: str) -> str:
    return git(repo, "show", f"{ref}:{path}")


def untouched(repo: Path) -> bool:
    """No merge in progress, nothing uncommitted (swarm's own folder is ignored)."""
    return not (repo / ".git" / "MERGE_HEAD").exists() and git(repo, "status", "--porcelain") == ""
