"""The contracts every :class:`~swarm.stores.Store` implementation must keep.

Call :func:`run_store_conformance` from an async test with a factory that
returns a fresh, empty store each time; every contract gets its own store.
One contract is a guarantee more than a behaviour: a secret handed to any write
never comes back from any read (a store gets it by wrapping its tables in
:class:`~swarm.stores.RedactingStore`, as the built-in ones do).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TypeAlias

import trio
import trio.testing

from .._redaction import REDACTED
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
from ..stores import Store, StoreWrite, TranscriptStore, keeps_transcripts, writes_batches

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


async def batches_apply_in_order(store: Store) -> None:
    """A store that takes batches (:class:`~swarm.stores.BatchWriter`) applies each as its
    write methods would, in order, and batches in the order of the calls, even when the
    next one is started before the first is awaited; its records are redacted as ever."""
    if not writes_batches(store):
        return
    key = "sk-ant-api03-" + "Q" * 90
    run = RunRecord("r1", plan={"agents": []})
    session = SessionRecord("s1", "simulated", run_id="r1", agent_id="a")
    first = [
        StoreWrite("save_run", (run,)),
        StoreWrite("save_agents", ("r1", [AgentResult("a", status=AgentStatus.RUNNING)])),
        StoreWrite("save_session", (session,)),
        StoreWrite("append_messages", ("s1", [Message("m0", "s1", "user", f"key {key}")])),
        StoreWrite("save_checkpoint", (Checkpoint("c0", "s1", "m0", 1),)),
    ]
    second = [
        StoreWrite("append_messages", ("s1", [Message("m1", "s1", "assistant", "done")])),
        StoreWrite("save_checkpoint", (Checkpoint("c1", "s1", "m1", 2, kind="final"),)),
        StoreWrite("delete_checkpoints", (["c0"],)),
        StoreWrite("save_agents", ("r1", [AgentResult("a", status=AgentStatus.SUCCEEDED)])),
    ]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.write_batch, first)  # type: ignore[attr-defined]
        await trio.testing.wait_all_tasks_blocked()  # the first is taken in, maybe not done
        nursery.start_soon(store.write_batch, second)  # type: ignore[attr-defined]
    assert await store.get_run("r1") is not None
    assert [a.status for a in await store.list_agents("r1")] == [AgentStatus.SUCCEEDED]
    assert await store.get_session("s1") == session
    messages = await store.get_messages("s1")
    assert [m.uuid for m in messages] == ["m0", "m1"]
    assert key not in messages[0].content
    assert [c.checkpoint_id for c in await store.list_checkpoints("s1")] == ["c1"]


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


async def delete_run_removes_the_transcripts_of_its_sessions(store: Store) -> None:
    """delete_run also removes the CLI transcripts mirrored for the run's sessions (they
    hold the same prompts and replies), and no other session's."""
    if not (keeps_transcripts(store) and isinstance(store, TranscriptStore)):
        return
    for run_id in ("r1", "r2"):
        await store.save_run(_run(run_id))
        await store.save_session(SessionRecord(f"s-{run_id}", "simulated", run_id=run_id))
        await store.append_transcript("p", f"s-{run_id}", "", [{"type": "u", "uuid": "1"}])
        await store.append_transcript("p", f"s-{run_id}", "sub/a", [{"type": "u"}])
    await store.delete_run("r1")
    assert await store.load_transcript("p", "s-r1") is None
    assert await store.load_transcript("p", "s-r1", "sub/a") is None
    assert await store.load_transcript("p", "s-r2") == [{"type": "u", "uuid": "1"}]


async def transcripts_keyed_and_idempotent(store: Store) -> None:
    """Raw transcript lines keep order per key, skip a stored uuid, and delete in cascade.

    Only for stores with the optional TranscriptStore capability (both built-in ones).
    """
    if not (keeps_transcripts(store) and isinstance(store, TranscriptStore)):
        return
    await store.append_transcript("p", "s", "", [{"type": "u", "uuid": "1"}, {"type": "t"}])
    await store.append_transcript("p", "s", "", [{"type": "u", "uuid": "1"}, {"type": "t"}])
    await store.append_transcript("p", "s", "sub/a", [{"type": "u", "uuid": "1"}])
    await store.append_transcript("q", "s", "", [{"type": "v"}])
    assert await store.load_transcript("p", "s") == [
        {"type": "u", "uuid": "1"},
        {"type": "t"},
        {"type": "t"},
    ]
    assert await store.load_transcript("p", "nope") is None
    assert [sid for sid, _ in await store.list_transcript_sessions("p")] == ["s"]
    assert await store.list_transcript_subpaths("p", "s") == ["sub/a"]
    assert await store.transcript_projects("s") == ["p", "q"]
    await store.delete_transcript("p", "s")
    assert await store.load_transcript("p", "s", "sub/a") is None
    assert await store.load_transcript("q", "s") == [{"type": "v"}]


async def message_ranges(store: Store) -> None:
    """Reading part of a session (its own or a ranged read) gives the right slice or NotFound.

    Goes through ``swarm.stores._lineage.messages_between``: the store's optional
    ``get_message_range`` when it has one, a slice of ``get_messages`` otherwise.
    """
    from ..errors import NotFoundError
    from ..stores import messages_between

    await store.save_session(SessionRecord("s1", "simulated"))
    await store.append_messages("s1", [Message(f"m{i}", "s1", "user", "x") for i in range(5)])

    async def uuids(after: str | None = None, upto: str | None = None) -> list[str]:
        return [m.uuid for m in await messages_between(store, "s1", after=after, upto=upto)]

    assert await uuids() == ["m0", "m1", "m2", "m3", "m4"]
    assert await uuids(after="m1") == ["m2", "m3", "m4"]
    assert await uuids(upto="m2") == ["m0", "m1", "m2"]
    assert await uuids(after="m1", upto="m3") == ["m2", "m3"]
    assert await uuids(after="m3", upto="m1") == []
    for bad in ({"after": "zz"}, {"upto": "zz"}):
        try:
            await uuids(**bad)
        except NotFoundError:
            continue
        raise AssertionError(f"an unknown uuid ({bad}) must raise NotFoundError")


async def leases_exclusive_until_expiry(store: Store) -> None:
    """A lease is its owner's until it expires or is released; renewing extends it."""
    first = await store.acquire_lease("run:r1", "h:1:a", 30.0, now=100.0)
    assert (first.owner, first.acquired_at, first.expires_at) == ("h:1:a", 100.0, 130.0)
    assert await store.get_lease("run:r1") == first
    refused = await store.acquire_lease("run:r1", "h:2:b", 30.0, now=129.0)
    assert refused == first  # not stolen before expiry
    renewed = await store.acquire_lease("run:r1", "h:1:a", 30.0, now=120.0)
    assert (renewed.acquired_at, renewed.expires_at) == (100.0, 150.0)
    assert (await store.acquire_lease("run:r1", "h:2:b", 30.0, now=140.0)).owner == "h:1:a"
    taken = await store.acquire_lease("run:r1", "h:2:b", 30.0, now=150.0)
    assert (taken.owner, taken.acquired_at, taken.expires_at) == ("h:2:b", 150.0, 180.0)
    await store.release_lease("run:r1", "h:1:a")  # not the holder: nothing happens
    assert await store.get_lease("run:r1") == taken
    await store.release_lease("run:r1", "h:2:b")
    assert await store.get_lease("run:r1") is None
    assert await store.get_lease("run:other") is None


async def leases_taken_over_only_from_the_named_owner(store: Store) -> None:
    """``steal_from`` takes a live lease only from that very owner (a proven-dead one)."""
    await store.acquire_lease("run:r1", "h:1:a", 30.0, now=100.0)
    wrong = await store.acquire_lease("run:r1", "h:3:c", 30.0, now=101.0, steal_from="h:2:b")
    assert wrong.owner == "h:1:a"
    taken = await store.acquire_lease("run:r1", "h:3:c", 30.0, now=101.0, steal_from="h:1:a")
    assert (taken.owner, taken.expires_at) == ("h:3:c", 131.0)


async def concurrent_lease_claims_have_one_winner(store: Store) -> None:
    """Of many owners claiming one free lease at once, exactly one gets it."""
    won: list[str] = []

    async def claim(owner: str) -> None:
        lease = await store.acquire_lease("run:r1", owner, 30.0, now=100.0)
        if lease.owner == owner:
            won.append(owner)

    async with trio.open_nursery() as nursery:
        for i in range(20):
            nursery.start_soon(claim, f"h:{i}:x")
    assert len(won) == 1, won
    holder = await store.get_lease("run:r1")
    assert holder is not None and holder.owner == won[0]


# Shaped like a real key (swarm._secret_shapes), so no registry or environment is needed.
_SECRET = "sk-ant-api03-" + "Zq7" * 31 + "AA"


def _leaks(value: object) -> bool:
    return _SECRET in repr(value)


async def secrets_never_come_back(store: Store) -> None:
    """A secret given to every save_* and append_* (in any field but an id) never comes
    back raw from any get_* or list_*; each record still comes back, redacted."""
    key = _SECRET
    run = RunRecord(
        "r1",
        {"agents": [{"id": "a", "prompt": f"use {key}"}]},
        name="p",
        plan_path=f"plans/{key}.yaml",
        error=f"failed with {key}",
    )
    await store.save_run(run)
    await store.save_agents("r1", [AgentResult("a", output=f"the key is {key}", error=key)])
    session = SessionRecord("s1", "simulated", run_id="r1", agent_id="a", metadata={"k": key})
    await store.save_session(session)
    await store.append_messages(
        "s1", [Message("m1", "s1", "user", f"here: {key}", raw={"content": [{"text": key}]})]
    )
    await store.save_checkpoint(
        Checkpoint("c1", "s1", "m1", 1, description=f"at {key}", files_modified=(key,))
    )
    reads: list[object] = [
        await store.get_run("r1"),
        await store.list_runs(),
        await store.list_agents("r1"),
        await store.get_session("s1"),
        await store.list_sessions("r1"),
        await store.get_messages("s1"),
        await store.list_checkpoints("s1"),
    ]
    if keeps_transcripts(store) and isinstance(store, TranscriptStore):
        await store.append_transcript("p", "s1", "", [{"uuid": "t1", "text": key}])
        reads.append(await store.load_transcript("p", "s1"))
    for read in reads:
        assert read, "every record written must come back (redacted, not dropped)"
        assert not _leaks(read), f"a secret came back raw: {read!r:.200}"
    assert REDACTED in repr(reads)
    stored = await store.get_run("r1")
    assert stored is not None and stored.run_id == "r1" and stored.name == "p"  # ids intact


STORE_CONTRACTS: tuple[Contract, ...] = (
    runs_round_trip,
    runs_newest_first,
    agents_upsert_in_order,
    sessions_and_lineage_fields,
    messages_append_in_order_and_dedupe,
    concurrent_appends_lose_nothing,
    batches_apply_in_order,
    checkpoints_round_trip_and_delete,
    delete_run_removes_everything_of_it,
    delete_run_removes_the_transcripts_of_its_sessions,
    message_ranges,
    transcripts_keyed_and_idempotent,
    leases_exclusive_until_expiry,
    leases_taken_over_only_from_the_named_owner,
    concurrent_lease_claims_have_one_winner,
    secrets_never_come_back,
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
