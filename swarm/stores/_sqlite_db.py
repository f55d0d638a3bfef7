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
import itertools
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import trio

from .._log import get_logger
from ..errors import Remedy, StoreError
from ._diagnosis import damage_remedy, explain, explain_parts, remedy_for
from ._group_commit import GroupCommit, Pending
from ._migrations import check_not_newer, latest_version, missing_from, upgrade, user_version
from ._readonly import ReadOnlyConnection, header_problem
from ._sqlite_apply import Failure, Write, apply_batch, configure
from ._sqlite_writer import WriterGone, WriterProcess
from ._urls import SQLITE_WRITERS

SCHEMA_VERSION = latest_version()
# Where a store applies its group commits (_urls.SQLITE_WRITERS): ``thread`` (a worker
# thread of this process), ``process`` (a writer process of its own, ._sqlite_writer)
# or ``auto`` (the thread, then the process once the store took AUTO_WRITER_AFTER writes).
AUTO_WRITER_AFTER = 1000
log = get_logger("swarm.store")

T = TypeVar("T")


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


class SQLiteDatabase:
    """One SQLite file in WAL mode: a group-committing writer and a reader connection."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        max_size_mb: float | None = None,
        read_only: bool = False,
        writer: str = "auto",
    ) -> None:
        if writer not in SQLITE_WRITERS:
            raise ValueError(f"writer must be one of {', '.join(SQLITE_WRITERS)}, not {writer!r}")
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
        self._writer_mode = "thread" if read_only else writer
        self._writer: WriterProcess | None = None

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
        configure(conn, self._synchronous, self._max_size_mb)

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
            writer, self._writer = self._writer, None
            if writer is not None:
                await writer.aclose()
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

    @property
    def writer_pid(self) -> int | None:
        """The writer process's pid while there is one (the thread path: None)."""
        return self._writer.pid if self._writer is not None else None

    async def _commit_batch(self, batch: list[Pending[Write]]) -> None:
        writer = await self._writer_for_next()
        if writer is None:
            await trio.to_thread.run_sync(self._apply, batch)
            return
        # In order, each run of SQL-as-data writes in the process and each run of the
        # others (functions of the connection) on the thread path.
        for data, run in itertools.groupby(batch, key=lambda item: not callable(item.write)):
            part = list(run)
            if data and self._writer is not None:
                await self._apply_in_writer(self._writer, part)
            else:
                await trio.to_thread.run_sync(self._apply, part)

    async def _writer_for_next(self) -> WriterProcess | None:
        """The writer process to apply the next batch in, started when the mode says so:
        ``process`` at once, ``auto`` once the store has taken AUTO_WRITER_AFTER writes
        (a run that small never pays the process's start)."""
        mode = self._writer_mode
        if (
            self._writer is None
            and self._write_conn is not None
            and (mode == "process" or (mode == "auto" and self.stats.writes >= AUTO_WRITER_AFTER))
        ):
            self._writer_mode = "thread"  # started once: if it dies, the thread goes on
            try:
                self._writer = await WriterProcess.start(
                    self.path, self._synchronous, self._max_size_mb
                )
            except OSError as exc:
                log.warning("store.writer_not_started", path=str(self.path), reason=str(exc))
                return None
            log.debug("store.writer_started", path=str(self.path), pid=self._writer.pid)
        return self._writer

    async def _apply_in_writer(self, writer: WriterProcess, batch: list[Pending[Write]]) -> None:
        try:
            result = await writer.apply([item.write for item in batch])  # type: ignore[misc]
        except WriterGone as exc:
            # Lost with its answer, the batch may or may not be committed: every write
            # in it is idempotent, so the thread path applies it again, and goes on.
            log.warning("store.writer_gone", path=str(self.path), reason=str(exc))
            self._writer = None
            await writer.aclose()
            await trio.to_thread.run_sync(self._apply, batch)
            return
        self._record(batch, *result)

    def _apply(self, batch: list[Pending[Write]]) -> None:
        """Apply ``batch`` here, on a worker thread (the thread path)."""
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
        self._record(batch, *apply_batch(conn, [item.write for item in batch]))

    def _record(
        self,
        batch: list[Pending[Write]],
        failures: list[Failure | None],
        apply_s: float,
        commit_s: float,
    ) -> None:
        """Count an applied batch, and give each failed write its StoreError."""
        if all(f is None or f[0] == "write" for f in failures):  # committed
            stats = self.stats
            stats.commits += 1
            stats.writes += len(batch)
            stats.apply_s += apply_s
            stats.commit_s += commit_s
        for item, failure in zip(batch, failures, strict=True):
            if failure is not None:
                stage, message, name = failure
                what = "commit failed" if stage == "commit" else "write failed"
                item.error = StoreError(
                    f"{self.path}: {what}: {explain_parts(message, name)}",
                    remedy=remedy_for(name) if stage == "commit" else None,
                )

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
