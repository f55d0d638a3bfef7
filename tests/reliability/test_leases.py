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
