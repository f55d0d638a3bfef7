"""What a run needs of the workspace layer before it starts, and what a resume finds."""

from __future__ import annotations

import os
from typing import Any

from ..errors import WorkspaceRefused
from ..plan import Plan
from ._worktrees import RepoState, RunWorkspaces, check_name, inspect_repository


def worktree_agents(plan: Plan) -> list[str]:
    """The ids of the agents that work in worktrees of their own."""
    return [a.id for a in plan.agents if plan.resolved(a).workspace == "worktree"]


def run_directory(plan: Plan) -> str:
    """Where the run's repository is looked for: the plan's ``defaults.cwd`` (the base's
    working directory), or the directory swarm runs in."""
    return plan.defaults.cwd or os.getcwd()


async def check_plan(plan: Plan) -> RepoState | None:
    """What a run of ``plan`` would find (None when no agent asks for a worktree), or the
    :class:`WorkspaceRefused` it would stop with: a repository with a commit, clean if
    ``execution.require_clean``, every agent's id a branch git takes and its cwd inside."""
    agents = worktree_agents(plan)
    if not agents:
        return None
    repo = await inspect_repository(run_directory(plan))
    if plan.execution.require_clean and repo.uncommitted_count:
        raise WorkspaceRefused(
            f"execution.require_clean: {repo.warning()}; commit or stash them first"
        )
    # Names and directories as a run would make them (the run id is new: any safe one).
    probe = RunWorkspaces(repo, "run")
    for agent in plan.agents:
        if agent.id in agents:
            await check_name(probe.run_id, agent.id, repo.root)
            probe.directory_in(plan.resolved(agent).cwd)
    return repo


async def prepare_run(plan: Plan, run_id: str) -> RunWorkspaces | None:
    """The worktrees of a new run (None when no agent asks for one), checked before
    anything is written: :func:`check_plan`, and no branch of the run already there."""
    repo = await check_plan(plan)
    if repo is None:
        return None
    workspaces = RunWorkspaces(repo, run_id)
    await workspaces.check_new_run(worktree_agents(plan))
    return workspaces


def resumed_workspaces(recorded: dict[str, Any] | None, run_id: str) -> RunWorkspaces | None:
    """The worktrees of a run being resumed, at the base commit its record keeps."""
    return RunWorkspaces(RepoState.from_dict(recorded), run_id) if recorded else None
