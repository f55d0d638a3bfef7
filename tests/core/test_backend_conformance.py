"""The simulated backend passes the backend conformance suite, which can fail."""

import pytest

from swarm import SimulatedBackend
from swarm.backends import SimulatedSettings
from swarm.stores import Store
from swarm.testing import BACKEND_CONTRACTS, run_backend_conformance
from swarm.testing._backend_conformance import fork_is_a_new_session


async def test_simulated_backend_conforms(autojump_clock: object) -> None:
    """The simulated backend keeps every backend contract."""

    def make(store: Store) -> SimulatedBackend:
        return SimulatedBackend(store, settings=SimulatedSettings(latency_s=0.5))

    await run_backend_conformance(make)


async def test_a_backend_that_reuses_the_parent_session_fails(autojump_clock: object) -> None:
    """A backend that 'forks' by continuing the parent's session breaks a contract."""
    from swarm import AgentOutcome, AgentRequest, AgentSink, MemoryStore

    class NoFork(SimulatedBackend):
        async def run_agent(self, request: AgentRequest, sink: AgentSink) -> AgentOutcome:
            outcome = await super().run_agent(request, sink)
            return AgentOutcome(session_id=request.parent_session_id, output=outcome.output)

    store = MemoryStore()
    with pytest.raises(AssertionError):
        await fork_is_a_new_session(NoFork(store), store)
    assert len(BACKEND_CONTRACTS) >= 6
