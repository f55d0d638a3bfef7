"""The contracts every :class:`~swarm.stores.base.Store` implementation must keep.

Call :func:`run_store_conformance` from an async test with a factory that
returns a fresh, empty store each time; every contract gets its own store.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TypeAlias

import trio

from ..records import (
    AgentResult,
    AgentStatus,
    Checkpoint,
    Message,
    RunRecord,
    RunStatus,
    SessionRecord,
    SwarmMetrics,
    Usage,
)
from ..stores.base import Store

StoreFactory: TypeAlias = Callable[[], Store | Awaitable[Store]]
Contract: TypeAlias = Callable[[Store], Awaitable[None]]


def _run(run_id: str, created_at: str = "2026-01-01T00:00:00+00:00") -> RunRecord:
    return RunRecord(run_id=run_id, plan={"agents": [{"id": "a"}]}, created_at=created_at)


async def runs_round_trip(store: Store) -> None:
    """A saved run reads back equal, and saving again replaces it."""
    run = _run("r1")
    await store.save_run(run)
    assert await store.get_run("r1") == run
    done = run.evolve(
        status=RunStatus.SUCCEEDED, metrics=SwarmMetrics(wall_s=1.5, usage=Usage(1, 2, 3, 4))
    )
    await store.save_run(done)
    assert await store.get_run("r1") == done
    assert await store.get_run("missing") is None


async def runs_newest_first(store: Store) -> None:
    """list_runs returns runs newest first and honours the limit."""
    for i, stamp in enumerate(["2026-01-01", "2026-03-01", "2026-02-01"]):
        await store.save_run(_run(f"r{i}", f"{stamp}T00:00:00+00:00"))
    assert [r.run_id for r in await store.list_runs()] == ["r1", "r2", "r0"]
    assert [r.run_id for r in await store.list_runs(limit=1)] == ["r1"]


async def agents_upsert_in_order(store: Store) -> None:
    """Agents keep first-save order; a later save of the same id replaces its record."""
    await store.save_run(_run("r1"))
    agents = [AgentResult(agent_id=name) for name in ("b", "a", "c")]
    await store.save_agents("r1", agents)
    done = agents[1].evolve(status=AgentStatus.SUCCEEDED, output="ok", usage=Usage(5, 6))
    await store.save_agents("r1", [done])
    listed = await store.list_agents("r1")
    assert [a.agent_id for a in listed] == ["b", "a", "c"]
    assert listed[1] == done
    assert await store.list_agents("other") == []


async def sessions_and_lineage_fields(store: Store) -> None:
    """Sessions keep parent and fork point, and list by run, oldest first."""
    base = SessionRecord("s-base", "simulated", run_id="r1", created_at="2026-01-01T00:00:01")
    fork = SessionRecord(
        "s-fork",
        "simulated",
        run_id="r1",
        agent_id="a",
        parent_session_id="s-base",
        fork_point="m2",
        created_at="2026-01-01T00:00:02",
        metadata={"cwd": "/tmp"},
    )
    other = SessionRecord("s-other", "simulated", run_id="r2", created_at="2026-01-01T00:00:00")
    for session in (fork, base, other):
        await store.save_session(session)
    assert await store.get_session("s-fork") == fork
    assert [s.session_id for s in await store.list_sessions("r1")] == ["s-base", "s-fork"]
    assert len(await store.list_sessions()) == 3
    assert await store.get_session("nope") is None


async def messages_append_in_order_and_dedupe(store: Store) -> None:
    """Messages come back in append order; re-appending a uuid changes nothing."""
    await store.save_session(SessionRecord("s1", "simulated"))
    first = [
        Message(f"m{i}", "s1", "user" if i % 2 else "assistant", f"text {i}") for i in range(3)
    ]
    await store.append_messages("s1", first)
    await store.append_messages("s1", [first[1], Message("m3", "s1", "assistant", "more")])
    got = await store.get_messages("s1")
    assert [m.uuid for m in got] == ["m0", "m1", "m2", "m3"]
    assert got[0] == first[0]
    assert await store.get_messages("empty") == []


async def concurrent_appends_lose_nothing(store: Store) -> None:
    """Many tasks appending to many sessions at once lose no message."""

    async def writer(session: int) -> None:
        for i in range(20):
            await store.append_messages(
                f"s{session}", [Message(f"m{i}", f"s{session}", "user", "x")]
            )

    async with trio.open_nursery() as nursery:
        for session in range(10):
            nursery.start_soon(writer, session)
    for session in range(10):
        got = await store.get_messages(f"s{session}")
        assert [m.uuid for m in got] == [f"m{i}" for i in range(20)]


async def checkpoints_round_trip_and_delete(store: Store) -> None:
    """Checkpoints list per session, oldest first, and can be deleted by id."""
    cps = [
        Checkpoint(
            f"c{i}",
            "s1" if i < 2 else "s2",
            f"m{i}",
            i + 1,
            usage=Usage(i, i),
            files_modified=("a.py",),
            created_at=f"2026-01-01T00:00:0{i}",
        )
        for i in range(3)
    ]
    for cp in reversed(cps):
        await store.save_checkpoint(cp)
    assert await store.list_checkpoints("s1") == cps[:2]
    assert len(await store.list_checkpoints()) == 3
    await store.delete_checkpoints(["c0"])
    assert await store.list_checkpoints("s1") == [cps[1]]


async def delete_run_removes_everything_of_it(store: Store) -> None:
    """delete_run removes the run's agents, sessions, messages and checkpoints, nothing else."""
    for run_id in ("r1", "r2"):
        await store.save_run(_run(run_id))
        await store.save_agents(run_id, [AgentResult(agent_id="a")])
        await store.save_session(SessionRecord(f"s-{run_id}", "simulated", run_id=run_id))
        await store.append_messages(f"s-{run_id}", [Message("m1", f"s-{run_id}", "user", "x")])
        await store.save_checkpoint(Checkpoint(f"c-{run_id}", f"s-{run_id}", "m1", 1))
    await store.delete_run("r1")
    assert await store.get_run("r1") is None
    assert await store.list_agents("r1") == []
    assert await store.get_session("s-r1") is None
    assert await store.get_messages("s-r1") == []
    assert await store.list_checkpoints("s-r1") == []
    assert await store.get_run("r2") is not None
    assert len(await store.get_messages("s-r2")) == 1


STORE_CONTRACTS: tuple[Contract, ...] = (
    runs_round_trip,
    runs_newest_first,
    agents_upsert_in_order,
    sessions_and_lineage_fields,
    messages_append_in_order_and_dedupe,
    concurrent_appends_lose_nothing,
    checkpoints_round_trip_and_delete,
    delete_run_removes_everything_of_it,
)


async def run_store_conformance(make_store: StoreFactory) -> None:
    """Run every store contract, each against a fresh store from ``make_store``."""
    for contract in STORE_CONTRACTS:
        created = make_store()
        store = await created if inspect.isawaitable(created) else created
        try:
            await contract(store)
        except AssertionError as exc:
            raise AssertionError(f"store contract {contract.__name__} failed: {exc}") from exc
        finally:
            await store.aclose()
