"""The PostgreSQL store's schema: its tables, its versions and migrations, and what a
read-only open checks. Migrations run in the caller's one transaction (DDL is
transactional in PostgreSQL) under an advisory lock, so two machines opening a new
database at once migrate it once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import IntegrityError, StoreError

if TYPE_CHECKING:
    from psycopg import Connection

__all__ = [
    "PG_MIGRATIONS",
    "PG_SCHEMA",
    "PG_SCHEMA_VERSION",
    "check_readable",
    "migrate",
    "missing_tables",
    "schema_version",
]

PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    data TEXT NOT NULL,
    checksum TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
    run_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    ord BIGSERIAL,
    data TEXT NOT NULL,
    checksum TEXT NOT NULL,
    PRIMARY KEY (run_id, agent_id)
);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    run_id TEXT,
    parent_session_id TEXT,
    created_at TEXT NOT NULL,
    ord BIGSERIAL,
    data TEXT NOT NULL,
    checksum TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_run ON sessions (run_id);
CREATE INDEX IF NOT EXISTS sessions_by_parent ON sessions (parent_session_id);
CREATE TABLE IF NOT EXISTS messages (
    session_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
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
    ord BIGSERIAL,
    data TEXT NOT NULL,
    checksum TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_by_session ON checkpoints (session_id, created_at);
CREATE TABLE IF NOT EXISTS transcript_entries (
    project_key TEXT NOT NULL,
    session_id TEXT NOT NULL,
    subpath TEXT NOT NULL,
    seq BIGINT NOT NULL,
    ord BIGSERIAL,
    uuid TEXT,
    mtime_ms BIGINT NOT NULL,
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

#: (version, what it does, SQL): version 1 is PG_SCHEMA; each later one a step.
#: The numbering follows the SQLite store's, so "schema v2" means the same thing in both.
PG_MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        2,
        "index runs by creation time: `runs list` and `latest` read the newest runs first",
        "CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at, run_id);",
    ),
)
PG_SCHEMA_VERSION = max([1, *(version for version, _, _ in PG_MIGRATIONS)])

# One advisory lock key for "migrating swarm's schema", whichever machine does it.
_MIGRATION_LOCK = 0x5357_4152_4D00  # "SWARM\0"


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def schema_version(conn: Connection[Any]) -> int:
    """The database's swarm schema version; 0 for a database swarm never wrote."""
    row = conn.execute("SELECT to_regclass('swarm_schema') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return 0
    found = conn.execute("SELECT MAX(version) FROM swarm_schema").fetchone()
    return int(found[0]) if found is not None and found[0] is not None else 0


def missing_tables(conn: Connection[Any]) -> list[str]:
    names = [
        "runs",
        "agents",
        "sessions",
        "messages",
        "checkpoints",
        "transcript_entries",
        "leases",
    ]
    return [
        name
        for name in names
        if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() in (None, (None,))
    ]


def migrate(conn: Connection[Any], where: str) -> None:
    """Bring the database to :data:`PG_SCHEMA_VERSION`, in the caller's one transaction."""
    version = schema_version(conn)
    if version == PG_SCHEMA_VERSION and not missing_tables(conn):
        return  # the common case: no lock taken just to open a store
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
    conn.execute("CREATE TABLE IF NOT EXISTS swarm_schema (version INTEGER NOT NULL)")
    version = schema_version(conn)  # again, under the lock: another machine may have migrated
    check_not_newer(version, where)
    if version == 0:
        for statement in _statements(PG_SCHEMA):
            conn.execute(statement)  # swarm's own constant SQL
    for step, description, sql in PG_MIGRATIONS:
        if step > version:
            try:
                for statement in _statements(sql):
                    conn.execute(statement)
            except Exception as exc:
                raise StoreError(
                    f"{where}: migration to schema v{step} ({description}) failed: {exc}; "
                    "nothing was changed (it ran in one transaction)"
                ) from None
    for statement in _statements(PG_SCHEMA):
        conn.execute(statement)
    if version != PG_SCHEMA_VERSION:
        conn.execute("DELETE FROM swarm_schema")
        conn.execute("INSERT INTO swarm_schema (version) VALUES (%s)", (PG_SCHEMA_VERSION,))


def check_not_newer(version: int, where: str) -> None:
    if version > PG_SCHEMA_VERSION:
        raise IntegrityError(
            f"{where}: schema version {version} is newer than this swarm understands "
            f"({PG_SCHEMA_VERSION}); upgrade swarm to open it (the database was not changed)"
        )


def check_readable(conn: Connection[Any], where: str) -> None:
    """What a read-only open checks: a swarm schema this version can read, nothing written."""
    version = schema_version(conn)
    check_not_newer(version, where)
    missing = missing_tables(conn)
    if missing:
        raise StoreError(
            f"{where}: cannot open the store: not a swarm store: no table {', '.join(missing)}"
        )
