"""The SQLite engine under :class:`~swarm.stores._sqlite.SQLiteStore`: connections,
group commit and reads off the trio thread.

Writes go through group commit: concurrent writers queue their changes and
whichever arrives first applies the whole queue in one transaction on a worker
thread, so many agents pay for one commit (with ``synchronous=FULL``, one fsync).
Reads share one connection on one worker thread. Blocking I/O never runs on the
trio thread. The file is created 0600 in a 0700 folder, in WAL mode, and
migrated to the current schema when it is opened. Opened read-only, it is
neither created nor migrated, and nothing is written to it or beside it
(:mod:`swarm.stores._readonly`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import trio

from ..errors import Remedy, StoreError
from ._diagnosis import damage_remedy, explain
from ._group_commit import GroupCommit, Pending
from ._migrations import check_not_newer, latest_version, missing_from, upgrade, user_version
from ._readonly import ReadOnlyConnection, header_problem

SCHEMA_VERSION = latest_version()

T = TypeVar("T")
# A write runs inside the batch's transaction. It may run twice when a later write
# of its batch fails (see _apply), so apart from SQL it may only record its result.
Write = Callable[[sqlite3.Connection], object]


@dataclass(slots=True)
class CommitStats:
    """What the group commit did so far (``swarm bench`` reports it): how many commits,
    how many writes they carried, and the wall time of applying them on the worker
    thread, of which ``commit_s`` went to the COMMIT statements (with
    ``synchronous=FULL``, the fsync)."""

    commits: int = 0
    writes: int = 0
    apply_s: float = 0.0
    commit_s: float = 0.0


def _create_private(path: Path) -> None:
    """Create every missing folder 0700 and the database file 0600 before SQLite opens it;
    existing folders and an existing file keep their modes."""
    missing: list[Path] = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    # One by one, outermost first: mkdir(parents=True) gives the parents the umask's
    # default mode (755, or 777 under umask 000), and chmod, because any mode passed
    # to mkdir or open is still masked by the umask.
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue  # another process made it meanwhile: an existing folder, left as it is
        os.chmod(folder, 0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    except FileExistsError:
        fd = os.open(path, os.O_RDWR)  # an unwritable store fails here, with its OS error
    else:
        os.fchmod(fd, 0o600)
    os.close(fd)


def _close_quietly(conn: sqlite3.Connection | None) -> None:
    if conn is not None:
        with contextlib.suppress(sqlite3.Error):
            conn.close()


def _explain_any(exc: Exception) -> str:
    return explain(exc) if isinstance(exc, sqlite3.Error) else str(exc)


class SQLiteDatabase:
    """One SQLite file in WAL mode: a group-committing writer and a reader connection."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        max_size_mb: float | None = None,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self._synchronous = synchronous.upper()
        # A cap on the file's size: a runaway run stops with SQLITE_FULL instead of
        # filling the disk (and it is how the disk-full path is tested).
        self._max_size_mb = max_size_mb
        self._read_only = read_only
        self.backup_taken: Path | None = None
        self.stats = CommitStats()
        self._commits = GroupCommit[Write](self._commit_batch)
        self._read_lock = threading.Lock()
        # Reads share one connection, so they queue here, in trio, for one worker
        # thread: not in the lock, each holding a thread of its own.
        self._read_limiter = trio.CapacityLimiter(1)
        self._write_conn: sqlite3.Connection | None = None
        self._read_conn: sqlite3.Connection | None = None
        self._reader: ReadOnlyConnection | None = None  # read-only: the only connection

    async def open(self, schema: str) -> None:
        """Open (creating it 0600 unless read-only) and migrate the file to ``schema``."""
        await trio.to_thread.run_sync(self._open_sync, schema)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._configure(conn)
        return conn

    def _configure(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        if self._max_size_mb is not None:
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            pages = max(1, int(self._max_size_mb * 1024 * 1024) // page_size)
            conn.execute(f"PRAGMA max_page_count = {pages}")

    def _open_sync(self, schema: str) -> None:
        if self._read_only:
            self._open_read_only(schema)
            return
        conn: sqlite3.Connection | None = None
        try:
            _create_private(self.path)
            conn = self._connect()
            # Refuse a newer file before anything (even the journal mode) changes it.
            check_not_newer(user_version(conn), self.path, SCHEMA_VERSION)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
            self.backup_taken = upgrade(conn, self.path, schema)
        except sqlite3.DatabaseError as exc:
            _close_quietly(conn)
            raise StoreError(
                f"{self.path}: cannot open the store: {explain(exc)}", remedy=damage_remedy(exc)
            ) from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc.strerror}") from None
        except ValueError as exc:  # e.g. a NUL character in the path
            raise StoreError(f"{self.path!r}: cannot open the store: {exc}") from None
        except StoreError:
            _close_quietly(conn)
            raise
        self._write_conn = conn
        self._read_conn = self._connect()

    def _open_read_only(self, schema: str) -> None:
        """Open for reading only: no file, folder, schema or migration is written."""
        # An empty or foreign file is refused before SQLite sees it (and, say, drops
        # the -wal beside a 0-byte file).
        problem = header_problem(self.path)
        if problem is not None:
            raise StoreError(f"{self.path}: cannot open the store: {problem}")
        try:
            reader = ReadOnlyConnection(self.path, self._configure)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path}: cannot open the store: {explain(exc)}", remedy=damage_remedy(exc)
            ) from None
        try:
            version, missing = reader.run(lambda c: (user_version(c), missing_from(c, schema)))
            check_not_newer(version, self.path, SCHEMA_VERSION)
        except sqlite3.DatabaseError as exc:
            reader.close()
            raise StoreError(
                f"{self.path}: cannot open the store: {explain(exc)}", remedy=damage_remedy(exc)
            ) from None
        except StoreError:
            reader.close()
            raise
        if missing:
            reader.close()
            raise StoreError(
                f"{self.path}: cannot open the store: {_not_a_store(missing, version)}",
                remedy=Remedy.VERIFY_STORE if not 0 < version < SCHEMA_VERSION else None,
            )
        self._reader = reader

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            await self._commits.wait_idle()
            await trio.to_thread.run_sync(self._close_sync)

    def _close_sync(self) -> None:
        for conn in (self._write_conn, self._read_conn):
            if conn is not None:
                conn.close()
        self._write_conn = self._read_conn = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # --- group commit --------------------------------------------------------

    async def write(self, write: Write) -> None:
        """Apply ``write`` in the next group commit; raise its :class:`StoreError` if it failed."""
        await self.write_many((write,))

    async def write_many(self, writes: Sequence[Write]) -> None:
        """Apply ``writes`` in order in the next group commit (queued before the first
        await, so after every write queued before this call); raise the first
        :class:`StoreError` among them."""
        await self._commits.write_many(writes)

    async def _commit_batch(self, batch: list[Pending[Write]]) -> None:
        await trio.to_thread.run_sync(self._apply, batch)

    def _apply(self, batch: list[Pending[Write]]) -> None:
        conn = self._write_conn
        if conn is None:
            error = StoreError(
                f"{self.path}: commit failed: the store is open read-only, nothing was "
                "written (SQLITE_READONLY: opened with ?mode=ro, or by a command that only reads)"
                if self._read_only
                else f"{self.path}: the store is closed"
            )
            for item in batch:
                item.error = error
            return
        started = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Fast path: no savepoint per write (a savepoint pair costs more than
                # a typical write); almost every batch succeeds whole.
                for item in batch:
                    item.write(conn)
            except (sqlite3.Error, ValueError, TypeError):
                # A write failed, maybe halfway: undo the batch and apply each write in a
                # savepoint of its own, so only the failing one fails. The writes before
                # it run a second time on the same state (so they see the same rows).
                if conn.in_transaction:  # SQLITE_FULL or IOERR may have rolled it back
                    conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                self._apply_isolated(conn, batch)
            committing = time.perf_counter()
            conn.execute("COMMIT")
            stats, done = self.stats, time.perf_counter()
            stats.commits += 1
            stats.writes += len(batch)
            stats.apply_s += done - started
            stats.commit_s += done - committing
        except sqlite3.Error as exc:
            if conn.in_transaction:
                # SQLite may have rolled back already (SQLITE_FULL, IOERR); a failing
                # ROLLBACK must not hide the first error.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            error = StoreError(
                f"{self.path}: commit failed: {explain(exc)}", remedy=damage_remedy(exc)
            )
            for item in batch:
                item.error = item.error or error

    def _apply_isolated(self, conn: sqlite3.Connection, batch: list[Pending[Write]]) -> None:
        for item in batch:
            conn.execute("SAVEPOINT one")
            try:
                item.write(conn)
                conn.execute("RELEASE one")
            except (sqlite3.Error, ValueError, TypeError) as exc:
                item.error = StoreError(f"{self.path}: write failed: {_explain_any(exc)}")
                if not conn.in_transaction:
                    raise  # SQLite undid the whole transaction: every write of it failed
                conn.execute("ROLLBACK TO one")
                conn.execute("RELEASE one")

    async def read(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``read`` on the reader connection in a worker thread."""

        def run() -> T:
            with self._read_lock:
                conn, reader = self._read_conn, self._reader
                try:
                    if reader is not None:
                        return reader.run(read)
                    if conn is None:
                        raise StoreError(f"{self.path}: the store is closed")
                    return read(conn)
                except sqlite3.DatabaseError as exc:
                    raise StoreError(
                        f"{self.path}: read failed: {explain(exc)}", remedy=damage_remedy(exc)
                    ) from None

        return await trio.to_thread.run_sync(run, limiter=self._read_limiter)


def _not_a_store(missing: list[str], version: int) -> str:
    """Why a SQLite file lacking some of swarm's tables cannot be read as a store."""
    tables = ", ".join(missing)
    if 0 < version < SCHEMA_VERSION:
        return (
            f"schema v{version} lacks {tables}; what writes to it (a run, a resume) "
            "upgrades it first, after a backup"
        )
    return f"not a swarm store: no table {tables}"
