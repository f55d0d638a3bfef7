"""Agents in git worktrees of their own (``workspace: worktree``): the layer between the
timeline and the engine.

- :mod:`._worktrees`: the repository a run works in (its base commit, recorded with the
  run), each agent's worktree and branch, made and reused;
- :mod:`._changes`: an agent's change committed on its branch, and what the store keeps
  of it (commit id, files, diff stat, capped patch);
- :mod:`._merge`: bringing agents' branches together, each merge checked first with
  ``git merge-tree``, made without touching any work tree;
- :mod:`._listing`: the worktrees and branches runs left, and removing them safely.

Everything is done by ``git`` subprocesses (``trio.run_process``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import Exports, lazy_exports

if TYPE_CHECKING:
    from ._changes import PATCH_CAP_BYTES, WorkspaceChange, commit_message
    from ._listing import (
        PruneReport,
        Verdict,
        WorktreeEntry,
        list_worktrees,
        prune,
        repository_root,
        run_branches,
    )
    from ._merge import STRATEGIES, Candidate, MergeReport, MergeStep, checked_out_in, merge_agents
    from ._run import check_plan, prepare_run, resumed_workspaces, run_directory, worktree_agents
    from ._worktrees import (
        WORKTREES_DIR,
        RepoState,
        RunWorkspaces,
        branch_name,
        inspect_repository,
        merged_branch_name,
    )

_EXPORTS: Exports = {
    "._changes": ("PATCH_CAP_BYTES", "WorkspaceChange", "commit_message"),
    "._listing": (
        "PruneReport",
        "Verdict",
        "WorktreeEntry",
        "list_worktrees",
        "prune",
        "repository_root",
        "run_branches",
    ),
    "._merge": (
        "STRATEGIES",
        "Candidate",
        "MergeReport",
        "MergeStep",
        "checked_out_in",
        "merge_agents",
    ),
    "._run": (
        "check_plan",
        "prepare_run",
        "resumed_workspaces",
        "run_directory",
        "worktree_agents",
    ),
    "._worktrees": (
        "WORKTREES_DIR",
        "RepoState",
        "RunWorkspaces",
        "branch_name",
        "inspect_repository",
        "merged_branch_name",
    ),
}

__all__ = [
    "PATCH_CAP_BYTES",
    "STRATEGIES",
    "WORKTREES_DIR",
    "Candidate",
    "MergeReport",
    "MergeStep",
    "PruneReport",
    "RepoState",
    "RunWorkspaces",
    "Verdict",
    "WorkspaceChange",
    "WorktreeEntry",
    "branch_name",
    "check_plan",
    "checked_out_in",
    "commit_message",
    "inspect_repository",
    "list_worktrees",
    "merge_agents",
    "merged_branch_name",
    "prepare_run",
    "prune",
    "repository_root",
    "resumed_workspaces",
    "run_branches",
    "run_directory",
    "worktree_agents",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
