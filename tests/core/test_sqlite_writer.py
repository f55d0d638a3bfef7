"""The SQLite store's writer process: group commits applied by a second interpreter, with
the same results, errors and durability as the thread path, and nothing lost when the
process dies."""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from structlog.testing import capture_logs

from swarm.engine._gc import spaced_collections
from swarm.errors import StoreError
from swarm.plan import Plan
from swarm.records import AgentResult, RunRecord
from swarm.stores import SQLiteStore, _sqlite_db
from swarm.testing import run_store_conformance

from .helpers import run_plan


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)  # another connection: it sees committed data only
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_sqlite_store_conforms_with_its_writer_process(tmp_path: Path) -> None:
    """Every store contract holds when the commits are applied in the writer process."""
    counter = iter(range(1000))

    async def make() -> SQLiteStore:
        return await SQLiteStore.open(tmp_path / f"store{next(counter)}.db", writer="process")

    await run_store_conformance(make)


async def test_a_run_commits_in_another_process_that_ends_with_the_store(
    tmp_path: Path,
) -> None:
    """With ``?writer=process`` a run's commits are applied by one other live process (its
    hooks finding the final records there: test_journal_batching), and that process is
    gone once the store is closed."""
    db = tmp_path / "swarm.db"
    plan = Plan.model_validate(
        {
            "base": {"prompt": "shared"},
            "agents": [{"id": f"a{i}", "prompt": f"task {i}"} for i in range(12)],
            "execution": {"max_parallel": 4},
            "backend": {"name": "simulated", "simulated": {"latency_s": 0, "jitter": 0}},
            "store": {"url": f"sqlite:///{db}?writer=process"},
        }
    )
    store = await SQLiteStore.open(db, writer="process")
    pids: set[int | None] = set()

    async def after(result: AgentResult) -> None:
        pids.add(store.tables._db.writer_pid)

    try:
        result, _, _ = await run_plan(plan, store, post_agent=[after])
    finally:
        await store.aclose()
    assert result.status.value == "succeeded"
    (pid,) = pids
    assert pid is not None and pid != os.getpid()
    assert not _alive(pid)
    assert _rows(db, "SELECT COUNT(*) FROM agents") == [(12,)]


async def test_auto_moves_to_the_process_once_the_store_took_enough_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``auto`` (the default) applies commits on the thread until the store has taken
    AUTO_WRITER_AFTER writes, then in a writer process; the file holds every write."""
    monkeypatch.setattr(_sqlite_db, "AUTO_WRITER_AFTER", 20)
    store = await SQLiteStore.open(tmp_path / "s.db")
    db = store.tables._db
    try:
        for i in range(19):
            await store.save_run(RunRecord(run_id=f"r{i:02d}", plan={}))
        assert db.writer_pid is None
        await store.save_run(RunRecord(run_id="r19", plan={}))  # the 20th write, on the thread
        await store.save_run(RunRecord(run_id="r20", plan={}))
        pid = db.writer_pid
        assert pid is not None and _alive(pid)
        assert len(await store.list_runs()) == 21
    finally:
        await store.aclose()
    assert not _alive(pid)


@asynccontextmanager
async def _store_and_its_writer(path: Path) -> AsyncIterator[tuple[SQLiteStore, int]]:
    """A store with ``writer="process"`` that took one write (run "before"), and the pid
    of the writer process that applied it; closed on exit."""
    store = await SQLiteStore.open(path, writer="process")
    try:
        await store.save_run(RunRecord(run_id="before", plan={}))
        pid = store.tables._db.writer_pid
        assert pid is not None
        yield store, pid
    finally:
        await store.aclose()


async def test_a_killed_writer_process_loses_no_write(tmp_path: Path) -> None:
    """kill -9 of the writer process: the next batch finds it gone, is applied on the
    thread path instead (a warning says so), and every write is in the file."""
    async with _store_and_its_writer(tmp_path / "s.db") as (store, pid):
        db = store.tables._db
        os.kill(pid, signal.SIGKILL)
        with capture_logs() as logs:
            async with trio.open_nursery() as nursery:
                for i in range(5):
                    nursery.start_soon(store.save_run, RunRecord(run_id=f"after{i}", plan={}))
        assert db.writer_pid is None
        assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["store.writer_gone"]
        assert "exited with code -9" in logs[0]["reason"]
        await store.save_run(RunRecord(run_id="later", plan={}))
        runs = {r.run_id for r in await store.list_runs()}
    assert runs == {"before", "later", *(f"after{i}" for i in range(5))}


async def test_ctrl_c_does_not_cut_a_batch_short(tmp_path: Path) -> None:
    """SIGINT (Ctrl-C reaches the whole process group) leaves the writer process running:
    the run's process ends it, by closing its stdin after the final records."""
    async with _store_and_its_writer(tmp_path / "s.db") as (store, pid):
        os.kill(pid, signal.SIGINT)
        await trio.sleep(0.2)  # a real process's signal delivery: no virtual time here
        await store.save_run(RunRecord(run_id="after", plan={}))
        assert store.tables._db.writer_pid == pid and _alive(pid)
    assert not _alive(pid)


@pytest.mark.parametrize("writer", ["thread", "process"])
async def test_a_failing_write_fails_alone_with_the_same_error_on_both_paths(
    tmp_path: Path, writer: str
) -> None:
    """A write that breaks a constraint fails with its own StoreError, worded the same
    whichever path applied it, and the writes of its batch around it are committed."""
    path = tmp_path / "s.db"
    store = await SQLiteStore.open(path, writer=writer)
    db = store.tables._db
    good = "INSERT INTO leases (name, data, checksum) VALUES (?, '{}', '')"
    bad = "INSERT INTO runs (run_id, created_at, data, checksum) VALUES (?, NULL, '{}', '')"
    try:
        await store.save_run(RunRecord(run_id="first", plan={}))  # starts the process
        with pytest.raises(StoreError) as caught:
            await db.write_many(
                [((good, ("one",), False),), ((bad, ("x",), False),), ((good, ("two",), False),)]
            )
        assert (db.writer_pid is not None) == (writer == "process")
    finally:
        await store.aclose()
    assert str(caught.value) == (
        f"{path}: write failed: NOT NULL constraint failed: runs.created_at"
    )
    assert _rows(path, "SELECT name FROM leases ORDER BY name") == [("one",), ("two",)]


@pytest.mark.parametrize("writer", ["thread", "process"])
async def test_a_full_store_fails_the_write_with_what_it_means(tmp_path: Path, writer: str) -> None:
    """SQLITE_FULL (the store's size cap) reaches the caller worded the same whichever
    path applied the write, with what it means, and the writes before it stay."""
    path = tmp_path / "s.db"
    store = await SQLiteStore.open(path, writer=writer, max_size_mb=0.3)
    big = "x" * 30_000
    written = 0
    try:
        with pytest.raises(StoreError) as caught:
            for i in range(10):
                await store.save_run(RunRecord(run_id=f"r{i}", plan={"blob": big}))
                written += 1
        assert (store.tables._db.writer_pid is not None) == (writer == "process")
        assert len(await store.list_runs()) == written > 0
    finally:
        await store.aclose()
    assert str(caught.value) == (
        f"{path}: write failed: database or disk is full "
        "(SQLITE_FULL: the disk (or the store's max_size_mb) is full)"
    )


def test_spaced_collections_raises_the_threshold_and_puts_it_back() -> None:
    """Young collections are spaced out while a run is in the block, nested runs share
    it, the interpreter's setting comes back after the last, and None leaves it alone."""
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with spaced_collections(None):
            assert gc.get_threshold() == (700, 10, 10)
        with spaced_collections(20_000):
            assert gc.get_threshold() == (20_000, 10, 10)
            with spaced_collections(20_000):
                assert gc.get_threshold() == (20_000, 10, 10)
            assert gc.get_threshold() == (20_000, 10, 10)
        assert gc.get_threshold() == (700, 10, 10)
        gc.set_threshold(50_000, 5, 5)  # a process that tuned it higher keeps its own
        with spaced_collections(20_000):
            assert gc.get_threshold() == (50_000, 5, 5)
        assert gc.get_threshold() == (50_000, 5, 5)
    finally:
        gc.set_threshold(*before)
