"""What an agent's end does to its worktree: what it left there is committed, whatever
its end, and its final record says what was kept (or why nothing could be)."""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from ..errors import WorkspaceError
from ..plan import AgentSpec
from ..records import AgentStatus
from ..workspaces import RunWorkspaces, WorkspaceChange
from ._resume import ResumeState


def task_of(spec: AgentSpec, resume: ResumeState | None, continued: Set[str]) -> str:
    """The agent's task as its plan gave it (a continued agent's prompt is the
    continuation message), for its commit message."""
    if resume is not None and spec.id in continued:
        for agent in resume.record.plan.get("agents") or ():
            if isinstance(agent, dict) and agent.get("id") == spec.id:
                return str(agent.get("prompt") or spec.prompt)
    return spec.prompt


async def commit_worktree(
    workspaces: RunWorkspaces,
    spec: AgentSpec,
    start: str,
    ended: dict[str, Any],
    *,
    task: str,
    log: Any,
) -> WorkspaceChange | None:
    """Commit what the agent left in its worktree; ``ended`` (the final record's changes)
    gets the change, or the agent fails with why it could not be kept."""
    try:
        change = await workspaces.close(
            spec.id, start=start, prompt=task, status=ended["status"].value
        )
    except WorkspaceError as exc:
        log.warning("agent.workspace_failed", agent_id=spec.id, error=str(exc))
        earlier = ended.get("error")
        ended.update(
            status=AgentStatus.FAILED,
            error=f"{earlier}; {exc}" if earlier else str(exc),
        )
        return None
    ended["workspace"] = change.summary().to_dict()
    return change
