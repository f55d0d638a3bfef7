"""Helpers for core tests: build plans in code and run them with an event log."""

from __future__ import annotations

from typing import Any

import trio
import yaml

from swarm import MemoryStore, ParallelSwarmExecutor, Plan, SwarmEvent, SwarmResult, parse_plan
from swarm.backends import create_backend
from swarm.stores import Store


def make_plan(agents: list[dict[str, Any]], **sections: Any) -> Plan:
    """A simulated plan: each agent dict may give `latency` (seconds, exact, no jitter)."""
    specs = []
    for agent in agents:
        agent = dict(agent)
        latency = agent.pop("latency", 1.0)
        simulated = agent.pop("simulated", {})
        agent.setdefault("prompt", f"task of {agent['id']}")
        agent["simulated"] = {"latency_s": latency, **simulated}
        specs.append(agent)
    document: dict[str, Any] = {
        "base": {"prompt": "shared context"},
        "agents": specs,
        "backend": {"name": "simulated", "simulated": {"latency_s": 0, "jitter": 0}},
    }
    for key, value in sections.items():
        document[key] = value
    return parse_plan(yaml.safe_dump(document), "test-plan.yaml")


async def run_plan(
    plan: Plan, store: Store | None = None, **executor_kwargs: Any
) -> tuple[SwarmResult, list[SwarmEvent], Store]:
    """Run a plan, collecting every event; returns (result, events, store)."""
    store = store or MemoryStore()
    backend = create_backend(plan.backend, store)
    executor = ParallelSwarmExecutor(backend, store, **executor_kwargs)
    send, receive = trio.open_memory_channel[SwarmEvent](1000)
    events: list[SwarmEvent] = []

    async def collect() -> None:
        async with receive:
            async for event in receive:
                events.append(event)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(collect)
        result = await executor.run(plan, events=send)
    return result, events, store


def starts(events: list[SwarmEvent]) -> dict[str, float]:
    """Agent id -> elapsed seconds at which it started."""
    return {e.agent_id: e.elapsed_s for e in events if e.kind == "started" and e.agent_id}


def max_running(events: list[SwarmEvent]) -> int:
    """The most agents running at once, replayed from the event log."""
    running = peak = 0
    for event in events:
        if event.kind == "started":
            running += 1
            peak = max(peak, running)
        elif event.kind == "finished" and event.result is not None and event.result.started_at:
            running -= 1
    return peak
