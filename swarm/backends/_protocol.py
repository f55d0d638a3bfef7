"""The backend plug-in point.

A backend runs agents: it builds (or finds) the base session and runs each
agent as a fork of it. It takes no timeout: the executor owns time and
cancels the call. It reports what happens through an :class:`AgentSink`, so
the executor can persist each message and session id the moment it exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .._slotted import fast_init
from ..records import Message, Usage


@fast_init
@dataclass(frozen=True, slots=True)
class AgentRequest:
    """Everything a backend needs to run one agent (defaults already merged).

    ``resume_session_id`` is set when the executor continues an agent's own
    session after a crash instead of forking the parent again. ``own_worktree`` says
    that ``cwd`` is a git worktree of this agent's alone (``workspace: worktree``).
    ``trace_context`` is the W3C trace context of the agent's span (``traceparent``,
    ``tracestate``) when the run is traced: a backend hands it on to what it starts
    (the claude backend as ``TRACEPARENT``), so their telemetry nests under the agent.
    """

    run_id: str
    agent_id: str
    prompt: str
    parent_session_id: str
    fork_point: str | None = None
    resume_session_id: str | None = None
    model: str | None = None
    max_turns: int | None = None
    system_prompt: str | None = None
    allowed_tools: tuple[str, ...] | None = None
    permission_mode: str | None = None
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    own_worktree: bool = False
    trace_context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BaseRequest:
    """How to get the base session: build it from ``prompt`` or use ``session_id``."""

    run_id: str
    prompt: str | None = None
    session_id: str | None = None
    at: str | None = None
    model: str | None = None
    system_prompt: str | None = None
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    # The plan's default tool set: tools lead the prompt-cache prefix, so forks that keep
    # the defaults can read the base's cache only if the base was built with them too.
    allowed_tools: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class BaseSession:
    """The base every agent forks: its id and the message uuid to fork at by default."""

    session_id: str
    fork_point: str | None = None
    usage: Usage = Usage()
    cost_usd: float = 0.0


@fast_init
@dataclass(frozen=True, slots=True)
class AgentOutcome:
    """What a backend returns when an agent's session ends without raising."""

    session_id: str
    output: str
    turns: int = 0
    usage: Usage = Usage()
    cost_usd: float = 0.0
    output_is_simulated: bool = False


class AgentSink(Protocol):
    """Where a backend reports progress; the executor persists each call first."""

    async def session_started(self, session_id: str, *, metadata: Mapping[str, Any]) -> None:
        """The agent's own session id is known (before its first message)."""

    async def message(self, message: Message) -> None:
        """A message of the agent's session (user, assistant or tool)."""

    async def retry(self, *, status: int | None, reason: str, delay_s: float) -> None:
        """A transient API failure will be retried after ``delay_s``."""

    async def succeeded_call(self) -> None:
        """An API call succeeded (widens a narrowed window)."""


@runtime_checkable
class Backend(Protocol):
    """Runs agents as forks of a base session."""

    name: str

    async def open_base(self, request: BaseRequest, sink: AgentSink) -> BaseSession:
        """Build the base session from its prompt, or check that the given one exists."""
        ...

    async def run_agent(self, request: AgentRequest, sink: AgentSink) -> AgentOutcome:
        """Run one agent to the end; raise a :class:`~swarm.errors.BackendError` on failure."""
        ...

    async def aclose(self) -> None:
        """Release what the backend holds (processes, servers, connections)."""
        ...
