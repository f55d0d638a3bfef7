"""The run lease: one process drives a run; renewed while alive, taken only when free."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import trio

from swarm import AgentStatus, MemoryStore, RunStatus
from swarm.errors import LeaseHeld
from swarm.stores import RunLease, owner_is_dead
from swarm.testing import AgentScript, ScriptedBackend

from .helpers import executor_for, scripted_plan

HOST = socket.gethostname()


def test_only_a_gone_local_process_is_dead() -> None:
    """A finished local pid is dead; a live one, another host's, or a malformed id is not."""
    gone = subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert gone.returncode == 0
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1) as p:
        assert not owner_is_dead(f"{HOST}:{p.pid}:abcd")
        p.stdin.close()  # type: ignore[union-attr]
        p.wait()
        assert owner_is_dead(f"{HOST}:{p.pid}:abcd")
    assert not owner_is_dead(f"elsewhere.example:{p.pid}:abcd")
    assert not owner_is_dead("no-colons-at-all")


async def test_a_dead_holder_is_taken_over_at_once_a_live_one_is_not() -> None:
    """acquire takes an unexpired lease from a proven-dead local owner, never from a live one."""
    store = MemoryStore()
    reader = [sys.executable, "-c", "import sys; sys.stdin.read()"]
    p = await trio.lowlevel.open_process(reader, stdin=subprocess.PIPE)
    await store.acquire_lease("run:r1", f"{HOST}:{p.pid}:live", 30.0, now=100.0)
    contender = RunLease(store, "run:r1", ttl_s=30.0, clock=lambda: 101.0)
    with pytest.raises(LeaseHeld, match=rf"run r1 is held by {HOST}:{p.pid}:live until "):
        await contender.acquire()
    assert p.stdin is not None
    await p.stdin.aclose()
    await p.wait()
    lease = await contender.acquire()
    assert lease.owner == contender.owner


async def test_the_lease_is_renewed_for_as_long_as_the_run_lives(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A 100 s run keeps its 30 s lease: a contender at 80 s is refused; it is freed at the end."""
    store = MemoryStore()
    backend = ScriptedBackend(store, default=AgentScript(latency_s=100.0))
    executor = executor_for(backend, store, lambda: 1e6 + trio.current_time())  # type: ignore[arg-type]
    refused: list[str] = []

    async def contender() -> None:
        await trio.sleep(80)
        lease = await store.acquire_lease("run:r1", "other:1:x", 30.0, now=1e6 + 80)
        refused.append(lease.owner)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(contender)
        result = await executor.run(scripted_plan(["a"]), run_id="r1")
    assert result.status is RunStatus.SUCCEEDED
    assert refused and refused[0] != "other:1:x"
    assert await store.get_lease("run:r1") is None


async def test_a_lost_lease_stops_the_run_and_its_writes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """When another process takes the lease, this one stops and writes nothing more."""
    store = MemoryStore()
    backend = ScriptedBackend(store, default=AgentScript(latency_s=100.0))
    executor = executor_for(backend, store, lambda: 1e6 + trio.current_time())  # type: ignore[arg-type]

    async def usurp() -> None:
        await trio.sleep(15)
        held = await store.get_lease("run:r1")
        assert held is not None
        await store.acquire_lease("run:r1", "other:1:x", 30.0, now=1e6, steal_from=held.owner)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(usurp)
        result = await executor.run(scripted_plan(["a"]), run_id="r1")
    assert result.status is RunStatus.INTERRUPTED
    assert "other:1:x" in (result.error or "")
    (stored,) = await store.list_agents("r1")
    assert stored.status is AgentStatus.RUNNING  # left for the new holder to resume
    record = await store.get_run("r1")
    assert record is not None and record.status is RunStatus.RUNNING
    lease = await store.get_lease("run:r1")
    assert lease is not None and lease.owner == "other:1:x"  # not released by the loser


async def test_a_lost_lease_fences_every_write_even_the_final_checkpoint(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """After another process took the lease, nothing of this run reaches the store: not the
    cancelled agent's final checkpoint (taken as it ends, under a shield), not its record,
    not the run's final record; what was written before the takeover stays."""
    store = MemoryStore()
    backend = ScriptedBackend(store, default=AgentScript(latency_s=100.0))
    executor = executor_for(backend, store, lambda: 1e6 + trio.current_time())  # type: ignore[arg-type]

    async def usurp() -> None:
        await trio.sleep(15)
        held = await store.get_lease("run:r1")
        assert held is not None
        await store.acquire_lease("run:r1", "other:1:x", 30.0, now=1e6, steal_from=held.owner)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(usurp)
        result = await executor.run(scripted_plan(["a"]), run_id="r1")
    assert result.agents["a"].status is AgentStatus.CANCELLED  # what this process saw
    session = result.agents["a"].session_id
    assert session is not None and await store.get_messages(session)  # written before: kept
    kinds = [c.kind for c in await store.list_checkpoints(session)]
    assert "final" not in kinds, kinds


async def test_the_journal_writes_nothing_once_fenced() -> None:
    """Every write method of the journal is gated by its one fence; reads still work."""
    from swarm.engine import Journal, SessionDescriber
    from swarm.records import (
        AgentResult,
        Checkpoint,
        Message,
        RunRecord,
        SessionRecord,
    )

    store = MemoryStore()
    await store.save_run(RunRecord("r1", {"agents": []}))
    journal = Journal(store, "r1", backend="simulated", describer=SessionDescriber(git=False))
    journal.fence()
    await journal.save_run(RunRecord("r2", {"agents": []}))
    await journal.save_agent(AgentResult("a"))
    await journal.start_session(
        "s1",
        agent_id="a",
        parent_session_id=None,
        fork_point=None,
        model=None,
        cwd=None,
        reported={},
    )
    await journal.save_session(SessionRecord("s2", "simulated"))
    await journal.append_messages("s2", [Message("m1", "s2", "user", "x")])
    await journal.save_checkpoint(Checkpoint("c1", "s2", "m1", 1))
    await journal.append_transcript("p", "s2", "", [{"uuid": "t"}])
    await journal.delete_run("r1")
    assert [r.run_id for r in await journal.list_runs()] == ["r1"]  # reads go through
    assert await store.list_agents("r1") == []
    assert await store.list_sessions() == []
    assert await store.get_messages("s2") == []
    assert await store.list_checkpoints() == []
    assert await store.load_transcript("p", "s2") is None
