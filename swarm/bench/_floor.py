"""The platform's share of the overhead workload: the least a trio program must do to
persist what swarm persists for a zero-latency agent, and nothing else.

``max_parallel`` trio tasks take agents one after another. For each, six rows go into
swarm's own schema (the record going to running, the session, two messages, the final
checkpoint, the final record), each a small JSON document encoded with orjson and
checksummed as the store does it. The rows are staged; one flusher task writes what is
staged in one transaction (WAL, ``synchronous=FULL``) on a worker thread, and each
agent waits for the commit of its final row, as an agent of a run does before it counts
as finished. No redaction, no events, no checkpoints logic, no scheduler, no records:
the rate is what trio, sqlite3 and the disk allow on this machine, the ceiling of any
executor that keeps the same promise.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import trio

from ..stores import SQLiteStore

_Row = tuple[str, tuple[Any, ...]]

_AGENT = (
    "INSERT INTO agents (run_id, agent_id, data, checksum) VALUES (?,?,?,?)"
    " ON CONFLICT (run_id, agent_id) DO UPDATE SET data = excluded.data,"
    " checksum = excluded.checksum"
)
_SESSION = (
    "INSERT INTO sessions (session_id, run_id, parent_session_id, created_at, data, checksum)"
    " VALUES (?,?,?,?,?,?)"
)
_MESSAGE = "INSERT INTO messages (session_id, seq, uuid, data, checksum) VALUES (?,?,?,?,?)"
_CHECKPOINT = (
    "INSERT INTO checkpoints (checkpoint_id, session_id, created_at, data, checksum)"
    " VALUES (?,?,?,?,?)"
)


def _document(value: dict[str, Any]) -> tuple[str, str]:
    """JSON text and its checksum, as the store computes them (blake2b, 8 bytes)."""
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text, hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _new_id() -> str:
    return os.urandom(16).hex()


async def measure_floor(path: Path, agents: int, max_parallel: int) -> dict[str, float]:
    """Persist ``agents`` agents' six rows into a new store file at ``path``; the wall and
    CPU seconds of it and the number of commits."""
    await (await SQLiteStore.open(path)).aclose()  # swarm's schema, made as a run makes it
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    run_id = "bench-floor"
    conn.executemany(
        "INSERT INTO agents (run_id, agent_id, data, checksum) VALUES (?,?,?,?)",
        [(run_id, f"a{n:05d}", *_document({"status": "pending"})) for n in range(agents)],
    )
    staged: list[_Row] = []
    waiting: list[trio.Event] = []
    wake = trio.Event()
    commits = 0

    def apply(rows: list[_Row]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        for sql, params in rows:
            conn.execute(sql, params)
        conn.execute("COMMIT")

    async def flusher() -> None:
        nonlocal wake, commits
        while True:
            await wake.wait()
            wake = trio.Event()
            rows, staged[:] = staged[:], []
            done, waiting[:] = waiting[:], []
            await trio.to_thread.run_sync(apply, rows)
            commits += 1
            for event in done:
                event.set()

    def stage(sql: str, *params: Any) -> None:
        staged.append((sql, params))
        wake.set()

    async def one_agent(n: int) -> None:
        agent_id, session_id, now = f"a{n:05d}", _new_id(), time.time()
        record = {"agent_id": agent_id, "status": "running", "started_at": now}
        stage(_AGENT, run_id, agent_id, *_document(record))
        session = {"session_id": session_id, "agent_id": agent_id, "metadata": {"cwd": "/w"}}
        stage(_SESSION, session_id, run_id, "base", str(now), *_document(session))
        user, reply, final = _new_id(), _new_id(), _new_id()
        stage(_MESSAGE, session_id, 0, user, *_document({"uuid": user, "content": f"task {n}"}))
        await trio.lowlevel.checkpoint()  # the backend's turn
        answer = {"uuid": reply, "parent_uuid": user, "content": "[simulated]", "usage": {}}
        stage(_MESSAGE, session_id, 1, reply, *_document(answer))
        checkpoint = {"checkpoint_id": final, "message_uuid": reply, "kind": "final"}
        stage(_CHECKPOINT, final, session_id, str(now), *_document(checkpoint))
        stage(_AGENT, run_id, agent_id, *_document({**record, "status": "succeeded"}))
        durable = trio.Event()
        waiting.append(durable)
        wake.set()
        await durable.wait()

    numbers = iter(range(agents))

    async def worker() -> None:
        for n in numbers:
            await one_agent(n)

    wall, cpu = time.perf_counter(), time.process_time()
    try:
        async with trio.open_nursery() as outer:
            outer.start_soon(flusher)
            async with trio.open_nursery() as nursery:
                for _ in range(max_parallel):
                    nursery.start_soon(worker)
            outer.cancel_scope.cancel()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        (messages,) = conn.execute("SELECT COUNT(*) FROM messages").fetchone()
    finally:
        conn.close()
    return {"wall_s": wall, "cpu_s": cpu, "commits": commits, "messages": messages}
