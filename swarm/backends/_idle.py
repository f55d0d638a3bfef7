"""The stand-in backend of a resume that only closes its run."""

from __future__ import annotations

from ..errors import BackendError
from ._protocol import AgentOutcome, AgentRequest, AgentSink, BaseRequest, BaseSession


class IdleBackend:
    """Stands in for a run's own backend when resuming it runs nothing.

    A run killed after its last agent ended but before it was closed still needs a
    resume to close it; every agent is final and the base was built, so no backend is
    called. Building the real one could only fail (no credentials, no API key) or start
    what is not needed (a fake API), so this one takes its name and refuses any call.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    async def open_base(self, request: BaseRequest, sink: AgentSink) -> BaseSession:
        raise BackendError(f"run {request.run_id}: nothing was left to run, yet a base was asked")

    async def run_agent(self, request: AgentRequest, sink: AgentSink) -> AgentOutcome:
        raise BackendError(
            f"run {request.run_id}: nothing was left to run, yet agent {request.agent_id} was"
        )

    async def aclose(self) -> None:
        return None
