"""The store's own share of the overhead workload: an agent's records written straight
into a store, with no executor around them.

Each of ``writers`` trio tasks writes, agent after agent, what the executor writes for
one zero-latency agent (its record going to running, its session, two messages, its
final checkpoint, its final record), each write awaited as the executor awaits it. On
SQLite (synchronous=FULL, group commit) the rate is the ceiling the store itself puts on
the overhead workload, whatever the executor costs.
"""

from __future__ import annotations

import time

import trio

from ..records import (
    AgentResult,
    AgentStatus,
    Checkpoint,
    Message,
    SessionRecord,
    Usage,
    new_uuid,
)
from ..stores import Store

RUN_ID = "bench-store-writes"


async def _one_agent(store: Store, n: int) -> None:
    agent_id = f"a{n:05d}"
    session_id = new_uuid()
    running = AgentResult(agent_id, status=AgentStatus.RUNNING, parent_session_id="base")
    await store.save_agents(RUN_ID, [running])
    metadata = {"cwd": "/work", "swarm_version": "bench", "simulated": True}
    await store.save_session(
        SessionRecord(session_id, "simulated", RUN_ID, agent_id, "base", metadata=metadata)
    )
    user = Message(new_uuid(), session_id, "user", f"task {n}")
    await store.append_messages(session_id, [user])
    reply = Message(
        new_uuid(),
        session_id,
        "assistant",
        f"[simulated] answer {n}",
        parent_uuid=user.uuid,
        usage=Usage(10, 20),
    )
    await store.append_messages(session_id, [reply])
    final = Checkpoint(new_uuid(), session_id, reply.uuid, 2, Usage(10, 20), kind="final")
    await store.save_checkpoint(final)
    ended = running.evolve(status=AgentStatus.SUCCEEDED, session_id=session_id, output="x")
    await store.save_agents(RUN_ID, [ended])


async def measure_store_writes(store: Store, agents: int, writers: int) -> dict[str, float]:
    """Write ``agents`` agents' records from ``writers`` concurrent tasks; wall and CPU s."""
    numbers = iter(range(agents))

    async def writer() -> None:
        for n in numbers:
            await _one_agent(store, n)

    wall, cpu = time.perf_counter(), time.process_time()
    async with trio.open_nursery() as nursery:
        for _ in range(writers):
            nursery.start_soon(writer)
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
