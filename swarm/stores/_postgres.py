"""The PostgreSQL store: one database every machine of a cluster shares (``postgresql://``).

The same guarantees as the SQLite store: every record a JSON document
(:mod:`swarm._jsoncodec`) with a checksum verified on read, so a damaged record is
named when it is read; the schema version in ``swarm_schema`` and migrations applied
in one transaction under an advisory lock (:mod:`swarm.stores._postgres_schema`);
writes grouped into transactions (:class:`~swarm.stores._postgres_db.PostgresDatabase`),
a batch of them at once (:meth:`PostgresTables.write_batch`); leases taken with
``SELECT ... FOR UPDATE``. :class:`PostgresTables` maps records to tables and
:class:`PostgresStore` is those tables behind the redacting wrapper, so no secret
reaches the server.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError
from ..records import AgentResult, Checkpoint, Lease, Message, RunRecord, SessionRecord
from ._postgres_db import PostgresDatabase, Write
from ._postgres_schema import PG_MIGRATIONS, PG_SCHEMA, PG_SCHEMA_VERSION, check_readable, migrate
from ._protocol import StoreWrite, TranscriptEntry
from ._rows import (
    TranscriptReads,
    checksum,
    decode_record,
    encode_document,
    encode_record,
    load_messages,
    load_record,
    session_row,
)
from ._urls import StoreURLError, parse_store_url
from ._wrappers import RedactingStore

if TYPE_CHECKING:
    from psycopg import Connection

__all__ = ["PG_MIGRATIONS", "PG_SCHEMA", "PG_SCHEMA_VERSION", "PostgresStore", "PostgresTables"]


def _lock_key(*parts: str) -> str:
    return "\x1f".join(parts)


class PostgresTables(TranscriptReads):
    """The tables of one PostgreSQL database; records are stored as given (use
    :class:`PostgresStore`, which redacts them first)."""

    _INSERT_ORDER = "ord"  # a row's place in append order (no rowid here)

    def __init__(
        self,
        url: str,
        conninfo: str,
        *,
        pool_size: int = 4,
        retry_s: float = 60.0,
        read_only: bool = False,
    ) -> None:
        self.db = PostgresDatabase(
            url, conninfo, pool_size=pool_size, retry_s=retry_s, read_only=read_only
        )
        self.read_only = read_only
        self._write = self.db.write
        self._read = self.db.read

    async def _rows(self, sql: str, args: tuple[str, ...]) -> list[tuple[Any, ...]]:
        query = sql.replace("?", "%s")  # the shared SQL's marks, as psycopg writes them
        return await self._read(lambda c: c.execute(query, args).fetchall())

    async def open(self) -> None:
        where = self.db.where
        if self.read_only:
            await self.db.open(lambda c: check_readable(c, where))
        else:
            await self.db.open(lambda c: migrate(c, where))

    async def aclose(self) -> None:
        await self.db.aclose()

    async def write_batch(self, writes: Sequence[StoreWrite]) -> None:
        # Every write is encoded here, on the caller's thread, and queued at once (before
        # the first await): batches reach the server in the order of the calls.
        await self.db.write_many([getattr(self, "_" + w.kind)(*w.args) for w in writes])

    # --- runs ------------------------------------------------------------------

    async def save_run(self, run: RunRecord) -> None:
        await self._write(self._save_run(run))

    def _save_run(self, run: RunRecord) -> Write:
        data, digest = encode_document(run)
        return lambda c: c.execute(
            "INSERT INTO runs (run_id, created_at, data, checksum) VALUES (%s,%s,%s,%s)"
            " ON CONFLICT (run_id) DO UPDATE SET created_at = excluded.created_at,"
            " data = excluded.data, checksum = excluded.checksum",
            (run.run_id, run.created_at, data, digest),
        )

    async def get_run(self, run_id: str) -> RunRecord | None:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT run_id, data, checksum FROM runs WHERE run_id = %s", (run_id,)
            ).fetchall()
        )
        return load_record(RunRecord.from_dict, "runs", *rows[0]) if rows else None

    async def list_runs(self, limit: int | None = None) -> list[RunRecord]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT run_id, data, checksum FROM runs ORDER BY created_at DESC, run_id DESC"
                " LIMIT %s",
                (limit,),
            ).fetchall()
        )
        return [load_record(RunRecord.from_dict, "runs", *row) for row in rows]

    async def delete_run(self, run_id: str) -> None:
        def delete(c: Connection[Any]) -> None:
            sessions = "SELECT session_id FROM sessions WHERE run_id = %s"
            c.execute(f"DELETE FROM messages WHERE session_id IN ({sessions})", (run_id,))
            c.execute(f"DELETE FROM checkpoints WHERE session_id IN ({sessions})", (run_id,))
            c.execute(
                f"DELETE FROM transcript_entries WHERE session_id IN ({sessions})",
                (run_id,),
            )
            c.execute("DELETE FROM sessions WHERE run_id = %s", (run_id,))
            c.execute("DELETE FROM agents WHERE run_id = %s", (run_id,))
            c.execute("DELETE FROM runs WHERE run_id = %s", (run_id,))

        await self._write(delete)

    # --- agents ----------------------------------------------------------------

    async def save_agents(self, run_id: str, agents: Sequence[AgentResult]) -> None:
        await self._write(self._save_agents(run_id, agents))

    def _save_agents(self, run_id: str, agents: Sequence[AgentResult]) -> Write:
        rows = [(run_id, a.agent_id, *encode_document(a)) for a in agents]

        def save(c: Connection[Any]) -> None:
            with c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO agents (run_id, agent_id, data, checksum) VALUES (%s,%s,%s,%s)"
                    " ON CONFLICT (run_id, agent_id) DO UPDATE"
                    " SET data = excluded.data, checksum = excluded.checksum",
                    rows,
                )

        return save

    async def list_agents(self, run_id: str) -> list[AgentResult]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT agent_id, data, checksum FROM agents WHERE run_id = %s ORDER BY ord",
                (run_id,),
            ).fetchall()
        )
        return [load_record(AgentResult.from_dict, "agents", *row) for row in rows]

    # --- sessions and messages --------------------------------------------------

    async def save_session(self, session: SessionRecord) -> None:
        await self._write(self._save_session(session))

    def _save_session(self, session: SessionRecord) -> Write:
        columns = session_row(session)
        row = (*columns, checksum(columns[-1]))
        return lambda c: c.execute(
            "INSERT INTO sessions"
            " (session_id, run_id, parent_session_id, created_at, data, checksum)"
            " VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (session_id) DO UPDATE SET"
            " run_id = excluded.run_id, parent_session_id = excluded.parent_session_id,"
            " created_at = excluded.created_at, data = excluded.data,"
            " checksum = excluded.checksum",
            row,
        )

    async def get_session(self, session_id: str) -> SessionRecord | None:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT session_id, data, checksum FROM sessions WHERE session_id = %s",
                (session_id,),
            ).fetchall()
        )
        return load_record(SessionRecord.from_dict, "sessions", *rows[0]) if rows else None

    async def list_sessions(self, run_id: str | None = None) -> list[SessionRecord]:
        def read(c: Connection[Any]) -> list[tuple[str, str, str]]:
            if run_id is None:
                return c.execute(
                    "SELECT session_id, data, checksum FROM sessions ORDER BY created_at, ord"
                ).fetchall()
            return c.execute(
                "SELECT session_id, data, checksum FROM sessions WHERE run_id = %s"
                " ORDER BY created_at, ord",
                (run_id,),
            ).fetchall()

        rows = await self._read(read)
        return [load_record(SessionRecord.from_dict, "sessions", *row) for row in rows]

    async def append_messages(self, session_id: str, messages: Sequence[Message]) -> None:
        if messages:
            await self._write(self._append_messages(session_id, messages))

    def _append_messages(self, session_id: str, messages: Sequence[Message]) -> Write:
        rows = [(m.uuid, *encode_document(m)) for m in messages]

        def append(c: Connection[Any]) -> None:
            if not rows:
                return
            # One writer per session at a time (two machines may both hold it after a
            # worker was lost and its agent ran again): the seq below is then unique.
            c.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (session_id,))
            row = c.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE session_id = %s", (session_id,)
            ).fetchone()
            last = int(row[0]) if row is not None else 0
            with c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO messages (session_id, seq, uuid, data, checksum)"
                    " VALUES (%s,%s,%s,%s,%s) ON CONFLICT (session_id, uuid) DO NOTHING",
                    [
                        (session_id, last + offset, uuid, data, digest)
                        for offset, (uuid, data, digest) in enumerate(rows, start=1)
                    ],
                )

        return append

    async def get_messages(self, session_id: str) -> list[Message]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT uuid, data, checksum FROM messages WHERE session_id = %s ORDER BY seq",
                (session_id,),
            ).fetchall()
        )
        return load_messages(rows)

    async def get_message_range(
        self, session_id: str, *, after: str | None = None, upto: str | None = None
    ) -> list[Message]:
        """Part of a session, found through the (session_id, uuid) index; see MessageRangeReader."""

        def seq_of(c: Connection[Any], uuid: str) -> int:
            row = c.execute(
                "SELECT seq FROM messages WHERE session_id = %s AND uuid = %s", (session_id, uuid)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"message {uuid} is not a message of session {session_id}")
            return int(row[0])

        def read(c: Connection[Any]) -> list[tuple[str, str, str]]:
            low = seq_of(c, after) if after is not None else 0
            high = seq_of(c, upto) if upto is not None else 2**62
            return c.execute(
                "SELECT uuid, data, checksum FROM messages"
                " WHERE session_id = %s AND seq > %s AND seq <= %s ORDER BY seq",
                (session_id, low, high),
            ).fetchall()

        return load_messages(await self._read(read))

    # --- checkpoints -------------------------------------------------------------

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        await self._write(self._save_checkpoint(checkpoint))

    def _save_checkpoint(self, checkpoint: Checkpoint) -> Write:
        data, digest = encode_document(checkpoint)
        return lambda c: c.execute(
            "INSERT INTO checkpoints (checkpoint_id, session_id, created_at, data, checksum)"
            " VALUES (%s,%s,%s,%s,%s) ON CONFLICT (checkpoint_id) DO UPDATE SET"
            " session_id = excluded.session_id, created_at = excluded.created_at,"
            " data = excluded.data, checksum = excluded.checksum",
            (
                checkpoint.checkpoint_id,
                checkpoint.session_id,
                checkpoint.created_at,
                data,
                digest,
            ),
        )

    async def list_checkpoints(self, session_id: str | None = None) -> list[Checkpoint]:
        def read(c: Connection[Any]) -> list[tuple[str, str, str]]:
            if session_id is None:
                return c.execute(
                    "SELECT checkpoint_id, data, checksum FROM checkpoints ORDER BY created_at, ord"
                ).fetchall()
            return c.execute(
                "SELECT checkpoint_id, data, checksum FROM checkpoints WHERE session_id = %s"
                " ORDER BY created_at, ord",
                (session_id,),
            ).fetchall()

        rows = await self._read(read)
        return [load_record(Checkpoint.from_dict, "checkpoints", *row) for row in rows]

    async def delete_checkpoints(self, checkpoint_ids: Sequence[str]) -> None:
        await self._write(self._delete_checkpoints(checkpoint_ids))

    def _delete_checkpoints(self, checkpoint_ids: Sequence[str]) -> Write:
        ids = list(checkpoint_ids)
        return lambda c: c.execute("DELETE FROM checkpoints WHERE checkpoint_id = ANY(%s)", (ids,))

    # --- leases ----------------------------------------------------------------

    async def acquire_lease(
        self, name: str, owner: str, ttl_s: float, *, now: float, steal_from: str | None = None
    ) -> Lease:
        # Read and write in one transaction holding the row (SELECT ... FOR UPDATE): a
        # compare-and-set two machines can never both win. A lease never taken has no
        # row to lock: the insert that creates it is the compare-and-set then (ON
        # CONFLICT DO NOTHING: of two first takers, one inserts, the other reads it).
        found: list[Lease] = []

        def take(c: Connection[Any]) -> None:
            found.clear()
            row = c.execute(
                "SELECT name, data, checksum FROM leases WHERE name = %s FOR UPDATE", (name,)
            ).fetchone()
            current = load_record(Lease.from_dict, "leases", *row) if row else None
            if current is None or current.expired(now) or current.owner in (owner, steal_from):
                kept_since = current is not None and current.owner == owner
                acquired_at = current.acquired_at if current is not None and kept_since else now
                taken = Lease(name, owner, acquired_at, now + ttl_s)
                data, digest = encode_record(taken.to_dict())
                if row is None:
                    inserted = c.execute(
                        "INSERT INTO leases (name, data, checksum) VALUES (%s,%s,%s)"
                        " ON CONFLICT (name) DO NOTHING RETURNING name",
                        (name, data, digest),
                    ).fetchone()
                    if inserted is None:  # another taker created it first: read theirs
                        take(c)
                        return
                else:
                    c.execute(
                        "UPDATE leases SET data = %s, checksum = %s WHERE name = %s",
                        (data, digest, name),
                    )
                current = taken
            found.append(current)

        await self._write(take)
        return found[0]

    async def release_lease(self, name: str, owner: str) -> None:
        def release(c: Connection[Any]) -> None:
            row = c.execute(
                "SELECT name, data, checksum FROM leases WHERE name = %s FOR UPDATE", (name,)
            ).fetchone()
            if row is not None and decode_record("leases", *row).get("owner") == owner:
                c.execute("DELETE FROM leases WHERE name = %s", (name,))

        await self._write(release)

    async def get_lease(self, name: str) -> Lease | None:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT name, data, checksum FROM leases WHERE name = %s", (name,)
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

        def append(c: Connection[Any]) -> None:
            c.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 1))", (_lock_key(*key),))
            row = c.execute(
                "SELECT COALESCE(MAX(seq), 0), COALESCE(MAX(mtime_ms), 0) FROM transcript_entries"
                " WHERE project_key = %s AND session_id = %s AND subpath = %s",
                key,
            ).fetchone()
            last, mtime = (int(row[0]), int(row[1])) if row is not None else (0, 0)
            # Strictly increasing per transcript, so a later write never looks older.
            now = max(int(time.time() * 1000), mtime + 1)
            with c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO transcript_entries"
                    " (project_key, session_id, subpath, seq, uuid, mtime_ms, data, checksum)"
                    " VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                    [
                        (*key, last + offset, uuid, now, data, digest)
                        for offset, (uuid, data, digest) in enumerate(rows, start=1)
                    ],
                )

        await self._write(append)

    async def delete_transcript(
        self, project_key: str, session_id: str, subpath: str | None = None
    ) -> None:
        def delete(c: Connection[Any]) -> None:
            if subpath is None:
                c.execute(
                    "DELETE FROM transcript_entries WHERE project_key = %s AND session_id = %s",
                    (project_key, session_id),
                )
            else:
                c.execute(
                    "DELETE FROM transcript_entries"
                    " WHERE project_key = %s AND session_id = %s AND subpath = %s",
                    (project_key, session_id, subpath),
                )

        await self._write(delete)


class PostgresStore(RedactingStore):
    """A :class:`~swarm.stores.Store` in a PostgreSQL database that many machines share;
    secrets are redacted before any record reaches the server."""

    def __init__(
        self,
        url: str,
        conninfo: str,
        *,
        pool_size: int = 4,
        retry_s: float = 60.0,
        read_only: bool = False,
    ) -> None:
        self.url = url
        self.tables = PostgresTables(
            url, conninfo, pool_size=pool_size, retry_s=retry_s, read_only=read_only
        )
        super().__init__(self.tables)

    @classmethod
    async def open(cls, url: str, *, read_only: bool = False) -> PostgresStore:
        """Connect to the database ``url`` names (waiting up to its ``retry_s`` for the
        server) and migrate it, unless ``read_only``."""
        parsed = parse_store_url(url)
        if parsed.conninfo is None:
            raise StoreURLError(url, "is not a postgresql:// URL")
        store = cls(
            url,
            parsed.conninfo,
            pool_size=parsed.pool_size,
            retry_s=parsed.retry_s,
            read_only=read_only,
        )
        await store.tables.open()
        return store
