"""Retries while the base session is built count in the run, and say it was the base."""

from __future__ import annotations

import trio

from swarm import MemoryStore, ParallelSwarmExecutor, SimulatedBackend, SwarmEvent
from swarm.backends import AgentSink, BaseRequest, BaseSession
from swarm.cli._display import _plain_line

from .helpers import make_plan


class OverloadedBase(SimulatedBackend):
    """The simulated backend, whose base session meets two 529s before it is built."""

    async def open_base(self, request: BaseRequest, sink: AgentSink) -> BaseSession:
        for _ in range(2):
            await sink.retry(status=529, reason="HTTP 529: overloaded", delay_s=1.0)
            await trio.sleep(1.0)
        return await super().open_base(request, sink)


async def test_base_retries_count_in_the_metrics_and_the_record(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Two base retries make the run's retries 2, recorded with the base for a resume."""
    store = MemoryStore()
    plan = make_plan([{"id": "a"}, {"id": "b"}])
    executor = ParallelSwarmExecutor(OverloadedBase(store), store)
    send, receive = trio.open_memory_channel[SwarmEvent](100)
    result = await executor.run(plan, events=send)
    events = [event async for event in receive]

    assert result.succeeded
    assert result.metrics.retries == 2
    assert all(agent.retries == 0 for agent in result.agents.values())
    record = await store.get_run(result.run_id)
    assert record is not None and record.attempts[-1].base is not None
    assert record.attempts[-1].base.retries == 2
    lines = [_plain_line(e) for e in events if e.kind.value == "retry"]
    assert lines and all(line and "retry     base: HTTP 529" in line for line in lines)
