"""The SQLite store: the embedded default (``sessions/swarm.db``, WAL).

Every record is a JSON document with a checksum, verified on read
(:mod:`swarm.stores._rows`, the row format the PostgreSQL store shares). The file, its
group commit and its reads are :class:`~swarm.stores._sqlite_db.SQLiteDatabase`;
:class:`SQLiteTables` maps records to its tables, and :class:`SQLiteStore`, the public
store, is those tables behind the redacting wrapper (:mod:`swarm.stores._wrappers`):
no secret reaches the file.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._jsoncodec import document_text
from ..errors import IntegrityError, NotFoundError
from ..records import AgentResult, Checkpoint, Lease, Message, RunRecord, SessionRecord
from ._protocol import StoreWrite, TranscriptEntry
from ._rows import (
    TranscriptReads,
    encode_record,
    load_messages,
    load_record,
    session_row,
)
from ._sqlite_apply import Statements
from ._sqlite_db import SCHEMA_VERSION, CommitStats, SQLiteDatabase
from ._wrappers import RedactingStore

__all__ = ["SCHEMA", "SCHEMA_VERSION", "SQLiteStore", "SQLiteTables"]

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
CREATE TABLE IF NOT EXISTS transcript_entries (
    project_key TEXT NOT NULL,
    session_id TEXT NOT NULL,
    subpath TEXT NOT NULL,
    seq INTEGER NOT NULL,
    uuid TEXT,
    mtime_ms INTEGER NOT NULL,
    data TEXT NOT NULL,
    checksum TEXT NOT NULL,
    PRIMARY KEY (project_key, session_id, subpath, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS transcript_entries_by_uuid
    ON transcript_entries (project_key, session_id, subpath, uuid) WHERE uuid IS NOT NULL;
CREATE INDEX IF NOT EXISTS transcript_entries_by_session ON transcript_entries (session_id);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    checksum TEXT NOT NULL
);
"""


# The statements of the writes the journal stages: SQL as data (_sqlite_apply.Statements),
# so the writer process can apply them. Each is idempotent: applied twice, one result.
# Each hashes its document in SQL (swarm_checksum, _sqlite_apply.configure): in the
# writer process, not on the run's thread.
_SAVE_RUN = (
    "INSERT OR REPLACE INTO runs (run_id, created_at, data, checksum)"
    " VALUES (?1, ?2, ?3, swarm_checksum(?3))"
)
_SAVE_AGENT = (
    "INSERT INTO agents (run_id, agent_id, data, checksum)"
    " VALUES (?1, ?2, ?3, swarm_checksum(?3))"
    " ON CONFLICT (run_id, agent_id) DO UPDATE"
    " SET data = excluded.data, checksum = excluded.checksum"
)
_SAVE_SESSION = (
    "INSERT OR REPLACE INTO sessions"
    " (session_id, run_id, parent_session_id, created_at, data, checksum)"
    " VALUES (?1, ?2, ?3, ?4, ?5, swarm_checksum(?5))"
)
# One statement a message: its seq is the session's next, read in the same statement
# (the batch's transaction holds the write lock); a uuid already there is left alone.
_APPEND_MESSAGE = (
    "INSERT OR IGNORE INTO messages (session_id, seq, uuid, data, checksum)"
    " SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, swarm_checksum(?3) FROM messages"
    " WHERE session_id = ?1"
)
_SAVE_CHECKPOINT = (
    "INSERT OR REPLACE INTO checkpoints"
    " (checkpoint_id, session_id, created_at, data, checksum)"
    " VALUES (?1, ?2, ?3, ?4, swarm_checksum(?4))"
)


class SQLiteTables(TranscriptReads):
    """The tables of one SQLite store file, safe for many processes; records are stored
    as given (use :class:`SQLiteStore`, which redacts them first)."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        max_size_mb: float | None = None,
        read_only: bool = False,
        writer: str = "auto",
    ) -> None:
        self._db = SQLiteDatabase(
            path,
            synchronous=synchronous,
            max_size_mb=max_size_mb,
            read_only=read_only,
            writer=writer,
        )
        self._write = self._db.write
        self._read = self._db.read

    @property
    def path(self) -> Path:
        return self._db.path

    @property
    def backup_taken(self) -> Path | None:
        """The backup made before this open migrated an older file, if it did."""
        return self._db.backup_taken

    @property
    def commit_stats(self) -> CommitStats:
        """What this store's group commit did since it was opened (its commits, writes and
        their time): what ``swarm bench`` reports of the store's share."""
        return self._db.stats

    async def open(self) -> None:
        """Open (creating it 0600 unless read-only) and migrate the file."""
        await self._db.open(SCHEMA)

    async def aclose(self) -> None:
        await self._db.aclose()

    async def _rows(self, sql: str, args: tuple[str, ...]) -> list[tuple[Any, ...]]:
        return await self._read(lambda c: c.execute(sql, args).fetchall())

    async def write_batch(self, writes: Sequence[StoreWrite]) -> None:
        # Every write is encoded here, on the caller's thread, and queued at once (before
        # the first await): batches reach the file in the order of the calls.
        await self._db.write_many([getattr(self, "_" + w.kind)(*w.args) for w in writes])

    # --- runs ------------------------------------------------------------------

    async def save_run(self, run: RunRecord) -> None:
        await self._write(self._save_run(run))

    def _save_run(self, run: RunRecord) -> Statements:
        return ((_SAVE_RUN, (run.run_id, run.created_at, document_text(run)), False),)

    async def get_run(self, run_id: str) -> RunRecord | None:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT run_id, data, checksum FROM runs WHERE run_id = ?", (run_id,)
            ).fetchall()
        )
        return load_record(RunRecord.from_dict, "runs", *rows[0]) if rows else None

    async def list_runs(self, limit: int | None = None) -> list[RunRecord]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT run_id, data, checksum FROM runs ORDER BY created_at DESC, run_id DESC"
                " LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        )
        return [load_record(RunRecord.from_dict, "runs", *row) for row in rows]

    async def delete_run(self, run_id: str) -> None:
        sessions = "SELECT session_id FROM sessions WHERE run_id = ?"
        statements = (
            f"DELETE FROM messages WHERE session_id IN ({sessions})",
            f"DELETE FROM checkpoints WHERE session_id IN ({sessions})",
            # The CLI's mirrored transcripts of those sessions go too: gc keeps no copy.
            f"DELETE FROM transcript_entries WHERE session_id IN ({sessions})",
            "DELETE FROM sessions WHERE run_id = ?",
            "DELETE FROM agents WHERE run_id = ?",
            "DELETE FROM runs WHERE run_id = ?",
        )
        await self._write(tuple((sql, (run_id,), False) for sql in statements))

    # --- agents ----------------------------------------------------------------

    async def save_agents(self, run_id: str, agents: Sequence[AgentResult]) -> None:
        await self._write(self._save_agents(run_id, agents))

    def _save_agents(self, run_id: str, agents: Sequence[AgentResult]) -> Statements:
        if len(agents) == 1:
            agent = agents[0]
            return ((_SAVE_AGENT, (run_id, agent.agent_id, document_text(agent)), False),)
        return ((_SAVE_AGENT, [(run_id, a.agent_id, document_text(a)) for a in agents], True),)

    async def list_agents(self, run_id: str) -> list[AgentResult]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT agent_id, data, checksum FROM agents WHERE run_id = ? ORDER BY rowid",
                (run_id,),
            ).fetchall()
        )
        return [load_record(AgentResult.from_dict, "agents", *row) for row in rows]

    # --- sessions and messages --------------------------------------------------

    async def save_session(self, session: SessionRecord) -> None:
        await self._write(self._save_session(session))

    def _save_session(self, session: SessionRecord) -> Statements:
        return ((_SAVE_SESSION, session_row(session), False),)

    async def get_session(self, session_id: str) -> SessionRecord | None:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT session_id, data, checksum FROM sessions WHERE session_id = ?",
                (session_id,),
            ).fetchall()
        )
        return load_record(SessionRecord.from_dict, "sessions", *rows[0]) if rows else None

    async def list_sessions(self, run_id: str | None = None) -> list[SessionRecord]:
        query = "SELECT session_id, data, checksum FROM sessions"
        args: tuple[str, ...] = ()
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", (run_id,)
        rows = await self._read(
            lambda c: c.execute(query + " ORDER BY created_at, rowid", args).fetchall()
        )
        return [load_record(SessionRecord.from_dict, "sessions", *row) for row in rows]

    async def append_messages(self, session_id: str, messages: Sequence[Message]) -> None:
        await self._write(self._append_messages(session_id, messages))

    def _append_messages(self, session_id: str, messages: Sequence[Message]) -> Statements:
        rows = [(session_id, m.uuid, document_text(m)) for m in messages]
        return ((_APPEND_MESSAGE, rows, True),)

    async def get_messages(self, session_id: str) -> list[Message]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT uuid, data, checksum FROM messages WHERE session_id = ? ORDER BY seq",
                (session_id,),
            ).fetchall()
        )
        return load_messages(rows)

    async def get_message_range(
        self, session_id: str, *, after: str | None = None, upto: str | None = None
    ) -> list[Message]:
        """Part of a session, found through the (session_id, uuid) index; see MessageRangeReader."""

        def seq_of(c: sqlite3.Connection, uuid: str) -> int:
            row = c.execute(
                "SELECT seq FROM messages WHERE session_id = ? AND uuid = ?", (session_id, uuid)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"message {uuid} is not a message of session {session_id}")
            return int(row[0])

        def read(c: sqlite3.Connection) -> list[tuple[str, str, str]]:
            low = seq_of(c, after) if after is not None else 0
            high = seq_of(c, upto) if upto is not None else 2**62
            return c.execute(
                "SELECT uuid, data, checksum FROM messages"
                " WHERE session_id = ? AND seq > ? AND seq <= ? ORDER BY seq",
                (session_id, low, high),
            ).fetchall()

        rows = await self._read(read)
        return load_messages(rows)

    # --- checkpoints -------------------------------------------------------------

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        await self._write(self._save_checkpoint(checkpoint))

    def _save_checkpoint(self, checkpoint: Checkpoint) -> Statements:
        row = (
            checkpoint.checkpoint_id,
            checkpoint.session_id,
            checkpoint.created_at,
            document_text(checkpoint),
        )
        return ((_SAVE_CHECKPOINT, row, False),)

    async def list_checkpoints(self, session_id: str | None = None) -> list[Checkpoint]:
        query = "SELECT checkpoint_id, data, checksum FROM checkpoints"
        args: tuple[str, ...] = ()
        if session_id is not None:
            query, args = query + " WHERE session_id = ?", (session_id,)
        rows = await self._read(
            lambda c: c.execute(query + " ORDER BY created_at, rowid", args).fetchall()
        )
        return [load_record(Checkpoint.from_dict, "checkpoints", *row) for row in rows]

    async def delete_checkpoints(self, checkpoint_ids: Sequence[str]) -> None:
        await self._write(self._delete_checkpoints(checkpoint_ids))

    def _delete_checkpoints(self, checkpoint_ids: Sequence[str]) -> Statements:
        ids = [(i,) for i in checkpoint_ids]
        return (("DELETE FROM checkpoints WHERE checkpoint_id = ?", ids, True),)

    # --- leases ----------------------------------------------------------------

    async def acquire_lease(
        self, name: str, owner: str, ttl_s: float, *, now: float, steal_from: str | None = None
    ) -> Lease:
        # Read and write in one BEGIN IMMEDIATE transaction: a compare-and-set that
        # two processes can never both win.
        found: list[Lease] = []
        failed: list[IntegrityError] = []

        def take(c: sqlite3.Connection) -> None:
            row = c.execute(
                "SELECT name, data, checksum FROM leases WHERE name = ?", (name,)
            ).fetchone()
            try:
                current = load_record(Lease.from_dict, "leases", *row) if row else None
            except IntegrityError as exc:
                failed.append(exc)
                return
            if current is None or current.expired(now) or current.owner in (owner, steal_from):
                kept_since = current is not None and current.owner == owner
                acquired_at = current.acquired_at if current is not None and kept_since else now
                current = Lease(name, owner, acquired_at, now + ttl_s)
                c.execute(
                    "INSERT OR REPLACE INTO leases (name, data, checksum) VALUES (?,?,?)",
                    (name, *encode_record(current.to_dict())),
                )
            found.append(current)

        await self._write(take)
        if failed:
            raise failed[0]
        return found[0]

    async def release_lease(self, name: str, owner: str) -> None:
        def release(c: sqlite3.Connection) -> None:
            row = c.execute("SELECT data FROM leases WHERE name = ?", (name,)).fetchone()
            if row is not None and json.loads(row[0]).get("owner") == owner:
                c.execute("DELETE FROM leases WHERE name = ?", (name,))

        await self._write(release)

    async def get_lease(self, name: str) -> Lease | None:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT name, data, checksum FROM leases WHERE name = ?", (name,)
            ).fetchall()
        )
        return load_record(Lease.from_dict, "leases", *rows[0]) if rows else None

    # --- raw transcripts (swarm.stores._protocol.TranscriptStore) ---------------

    async def append_transcript(
        self, project_key: str, session_id: str, subpath: str, entries: Sequence[TranscriptEntry]
    ) -> None:
        if not entries:
            return
        rows = [
            (e.get("uuid") if isinstance(e.get("uuid"), str) else None, *encode_record(e))
            for e in entries
        ]
        key = (project_key, session_id, subpath)

        def append(c: sqlite3.Connection) -> None:
            (last, mtime) = c.execute(
                "SELECT COALESCE(MAX(seq), 0), COALESCE(MAX(mtime_ms), 0) FROM transcript_entries"
                " WHERE project_key = ? AND session_id = ? AND subpath = ?",
                key,
            ).fetchone()
            # Strictly increasing per transcript, so a later write never looks older.
            now = max(int(time.time() * 1000), mtime + 1)
            for offset, (uuid, data, digest) in enumerate(rows, start=1):
                c.execute(
                    "INSERT OR IGNORE INTO transcript_entries"
                    " (project_key, session_id, subpath, seq, uuid, mtime_ms, data, checksum)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (*key, last + offset, uuid, now, data, digest),
                )

        await self._write(append)

    async def delete_transcript(
        self, project_key: str, session_id: str, subpath: str | None = None
    ) -> None:
        query = "DELETE FROM transcript_entries WHERE project_key = ? AND session_id = ?"
        args: tuple[str, ...] = (project_key, session_id)
        if subpath is not None:
            query, args = query + " AND subpath = ?", (*args, subpath)
        await self._write(((query, args, False),))


class SQLiteStore(RedactingStore):
    """A :class:`~swarm.stores.Store` in one SQLite file, safe for many processes; secrets
    are redacted before any record reaches the file."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        max_size_mb: float | None = None,
        read_only: bool = False,
        writer: str = "auto",
    ) -> None:
        self.tables = SQLiteTables(
            path,
            synchronous=synchronous,
            max_size_mb=max_size_mb,
            read_only=read_only,
            writer=writer,
        )
        super().__init__(self.tables)

    @property
    def path(self) -> Path:
        return self.tables.path

    @property
    def backup_taken(self) -> Path | None:
        """The backup made before this open migrated an older file, if it did."""
        return self.tables.backup_taken

    @property
    def commit_stats(self) -> CommitStats:
        """See :attr:`SQLiteTables.commit_stats`."""
        return self.tables.commit_stats

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        max_size_mb: float | None = None,
        read_only: bool = False,
        writer: str = "auto",
    ) -> SQLiteStore:
        """Open (creating it 0600 unless ``read_only``) and migrate a store file;
        ``writer`` says where its commits are applied: ``auto``, ``thread`` or
        ``process`` (see :mod:`swarm.stores._sqlite_writer`)."""
        store = cls(
            path,
            synchronous=synchronous,
            max_size_mb=max_size_mb,
            read_only=read_only,
            writer=writer,
        )
        await store.tables.open()
        return store
