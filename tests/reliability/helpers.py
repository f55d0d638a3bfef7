"""Helpers for reliability tests: scripted plans, a store that "dies", a fake lease clock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import trio
import yaml

from swarm import (
    ExecutorOptions,
    Lease,
    MemoryStore,
    ParallelSwarmExecutor,
    Plan,
    SwarmEvent,
    SwarmResult,
    parse_plan,
)
from swarm.stores import DelegatingStore, Store
from swarm.testing import ScriptedBackend


def scripted_plan(agent_ids: Sequence[str] | dict[str, dict[str, Any]], **execution: Any) -> Plan:
    """A plan of agents (ids, or id -> extra AgentSpec fields) run by a ScriptedBackend."""
    extras = agent_ids if isinstance(agent_ids, dict) else {i: {} for i in agent_ids}
    document = {
        "base": {"prompt": "shared context"},
        "agents": [{"id": i, "prompt": f"task of {i}", **extra} for i, extra in extras.items()],
        "execution": {"max_parallel": 4, **execution},
        "backend": {"name": "simulated"},
        "store": {"url": "memory://"},
    }
    return parse_plan(yaml.safe_dump(document), "scripted-plan.yaml")


class FakeClock:
    """Wall-clock seconds for leases that a test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class DyingStore(DelegatingStore):
    """A store whose process "dies" at ``die()``: from then on no write reaches it.

    Reads still work, so the dying executor can be cancelled cleanly; what is
    left in ``inner`` is exactly what a kill -9 at that moment leaves on disk.
    """

    def __init__(self, inner: Store) -> None:
        super().__init__(inner)
        self.dead = False

    def die(self) -> None:
        self.dead = True

    def writable(self) -> bool:
        return not self.dead

    async def acquire_lease(
        self, name: str, owner: str, ttl_s: float, *, now: float, steal_from: str | None = None
    ) -> Lease:
        if self.dead:  # a dead process renews nothing; pretend it still holds it
            return Lease(name, owner, now, now + ttl_s)
        return await self.inner.acquire_lease(name, owner, ttl_s, now=now, steal_from=steal_from)

    async def release_lease(self, name: str, owner: str) -> None:
        if not self.dead:
            await self.inner.release_lease(name, owner)

    async def aclose(self) -> None:
        return None


async def collect(
    run: Any,
) -> tuple[SwarmResult, list[SwarmEvent]]:
    """Await ``run(events=send)`` while collecting every event it emits."""
    send, receive = trio.open_memory_channel[SwarmEvent](10_000)
    events: list[SwarmEvent] = []

    async def drain() -> None:
        async with receive:
            async for event in receive:
                events.append(event)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain)
        result = await run(events=send)
    return result, events


async def run_until_death(
    executor: ParallelSwarmExecutor, store: DyingStore, plan: Plan, at_s: float, run_id: str
) -> None:
    """Run ``plan`` and kill its "process" at virtual time ``at_s``: no write after that."""
    async with trio.open_nursery() as nursery:

        async def kill() -> None:
            await trio.sleep(at_s)
            store.die()
            nursery.cancel_scope.cancel()

        nursery.start_soon(kill)
        await executor.run(plan, run_id=run_id)
        raise AssertionError(f"the run ended before {at_s} s; kill it earlier")


def executor_for(
    backend: ScriptedBackend, store: Store, clock: FakeClock, **options: Any
) -> ParallelSwarmExecutor:
    return ParallelSwarmExecutor(
        backend, store, options=ExecutorOptions(lease_clock=clock, lease_ttl_s=30.0, **options)
    )


__all__ = ["FakeClock", "MemoryStore"]
