"""The requests a run makes of its backend: the one that builds the base session, and for
each agent its parent session and fork point (the base, or a ``fork_from`` agent's
session at a checkpoint), with the rest of what its backend needs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .._redaction import redact, redact_text
from ..backends import AgentRequest, BaseRequest, BaseSession
from ..errors import BackendError, NotFoundError
from ..plan import AgentSpec, Plan
from ..records import AgentResult
from ..stores import Store
from ..timeline import find_checkpoint
from ..workspaces import WorkspaceChange


def base_request(plan: Plan, run_id: str) -> BaseRequest:
    """How the backend gets the base: build it from the prompt, or use ``base.session``."""
    base, defaults = plan.base, plan.defaults
    return BaseRequest(
        run_id=run_id,
        prompt=base.prompt,
        session_id=base.session,
        at=base.at,
        model=defaults.model,
        system_prompt=defaults.system_prompt,
        cwd=defaults.cwd,
        env=defaults.env or {},
        allowed_tools=(
            tuple(defaults.allowed_tools) if defaults.allowed_tools is not None else None
        ),
    )


async def agent_request(
    plan: Plan,
    run_id: str,
    spec: AgentSpec,
    *,
    base: BaseSession,
    results: Mapping[str, AgentResult],
    store: Store,
    continued: frozenset[str],
) -> AgentRequest:
    """The backend request of an agent (``spec`` with its defaults resolved): which
    session it forks, at which message, and whether it continues its own (a resume)."""
    parent, fork_point = base.session_id, spec.fork_at or base.fork_point
    if spec.fork_from is not None:
        forked = results[spec.fork_from.agent].session_id
        assert forked is not None  # it succeeded before this agent became ready
        parent, fork_point = forked, spec.fork_at
    if spec.fork_from is not None and spec.fork_from.checkpoint != "latest":
        try:
            found = await find_checkpoint(store, spec.fork_from.checkpoint, parent)
        except NotFoundError as exc:
            raise BackendError(
                f"fork_from: agent {spec.fork_from.agent!r} (session {parent}): {exc}"
            ) from None
        fork_point = found.message_uuid
    options: dict[str, Any] = dict(plan.backend.options)
    if spec.simulated is not None:
        options["simulated"] = spec.simulated.model_dump(exclude_none=True)
    resume_session_id = results[spec.id].session_id if spec.id in continued else None
    return AgentRequest(
        run_id=run_id,
        agent_id=spec.id,
        prompt=spec.prompt,
        parent_session_id=parent,
        fork_point=fork_point,
        resume_session_id=resume_session_id,
        model=spec.model,
        max_turns=spec.max_turns,
        system_prompt=spec.system_prompt,
        allowed_tools=tuple(spec.allowed_tools) if spec.allowed_tools is not None else None,
        permission_mode=spec.permission_mode,
        cwd=spec.cwd,
        env=spec.env or {},
        options=options,
    )


def worktree_start_commit(
    spec: AgentSpec, results: Mapping[str, AgentResult], base_commit: str
) -> str:
    """The commit an agent's worktree starts at: its ``fork_from`` agent's branch head
    (the code its parent session saw), else the run's base commit."""
    parent = spec.fork_from.agent if spec.fork_from is not None else None
    recorded = results[parent].workspace if parent is not None else None
    if recorded:
        return WorkspaceChange.from_dict(recorded).head
    return base_commit


def as_stored(request: AgentRequest) -> AgentRequest:
    """What a pre-agent hook is shown of a request: its prompts as the store keeps them,
    the values of its secret-named env entries and options blanked (the backend gets the
    request itself)."""
    return dataclasses.replace(
        request,
        prompt=redact_text(request.prompt),
        system_prompt=None if request.system_prompt is None else redact_text(request.system_prompt),
        env=redact(dict(request.env)),
        options=redact(dict(request.options)),
    )
