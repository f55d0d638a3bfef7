"""The SQLite store: the embedded default (``sessions/swarm.db``, WAL).

Every record is a JSON document with a checksum, verified on read. Writes go
through group commit: concurrent writers queue their changes and whichever
arrives first applies the whole queue in one transaction on a worker thread,
so many agents pay for one commit. Blocking I/O never runs on the trio thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import trio

from ..errors import IntegrityError, StoreError
from ..records import AgentResult, Checkpoint, Message, RunRecord, SessionRecord

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    data TEXT NOT NULL,
    checksum TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
    run_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    data TEXT NOT NULL,
    checksum TEXT NOT NULL,
    PRIMARY KEY (run_id, agent_id)
);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    run_id TEXT,
    parent_session_id TEXT,
    created_at TEXT NOT NULL,
    data TEXT NOT NULL,
    checksum TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_run ON sessions (run_id);
CREATE INDEX IF NOT EXISTS sessions_by_parent ON sessions (parent_session_id);
CREATE TABLE IF NOT EXISTS messages (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    uuid TEXT NOT NULL,
    data TEXT NOT NULL,
    checksum TEXT NOT NULL,
    PRIMARY KEY (session_id, seq),
    UNIQUE (session_id, uuid)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    checkpoint_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    data TEXT NOT NULL,
    checksum TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_by_session ON checkpoints (session_id, created_at);
"""

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], object]


def checksum(data: str) -> str:
    """A short content hash stored beside every record and checked on read."""
    return hashlib.blake2b(data.encode(), digest_size=8).hexdigest()


def _encode(record: dict[str, Any]) -> tuple[str, str]:
    data = json.dumps(record, separators=(",", ":"), sort_keys=True)
    return data, checksum(data)


def _decode(table: str, key: str, data: str, digest: str) -> dict[str, Any]:
    if checksum(data) != digest:
        raise IntegrityError(
            f"{table} record {key} does not match its checksum; run `swarm store verify`"
        )
    value: dict[str, Any] = json.loads(data)
    return value


class _Pending:
    __slots__ = ("done", "error", "write")

    def __init__(self, write: Write) -> None:
        self.write = write
        self.done = trio.Event()
        self.error: BaseException | None = None


def _create_private(path: Path) -> None:
    """Create the folder 0700 and the database file 0600 before SQLite opens it."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)


class SQLiteStore:
    """A :class:`~swarm.stores.base.Store` in one SQLite file, safe for many processes."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self._synchronous = synchronous.upper()
        self._queue: list[_Pending] = []
        self._flushing = False
        self._idle = trio.Event()
        self._idle.set()
        self._read_lock = threading.Lock()
        self._write_conn: sqlite3.Connection | None = None
        self._read_conn: sqlite3.Connection | None = None

    # --- lifecycle -----------------------------------------------------------

    @classmethod
    async def open(cls, path: str | Path, *, synchronous: str = "FULL") -> SQLiteStore:
        store = cls(path, synchronous=synchronous)
        await trio.to_thread.run_sync(store._open_sync)
        return store

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        return conn

    def _open_sync(self) -> None:
        try:
            _create_private(self.path)
            conn = self._connect()
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
            self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc.strerror}") from None
        self._write_conn = conn
        self._read_conn = self._connect()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise IntegrityError(
                f"{self.path}: schema version {version} is newer than this swarm "
                f"understands ({SCHEMA_VERSION}); upgrade swarm"
            )
        if version == 0:
            # One script, one transaction: a second process opening the same new
            # file waits on the lock, then finds the schema complete.
            try:
                conn.executescript(
                    f"BEGIN IMMEDIATE;{SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};COMMIT;"
                )
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            await self._idle.wait()
            await trio.to_thread.run_sync(self._close_sync)

    def _close_sync(self) -> None:
        for conn in (self._write_conn, self._read_conn):
            if conn is not None:
                conn.close()
        self._write_conn = self._read_conn = None

    # --- group commit --------------------------------------------------------

    async def _write(self, write: Write) -> None:
        pending = _Pending(write)
        self._queue.append(pending)
        if self._flushing:
            await pending.done.wait()
        else:
            self._flushing = True
            self._idle = trio.Event()
            try:
                # The leader must finish the batch it took even if its caller is
                # cancelled: other tasks are waiting on those writes.
                with trio.CancelScope(shield=True):
                    while self._queue:
                        batch, self._queue = self._queue, []
                        await trio.to_thread.run_sync(self._apply, batch)
                        for item in batch:
                            item.done.set()
            finally:
                self._flushing = False
                self._idle.set()
        if pending.error is not None:
            raise pending.error

    def _apply(self, batch: list[_Pending]) -> None:
        conn = self._write_conn
        if conn is None:
            error = StoreError(f"{self.path}: the store is closed")
            for item in batch:
                item.error = error
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            for item in batch:
                conn.execute("SAVEPOINT one")
                try:
                    item.write(conn)
                    conn.execute("RELEASE one")
                except (sqlite3.Error, ValueError, TypeError) as exc:
                    conn.execute("ROLLBACK TO one")
                    conn.execute("RELEASE one")
                    item.error = StoreError(f"{self.path}: write failed: {exc}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error = StoreError(f"{self.path}: commit failed: {exc}")
            for item in batch:
                item.error = item.error or error

    async def _read(self, read: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            with self._read_lock:
                conn = self._read_conn
                if conn is None:
                    raise StoreError(f"{self.path}: the store is closed")
                try:
                    return read(conn)
                except sqlite3.DatabaseError as exc:
                    raise StoreError(f"{self.path}: read failed: {exc}") from None

        return await trio.to_thread.run_sync(run)

    # --- runs ------------------------------------------------------------------

    async def save_run(self, run: RunRecord) -> None:
        data, digest = _encode(run.to_dict())
        await self._write(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO runs (run_id, created_at, data, checksum) VALUES (?,?,?,?)",
                (run.run_id, run.created_at, data, digest),
            )
        )

    async def get_run(self, run_id: str) -> RunRecord | None:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT run_id, data, checksum FROM runs WHERE run_id = ?", (run_id,)
            ).fetchall()
        )
        return RunRecord.from_dict(_decode("runs", *rows[0])) if rows else None

    async def list_runs(self, limit: int | None = None) -> list[RunRecord]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT run_id, data, checksum FROM runs ORDER BY created_at DESC, run_id DESC"
                " LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        )
        return [RunRecord.from_dict(_decode("runs", *row)) for row in rows]

    async def delete_run(self, run_id: str) -> None:
        def delete(c: sqlite3.Connection) -> None:
            sessions = "SELECT session_id FROM sessions WHERE run_id = ?"
            c.execute(f"DELETE FROM messages WHERE session_id IN ({sessions})", (run_id,))
            c.execute(f"DELETE FROM checkpoints WHERE session_id IN ({sessions})", (run_id,))
            c.execute("DELETE FROM sessions WHERE run_id = ?", (run_id,))
            c.execute("DELETE FROM agents WHERE run_id = ?", (run_id,))
            c.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))

        await self._write(delete)

    # --- agents ----------------------------------------------------------------

    async def save_agents(self, run_id: str, agents: Sequence[AgentResult]) -> None:
        rows = [(run_id, a.agent_id, *_encode(a.to_dict())) for a in agents]
        await self._write(
            lambda c: c.executemany(
                "INSERT INTO agents (run_id, agent_id, data, checksum) VALUES (?,?,?,?)"
                " ON CONFLICT (run_id, agent_id) DO UPDATE"
                " SET data = excluded.data, checksum = excluded.checksum",
                rows,
            )
        )

    async def list_agents(self, run_id: str) -> list[AgentResult]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT agent_id, data, checksum FROM agents WHERE run_id = ? ORDER BY rowid",
                (run_id,),
            ).fetchall()
        )
        return [AgentResult.from_dict(_decode("agents", *row)) for row in rows]

    # --- sessions and messages --------------------------------------------------

    async def save_session(self, session: SessionRecord) -> None:
        data, digest = _encode(session.to_dict())
        await self._write(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO sessions"
                " (session_id, run_id, parent_session_id, created_at, data, checksum)"
                " VALUES (?,?,?,?,?,?)",
                (
                    session.session_id,
                    session.run_id,
                    session.parent_session_id,
                    session.created_at,
                    data,
                    digest,
                ),
            )
        )

    async def get_session(self, session_id: str) -> SessionRecord | None:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT session_id, data, checksum FROM sessions WHERE session_id = ?",
                (session_id,),
            ).fetchall()
        )
        return SessionRecord.from_dict(_decode("sessions", *rows[0])) if rows else None

    async def list_sessions(self, run_id: str | None = None) -> list[SessionRecord]:
        query = "SELECT session_id, data, checksum FROM sessions"
        args: tuple[str, ...] = ()
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", (run_id,)
        rows = await self._read(
            lambda c: c.execute(query + " ORDER BY created_at, rowid", args).fetchall()
        )
        return [SessionRecord.from_dict(_decode("sessions", *row)) for row in rows]

    async def append_messages(self, session_id: str, messages: Sequence[Message]) -> None:
        rows = [(m.uuid, *_encode(m.to_dict())) for m in messages]

        def append(c: sqlite3.Connection) -> None:
            (last,) = c.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE session_id = ?", (session_id,)
            ).fetchone()
            for offset, (uuid, data, digest) in enumerate(rows, start=1):
                c.execute(
                    "INSERT OR IGNORE INTO messages (session_id, seq, uuid, data, checksum)"
                    " VALUES (?,?,?,?,?)",
                    (session_id, last + offset, uuid, data, digest),
                )

        await self._write(append)

    async def get_messages(self, session_id: str) -> list[Message]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT uuid, data, checksum FROM messages WHERE session_id = ? ORDER BY seq",
                (session_id,),
            ).fetchall()
        )
        return [Message.from_dict(_decode("messages", *row)) for row in rows]

    # --- checkpoints -------------------------------------------------------------

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        data, digest = _encode(checkpoint.to_dict())
        await self._write(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO checkpoints"
                " (checkpoint_id, session_id, created_at, data, checksum) VALUES (?,?,?,?,?)",
                (
                    checkpoint.checkpoint_id,
                    checkpoint.session_id,
                    checkpoint.created_at,
                    data,
                    digest,
                ),
            )
        )

    async def list_checkpoints(self, session_id: str | None = None) -> list[Checkpoint]:
        query = "SELECT checkpoint_id, data, checksum FROM checkpoints"
        args: tuple[str, ...] = ()
        if session_id is not None:
            query, args = query + " WHERE session_id = ?", (session_id,)
        rows = await self._read(
            lambda c: c.execute(query + " ORDER BY created_at, rowid", args).fetchall()
        )
        return [Checkpoint.from_dict(_decode("checkpoints", *row)) for row in rows]

    async def delete_checkpoints(self, checkpoint_ids: Sequence[str]) -> None:
        ids = [(i,) for i in checkpoint_ids]
        await self._write(
            lambda c: c.executemany("DELETE FROM checkpoints WHERE checkpoint_id = ?", ids)
        )
