"""The worktrees and branches runs left in a repository, and removing them safely.

A finished agent's worktree can go (its change is a commit on its branch); a worktree
with uncommitted changes, or of an agent a resume still needs, stays. A branch goes only
with its run (``swarm gc``, or ``--orphans`` for runs the store no longer knows), and
never while it is checked out or merged into a branch that stays: what is kept is said,
with why.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._git import git, is_dir, real_path
from ._worktrees import WORKTREES_DIR, worktree_commands_lock


@dataclass(frozen=True, slots=True)
class WorktreeEntry:
    run_id: str
    agent_id: str
    path: str
    branch: str | None
    head: str | None
    missing: bool  # git knows it, its folder is gone
    dirty: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "agent_id": self.agent_id,
            "path": self.path,
            "branch": self.branch,
            "head": self.head,
            "missing": self.missing,
            "dirty": self.dirty,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """One worktree or branch and what became of it (``removed`` or kept, and why)."""

    name: str
    removed: bool
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "removed": self.removed, "why": self.why}


@dataclass(slots=True)
class PruneReport:
    dry_run: bool
    worktrees: list[Verdict] = field(default_factory=list)
    branches: list[Verdict] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "worktrees": [v.to_dict() for v in self.worktrees],
            "branches": [v.to_dict() for v in self.branches],
        }


async def repository_root(directory: str | Path) -> str | None:
    found = await git("rev-parse", "--show-toplevel", cwd=directory, check=False)
    return found.stdout.strip() if found.ok else None


async def list_worktrees(root: str) -> list[WorktreeEntry]:
    """swarm's worktrees in ``root`` (under ``.swarm/worktrees/<run>/<agent>``)."""
    listed = await git("worktree", "list", "--porcelain", cwd=root, what="listing worktrees")
    owned = real_path(Path(root) / WORKTREES_DIR)
    entries: list[WorktreeEntry] = []
    for block in listed.stdout.split("\n\n"):
        fields = dict([*line.split(" ", 1), ""][:2] for line in block.splitlines() if line.strip())
        path = fields.get("worktree")
        if not path:
            continue
        try:
            run_id, agent_id = real_path(path).relative_to(owned).parts
        except ValueError:
            continue  # the user's own checkout or worktrees
        branch = fields.get("branch", "").removeprefix("refs/heads/") or None
        missing = not is_dir(path)
        dirty = False
        if not missing:
            status = await git("status", "--porcelain", cwd=path, check=False)
            dirty = bool(status.stdout.strip())
        entries.append(
            WorktreeEntry(run_id, agent_id, path, branch, fields.get("HEAD"), missing, dirty)
        )
    return sorted(entries, key=lambda e: (e.run_id, e.agent_id))


async def run_branches(root: str) -> dict[str, list[str]]:
    """The ``swarm/<run>/...`` branches of ``root``, by run id."""
    listed = await git(
        "for-each-ref",
        "--format=%(refname:short)",
        "refs/heads/swarm/",
        cwd=root,
        what="listing branches",
    )
    found: dict[str, list[str]] = {}
    for name in listed.stdout.split():
        parts = name.split("/")
        if len(parts) == 3:
            found.setdefault(parts[1], []).append(name)
    return found


async def prune(
    root: str,
    *,
    keep_worktree: Callable[[WorktreeEntry], str | None],
    doomed_runs: Collection[str],
    base_commits: Mapping[str, str] | None = None,
    only_runs: Collection[str] | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> PruneReport:
    """Remove the worktrees ``keep_worktree`` gives no reason to keep (never one with
    uncommitted changes unless ``force``; with ``only_runs``, only those runs'), and the
    agent branches of ``doomed_runs``
    that are neither checked out nor merged into a branch that stays (a branch still at
    its run's base commit, in ``base_commits``, holds no work and is not "merged")."""
    report = PruneReport(dry_run=dry_run)
    for entry in await list_worktrees(root):
        if only_runs is not None and entry.run_id not in only_runs:
            continue
        why = keep_worktree(entry)
        if why is None and entry.dirty and not force:
            why = "it has uncommitted changes"
        if why is not None:
            report.worktrees.append(Verdict(entry.path, False, why))
            continue
        if not dry_run:
            async with worktree_commands_lock(root):  # a run may be adding one meanwhile
                if entry.missing:
                    await git("worktree", "prune", cwd=root, what="pruning worktrees")
                else:
                    await git(
                        "worktree",
                        "remove",
                        "-f",
                        entry.path,
                        cwd=root,
                        what=f"removing {entry.path}",
                    )
        finished = "its run is gone" if entry.run_id in doomed_runs else "its agent finished"
        report.worktrees.append(Verdict(entry.path, True, finished))
    branches = await run_branches(root)
    doomed = {b for run in doomed_runs for b in branches.get(run, []) if not b.endswith("/merged")}
    # Checked out where it stays (a worktree removed above, or one a dry run would remove,
    # no longer holds its branch).
    removed = {v.name for v in report.worktrees if v.removed}
    checked_out = {e.branch for e in await _all_worktrees(root) if e.path not in removed}
    for run in sorted(doomed_runs):
        for branch in sorted(branches.get(run, [])):
            if branch not in doomed:
                report.branches.append(Verdict(branch, False, "a merge result (swarm merge)"))
                continue
            base = (base_commits or {}).get(run)
            why = await _keep_branch(root, branch, doomed, checked_out, base)
            if why is None and not dry_run:
                await git("branch", "-D", "-q", branch, cwd=root, what=f"deleting {branch}")
            report.branches.append(Verdict(branch, why is None, why or "its run is gone"))
    return report


async def _all_worktrees(root: str) -> list[WorktreeEntry]:
    listed = await git("worktree", "list", "--porcelain", cwd=root, what="listing worktrees")
    found = []
    path = ""
    for line in listed.stdout.splitlines():
        if line.startswith("worktree "):
            path = line.removeprefix("worktree ")
        elif line.startswith("branch refs/heads/"):
            branch = line.removeprefix("branch refs/heads/")
            found.append(WorktreeEntry("", "", path, branch, None, False, False))
    return found


async def _keep_branch(
    root: str, branch: str, doomed: set[str], checked_out: set[str | None], base: str | None
) -> str | None:
    if branch in checked_out:
        return "it is checked out"
    tip = await git("rev-parse", f"refs/heads/{branch}", cwd=root, what=f"reading {branch}")
    if base is not None and tip.stdout.strip() == base:
        return None  # no commit of its own: nothing of it can be kept anywhere
    containing = await git(
        "for-each-ref",
        "--format=%(refname:short)",
        f"--contains=refs/heads/{branch}",
        "refs/heads/",
        cwd=root,
        what=f"finding where {branch} was merged",
    )
    keepers = [b for b in containing.stdout.split() if b not in doomed]
    if keepers:
        return f"it is merged into {keepers[0]}, which stays"
    return None
