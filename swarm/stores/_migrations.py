"""Schema versions of the SQLite store, and how a file moves from one to the next.

The version lives in ``PRAGMA user_version``. Version 1 is the living ``SCHEMA``
of :mod:`swarm.stores._sqlite` (every statement ``IF NOT EXISTS``); each later
version is a :class:`Migration`. Opening a store:

- a new file (version 0) gets ``SCHEMA`` and every migration;
- an older file is first copied with SQLite's online backup API into
  ``<db>.bak-v<old>-<UTC time>`` (mode 0600), then migrated in one
  ``BEGIN IMMEDIATE`` transaction: a failed migration leaves the file as it was;
- a file newer than this swarm understands is refused, never touched.

``SCHEMA`` runs again after the migrations, so tables added to it later reach
old files too. A migration must therefore also succeed on a file that
``SCHEMA`` already shaped (``CREATE ... IF NOT EXISTS``, :func:`add_column`).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import IntegrityError, StoreError

BASE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Migration:
    """One step: brings a file from ``version - 1`` to ``version``.

    ``sql`` is a script of statements; ``apply`` runs arbitrary code on the
    connection (inside the migration's transaction) after it.
    """

    version: int
    description: str
    sql: str = ""
    apply: Callable[[sqlite3.Connection], None] | None = None


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2,
        "index runs by creation time: `runs list` and `latest` read the newest runs first",
        "CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at, run_id);",
    ),
)


def latest_version(migrations: Sequence[Migration] = MIGRATIONS) -> int:
    return max([BASE_VERSION, *(m.version for m in migrations)])


def statements(script: str) -> Iterator[str]:
    """The complete statements of an SQL script, one by one.

    ``executescript`` would commit the open transaction first, so scripts are
    run statement by statement inside it instead.
    """
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n\t;"):
                yield pending.strip()
            pending = ""
    if pending.strip(" \n\t;"):
        raise ValueError(f"incomplete SQL statement: {pending.strip()[:60]!r}")


def add_column(conn: sqlite3.Connection, table: str, column: str, declaration: str) -> None:
    """``ALTER TABLE ... ADD COLUMN`` unless the column is already there."""
    names = {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
    if column not in names:
        conn.execute(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {declaration}')


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600; fail if it exists."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)


def backup_path(path: Path, label: str) -> Path:
    """A new, unused ``<db>.<label>-<UTC time>`` beside the database."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = path.with_name(f"{path.name}.{label}-{stamp}")
    n = 1
    while candidate.exists() or candidate.with_name(candidate.name + "-wal").exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{label}-{stamp}-{n}")
    return candidate


def backup(conn: sqlite3.Connection, path: Path, label: str) -> Path:
    """Copy the database ``conn`` has open into a new 0600 file beside ``path``."""
    target = backup_path(path, label)
    create_private_file(target)
    dest = sqlite3.connect(target)
    try:
        conn.backup(dest)
    except BaseException:
        dest.close()
        target.unlink(missing_ok=True)
        raise
    dest.close()
    return target


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_not_newer(version: int, path: Path, latest: int) -> None:
    if version > latest:
        raise IntegrityError(
            f"{path}: schema version {version} is newer than this swarm understands "
            f"({latest}); upgrade swarm to open it (the file was not changed)"
        )


def upgrade(
    conn: sqlite3.Connection,
    path: Path,
    schema: str,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> Path | None:
    """Bring the database ``conn`` has open to the latest version; return the backup taken.

    ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    steps = sorted(migrations, key=lambda m: m.version)
    latest = latest_version(steps)
    before = user_version(conn)
    check_not_newer(before, path, latest)
    if before == latest and _has_everything(conn, schema):
        return None  # the common case: no write lock taken just to open a store
    taken: Path | None = None
    if 0 < before < latest:
        try:
            taken = backup(conn, path, f"bak-v{before}")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"{path}: not migrating schema v{before} to v{latest}: "
                f"the backup could not be written: {exc}"
            ) from None
    # Another process may have migrated between the read above and this lock:
    # read the version again under it and do only what is left.
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = user_version(conn)
        check_not_newer(version, path, latest)
        if version == 0:
            _run_script(conn, schema)
        for step in steps:
            if step.version > version:
                try:
                    _run_script(conn, step.sql)
                    if step.apply is not None:
                        step.apply(conn)
                except (sqlite3.Error, ValueError) as exc:
                    where = f" (backup: {taken})" if taken else ""
                    raise StoreError(
                        f"{path}: migration to schema v{step.version} "
                        f"({step.description}) failed: {exc}; the file is unchanged{where}"
                    ) from None
        _run_script(conn, schema)
        if version != latest:
            conn.execute(f"PRAGMA user_version = {latest}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return taken


_CREATED = re.compile(r"CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.I)


def _has_everything(conn: sqlite3.Connection, schema: str) -> bool:
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    return set(_CREATED.findall(schema)) <= present


_TABLE = re.compile(r"CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.I)


def missing_from(conn: sqlite3.Connection, schema: str) -> list[str]:
    """The tables ``schema`` creates that the database ``conn`` has open lacks."""
    present = {
        row[0].decode() if isinstance(row[0], bytes) else row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    return [name for name in _TABLE.findall(schema) if name not in present]


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    for statement in statements(script):
        conn.execute(statement)
