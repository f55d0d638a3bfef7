"""Where an agent's backend call runs: the seam between the scheduler and the backend.

An :class:`Engine` builds the base session and runs one agent's call, request in,
outcome out, with what the agent produces reported to the sink on the way (and so
journaled). The executor's window,
priorities, timeouts, budget and cancellation stay around the call, whatever engine
runs it: the engine only decides *where*. :class:`LocalEngine` runs it here, in this
trio run; an engine that runs it elsewhere (a worker of a cluster) must persist the
agent's messages where it runs, in the journal's order, and report progress back.
"""

from __future__ import annotations

from typing import Protocol

from ..backends import AgentOutcome, AgentRequest, AgentSink, Backend, BaseRequest, BaseSession


class Engine(Protocol):
    """Runs one agent's backend call (cancellable: the executor owns its time).

    ``persists_reports``: the engine writes the agent's session and messages where the
    call runs (a remote worker), so the sink it is handed must not write them again.
    """

    persists_reports: bool

    async def open_base(self, request: BaseRequest, sink: AgentSink) -> BaseSession: ...

    async def run_agent(self, request: AgentRequest, sink: AgentSink) -> AgentOutcome: ...


class LocalEngine:
    """Runs every call in this process, on the given backend."""

    persists_reports = False

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def open_base(self, request: BaseRequest, sink: AgentSink) -> BaseSession:
        return await self.backend.open_base(request, sink)

    async def run_agent(self, request: AgentRequest, sink: AgentSink) -> AgentOutcome:
        return await self.backend.run_agent(request, sink)
