"""Writing behind: while agents run, their progress is staged and made durable in
batches across agents; each agent waits once, for its final record, before anything
outside the run learns that it ended."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest
import trio
import trio.testing

from swarm import MemoryStore
from swarm.backends import AgentRequest
from swarm.engine._journal import Journal, without_superseded
from swarm.engine._session_meta import SessionDescriber
from swarm.errors import StoreError
from swarm.plan import Plan
from swarm.records import AgentResult, AgentStatus, Message, RunRecord, SessionRecord
from swarm.stores import DelegatingStore, SQLiteStore, StoreWrite, _sqlite_db, writes_batches

from .helpers import run_plan


def _plan(db: Path, agents: int, max_parallel: int | None = None) -> Plan:
    return Plan.model_validate(
        {
            "name": "write-behind",
            "base": {"prompt": "shared"},
            "agents": [{"id": f"a{i:02d}", "prompt": f"task {i}"} for i in range(agents)],
            "execution": {"max_parallel": max_parallel or agents},
            "backend": {"name": "simulated", "simulated": {"latency_s": 0, "jitter": 0}},
            "store": {"url": f"sqlite:///{db}"},
        }
    )


@pytest.mark.parametrize("writer", ["thread", "process"])
async def test_an_agents_end_is_durable_before_a_hook_learns_of_it(
    tmp_path: Path, writer: str
) -> None:
    """A post-agent hook (what runs right after the FINISHED event) finds the agent's
    final record and both its messages in the file, read by another connection, whether
    a worker thread or the store's writer process applied the commits."""
    db = tmp_path / "swarm.db"
    plan = _plan(db, 8)
    seen: dict[str, tuple[str, int]] = {}

    async def after(result: AgentResult) -> None:
        conn = sqlite3.connect(db)  # another connection: it sees committed data only
        try:
            (data,) = conn.execute(
                "SELECT data FROM agents WHERE agent_id = ?", (result.agent_id,)
            ).fetchone()
            (messages,) = conn.execute(
                "SELECT COUNT(*) FROM messages WHERE session_id = ?", (result.session_id,)
            ).fetchone()
        finally:
            conn.close()
        seen[result.agent_id] = (
            AgentResult.from_dict(json.loads(data)).status,
            messages,
        )

    store = await SQLiteStore.open(db, writer=writer)
    try:
        result, _, _ = await run_plan(plan, store, post_agent=[after])
    finally:
        await store.aclose()
    assert result.succeeded
    assert seen == {f"a{i:02d}": (AgentStatus.SUCCEEDED, 2) for i in range(8)}


async def test_the_progress_of_many_agents_takes_few_store_round_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 agents make six writes each; staged and batched, they reach SQLite in two or
    three calls per agent (a flush, its final commit), not six awaited ones (over 240);
    every record is there."""
    calls = 0
    write_many = _sqlite_db.SQLiteDatabase.write_many

    async def counted(self: _sqlite_db.SQLiteDatabase, writes: object) -> None:
        nonlocal calls
        calls += 1
        await write_many(self, writes)  # type: ignore[arg-type]

    monkeypatch.setattr(_sqlite_db.SQLiteDatabase, "write_many", counted)
    db = tmp_path / "swarm.db"
    plan = _plan(db, 40)
    store = await SQLiteStore.open(db)
    try:
        result, _, _ = await run_plan(plan, store)
        agents = await store.list_agents(result.run_id)
        sessions = await store.list_sessions(result.run_id)
        checkpoints = await store.list_checkpoints()
    finally:
        await store.aclose()
    assert result.succeeded
    assert all(a.status is AgentStatus.SUCCEEDED for a in agents) and len(agents) == 40
    assert len(sessions) == 41 and len([c for c in checkpoints if c.kind == "final"]) == 40
    # the base's writes and the run's records are awaited one by one: about a dozen
    assert calls <= 3 * 40 + 15, calls


async def test_reads_through_the_journal_see_what_it_staged(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "swarm.db")
    assert writes_batches(store)
    journal = Journal(store, "r1", backend="simulated", describer=SessionDescriber(git=False))
    try:
        async with trio.open_nursery() as nursery:
            journal.write_behind(nursery)
            await journal.save_agents("r1", [AgentResult("a", status=AgentStatus.RUNNING)])
            assert journal._staged  # staged, not yet written
            assert [a.agent_id for a in await journal.list_agents("r1")] == ["a"]
            journal.write_behind(None)
    finally:
        await store.aclose()


async def test_nothing_staged_after_a_failed_batch_reaches_the_store(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """While a batch is on its way, what is staged next waits for it; when it fails,
    nothing staged after it is written (the store keeps a prefix of the writes: no
    message lands after its session's record failed)."""
    written: list[list[str]] = []

    class SlowFailingStore(MemoryStore):
        async def write_batch(self, writes: Sequence[StoreWrite]) -> None:
            written.append([w.kind for w in writes])
            await trio.sleep(1)
            if len(written) == 1:
                raise StoreError("the disk is full")
            await super().write_batch(writes)

    store = SlowFailingStore()
    journal = Journal(store, "r1", backend="simulated", describer=SessionDescriber(git=False))
    with pytest.raises(BaseExceptionGroup) as caught:
        async with trio.open_nursery() as nursery:
            journal.write_behind(nursery)
            await journal.save_session(SessionRecord("s1", "simulated"))
            await trio.sleep(0.5)  # the session's batch is on its way
            await journal.append_messages("s1", [Message("m1", "s1", "user", "hi")])
            await trio.sleep(5)
    assert caught.value.subgroup(StoreError) is not None
    assert written == [["save_session"]]
    assert await store.get_messages("s1") == []


async def test_a_commit_whose_sender_is_cancelled_still_gets_both_batches_written(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The task that sends a batch may be cancelled while it is on its way: the batch
    still reaches the store (it holds others' writes too), the sender goes on to send
    what was staged meanwhile, and the task that staged it is woken once it is durable."""
    batches: list[list[str]] = []

    class SlowStore(MemoryStore):
        async def write_batch(self, writes: Sequence[StoreWrite]) -> None:
            await trio.sleep(1)
            batches.append([w.args[0].session_id for w in writes])
            await super().write_batch(writes)

    store = SlowStore()
    journal = Journal(store, "r1", backend="simulated", describer=SessionDescriber(git=False))
    durable_at: dict[str, float] = {}

    async def sender() -> None:
        with trio.move_on_after(0.5):
            await journal.save_session(SessionRecord("s1", "simulated"))
            await journal.commit()  # this task sends the batch, and is cancelled meanwhile
        durable_at["sender"] = trio.current_time()

    async def waiter() -> None:
        await trio.sleep(0.25)  # the first batch is on its way
        await journal.save_session(SessionRecord("s2", "simulated"))
        await journal.commit()
        durable_at["s2"] = trio.current_time()

    async with trio.open_nursery() as nursery:
        journal.write_behind(nursery)
        nursery.start_soon(sender)
        nursery.start_soon(waiter)
    assert batches == [["s1"], ["s2"]]
    assert durable_at == {"sender": 2.0, "s2": 2.0}
    assert [s.session_id for s in await store.list_sessions()] == ["s1", "s2"]


class _Steps(trio.abc.Instrument):
    """How many times each task named here was run (a wake-up is one step)."""

    def __init__(self, *names: str) -> None:
        self.steps = dict.fromkeys(names, 0)

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task.name in self.steps:
            self.steps[task.name] += 1


async def test_a_commit_waits_for_the_batch_that_holds_its_writes_and_wakes_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Writes staged while a batch is on its way go in the next one; their committer is
    woken when that one is durable, not also when the batch before it ends."""

    class SlowStore(MemoryStore):
        async def write_batch(self, writes: Sequence[StoreWrite]) -> None:
            await trio.sleep(1)
            await super().write_batch(writes)

    store = SlowStore()
    journal = Journal(store, "r1", backend="simulated", describer=SessionDescriber(git=False))
    steps = _Steps("second")
    woken: dict[str, int] = {}

    async def first() -> None:
        await journal.save_session(SessionRecord("s1", "simulated"))
        await journal.commit()  # sends the first batch: durable at 1.0

    async def second() -> None:
        await trio.sleep(0.25)  # the first batch is on its way
        await journal.save_session(SessionRecord("s2", "simulated"))
        before = steps.steps["second"]
        await journal.commit()
        woken["steps"] = steps.steps["second"] - before
        woken["at"] = int(trio.current_time())

    trio.lowlevel.add_instrument(steps)
    try:
        async with trio.open_nursery() as nursery:
            journal.write_behind(nursery)
            nursery.start_soon(first, name="first")
            nursery.start_soon(second, name="second")
    finally:
        trio.lowlevel.remove_instrument(steps)
    assert woken == {"steps": 1, "at": 2}
    assert [s.session_id for s in await store.list_sessions()] == ["s1", "s2"]


async def test_a_failed_batch_wakes_the_commits_waiting_for_the_next_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """When the batch on its way fails, a task waiting for the batch after it (which is
    then never sent) gets the store's error instead of waiting for ever."""

    class FailingStore(MemoryStore):
        async def write_batch(self, writes: Sequence[StoreWrite]) -> None:
            await trio.sleep(1)
            raise StoreError("the disk is full")

    journal = Journal(
        FailingStore(), "r1", backend="simulated", describer=SessionDescriber(git=False)
    )
    errors: dict[str, str] = {}

    async def commit_after(delay: float, session_id: str) -> None:
        await trio.sleep(delay)
        await journal.save_session(SessionRecord(session_id, "simulated"))
        try:
            await journal.commit()
        except StoreError as exc:
            errors[session_id] = str(exc)

    with trio.fail_after(30):  # a waiter never woken would hang here
        try:
            async with trio.open_nursery() as nursery:
                journal.write_behind(nursery)
                nursery.start_soon(commit_after, 0, "s1")
                nursery.start_soon(commit_after, 0.25, "s2")
        except BaseExceptionGroup as group:  # the journal's flush task may meet it too
            assert group.split(StoreError)[1] is None
    assert errors == {"s1": "the disk is full", "s2": "the disk is full"}


async def test_an_agent_waiting_for_its_commit_gives_its_slot_to_the_next(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """An agent that succeeded and waits only for its final records to be durable frees
    its window slot: with each commit taking 1 s and max_parallel 2, the third and
    fourth agents start before the first two are durable (a post-agent hook runs once
    they are), and the window's peak stays 2. A failing agent keeps its slot (fail_fast
    acts first: tests/core/test_failures.py)."""
    started: dict[str, float] = {}
    durable: dict[str, float] = {}

    class SlowStore(MemoryStore):
        async def write_batch(self, writes: Sequence[StoreWrite]) -> None:
            await trio.sleep(1)
            await super().write_batch(writes)

    async def note_start(request: AgentRequest) -> None:
        started[request.agent_id] = trio.current_time()

    async def note_durable(result: AgentResult) -> None:
        durable[result.agent_id] = trio.current_time()

    plan = _plan(tmp_path / "unused.db", 4, max_parallel=2)  # the store is SlowStore
    store = SlowStore()
    result, _, _ = await run_plan(plan, store, pre_agent=[note_start], post_agent=[note_durable])
    assert result.succeeded and result.metrics.peak_concurrency == 2
    assert started["a02"] < durable["a00"] and started["a03"] < durable["a01"], (
        started,
        durable,
    )


async def test_at_most_max_parallel_agents_settle_and_a_batch_never_does() -> None:
    """Settling agents are bounded by max_parallel: a third keeps its window slot. In
    batch mode nothing settles (a batch waits for its slowest agent's records)."""
    from swarm.engine._scheduling import Scheduler

    window = Scheduler({}, {}, max_parallel=2, cooldown_s=1.0, mode="window")
    tokens = [object() for _ in range(4)]
    for token in tokens:
        await window.limiter.acquire_on_behalf_of(token)
        window.started()
        window.settle(token)
    # all four started: each of the first two settled, freeing a slot for the next
    assert (window.running, window.in_window, window.peak) == (4, 2, 2)
    assert window.settling.borrowed_tokens == 2 and window.limiter.borrowed_tokens == 2
    for token in tokens:
        window.finished(token)
    assert window.settling.borrowed_tokens == 0 and window.limiter.borrowed_tokens == 0
    batch = Scheduler({}, {}, max_parallel=2, cooldown_s=1.0, mode="batch")
    token = object()
    await batch.limiter.acquire_on_behalf_of(token)
    batch.started()
    batch.settle(token)
    assert batch.in_window == 1 and batch.limiter.borrowed_tokens == 1


async def test_an_agent_record_replaced_in_the_same_batch_is_not_written_twice() -> None:
    """An agent's record staged twice before a batch takes them (a zero-latency agent
    going to running, then ending) reaches the store once, as its later state; every
    other write keeps its place, and a record staged in a later batch is written."""
    batches: list[list[tuple[str, str]]] = []

    class RecordingStore(MemoryStore):
        async def write_batch(self, writes: Sequence[StoreWrite]) -> None:
            batches.append(
                [
                    (w.kind, f"{w.args[1][0].agent_id}:{w.args[1][0].status.value}")
                    if w.kind == "save_agents"
                    else (w.kind, "")
                    for w in writes
                ]
            )
            await super().write_batch(writes)

    store = RecordingStore()
    journal = Journal(store, "r1", backend="simulated", describer=SessionDescriber(git=False))
    async with trio.open_nursery() as nursery:
        journal.write_behind(nursery)
        await journal.save_agent(AgentResult("a", status=AgentStatus.RUNNING))
        await journal.save_agent(AgentResult("b", status=AgentStatus.RUNNING))
        await journal.save_session(SessionRecord("s1", "simulated", agent_id="a"))
        await journal.save_agent(AgentResult("a", status=AgentStatus.SUCCEEDED))
        await journal.commit()
        await journal.save_agent(AgentResult("b", status=AgentStatus.FAILED))
        await journal.commit()
        journal.write_behind(None)
    assert batches == [
        [("save_agents", "b:running"), ("save_session", ""), ("save_agents", "a:succeeded")],
        [("save_agents", "b:failed")],
    ]
    stored = {a.agent_id: a.status for a in await store.list_agents("r1")}
    assert stored == {"a": AgentStatus.SUCCEEDED, "b": AgentStatus.FAILED}


def test_only_a_single_agent_record_with_a_later_one_of_the_same_run_is_dropped() -> None:
    """Records of other runs, other agents and several agents at once (the queued
    records) are kept; a batch with nothing replaced is returned as it is."""

    def agents(run: str, *ids: str) -> StoreWrite:
        return StoreWrite("save_agents", (run, [AgentResult(i) for i in ids]))

    kept = [agents("r1", "a", "b"), agents("r1", "a"), agents("r2", "a"), agents("r1", "b")]
    assert without_superseded(kept) is kept
    batch = [*kept, agents("r1", "a"), agents("r2", "b")]
    assert without_superseded(batch) == [kept[0], kept[2], kept[3], batch[4], batch[5]]


async def test_a_run_starts_with_its_record_and_every_agents_in_one_batch() -> None:
    """The run record and the queued agents' records go in one batch (one transaction,
    one fsync); the journal keeps the run record it wrote. A store that takes no batches
    gets the two writes one after the other."""
    batches: list[list[str]] = []

    class RecordingStore(MemoryStore):
        async def write_batch(self, writes: Sequence[StoreWrite]) -> None:
            batches.append([w.kind for w in writes])
            await super().write_batch(writes)

    class OneByOne(DelegatingStore):  # a wrapper that changes a write: no batches
        async def save_run(self, run: RunRecord) -> None:
            await super().save_run(run)

    for store in (RecordingStore(), OneByOne(RecordingStore())):
        journal = Journal(store, "r1", backend="simulated", describer=SessionDescriber(git=False))
        run = RunRecord(run_id="r1", plan={"name": "p"})
        await journal.save_start(run, [AgentResult("a"), AgentResult("b")])
        assert (await journal.run_record()).plan == {"name": "p"}
        assert [a.agent_id for a in await store.list_agents("r1")] == ["a", "b"]
        assert (await store.get_run("r1")) is not None
    assert batches == [["save_run", "save_agents"]]


async def test_writes_staged_while_a_batch_is_on_its_way_start_no_flush_task(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The sender of the batch on its way sends what is staged meanwhile, as one batch,
    once it is back: staging then starts no task of its own (a 10,000-agent run started
    thousands that found a batch on its way and ended)."""
    batches: list[list[str]] = []

    class SlowStore(MemoryStore):
        async def write_batch(self, writes: Sequence[StoreWrite]) -> None:
            batches.append([w.args[0].session_id for w in writes])
            await trio.sleep(1)
            await super().write_batch(writes)

    class Spawns(trio.abc.Instrument):
        flushes = 0

        def task_spawned(self, task: trio.lowlevel.Task) -> None:
            if task.name == "journal:flush":
                Spawns.flushes += 1

    store = SlowStore()
    journal = Journal(store, "r1", backend="simulated", describer=SessionDescriber(git=False))
    trio.lowlevel.add_instrument(spawns := Spawns())
    try:
        async with trio.open_nursery() as nursery:
            journal.write_behind(nursery)
            await journal.save_session(SessionRecord("s1", "simulated"))
            await trio.sleep(0.1)  # its batch is on its way
            for session_id in ("s2", "s3", "s4"):
                await journal.save_session(SessionRecord(session_id, "simulated"))
                await trio.sleep(0.1)
            await journal.commit()
            journal.write_behind(None)
    finally:
        trio.lowlevel.remove_instrument(spawns)
    assert batches == [["s1"], ["s2", "s3", "s4"]]
    assert Spawns.flushes == 1
    assert [s.session_id for s in await store.list_sessions()] == ["s1", "s2", "s3", "s4"]
