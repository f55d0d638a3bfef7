"""Applying one group commit's batch to a SQLite connection, and the writer process.

This module imports the standard library only: it is also the program of the SQLite
store's writer process (``python -I -S _sqlite_apply.py``, started by
:mod:`swarm.stores._sqlite_writer`), which must start in milliseconds and hold an
interpreter lock of its own. The thread path and the process apply a batch with the
same :func:`apply_batch`, so a batch succeeds or fails the same way in both.

A write is either SQL as data (:data:`Statements`, which can cross to the process) or
a function of the connection (it runs on the thread path only: leases and the CLI's
transcripts read before they write).
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from typing import BinaryIO

#: SQL as data: ``(sql, parameters, many)`` statements run in order (``executemany``
#: when ``many``). Every write the journal stages is one; all are idempotent, so a batch
#: whose outcome was lost (its process died) is applied again safely.
Statements = tuple[tuple[str, object, bool], ...]
#: A write runs inside its batch's transaction, and runs a second time when a later
#: write of the batch fails (see apply_batch): apart from SQL it may only record its result.
Write = Statements | Callable[[sqlite3.Connection], object]
#: Why a write failed: ``(stage, message, sqlite error name)``, stage ``commit`` (the
#: batch's transaction failed) or ``write`` (this write alone); plain data, so it
#: crosses from the writer process (the store turns it into a StoreError).
Failure = tuple[str, str, str | None]
# What a write may raise that fails that write alone (a bad value, a constraint).
_WRITE_ERRORS = (sqlite3.Error, ValueError, TypeError)
# SQLite errors of the file rather than of one write (full, I/O, read-only, damaged).
_STORE_WIDE = (
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_READONLY",
    "SQLITE_CORRUPT",
    "SQLITE_NOTADB",
    "SQLITE_CANTOPEN",
    "SQLITE_PERM",
)


def run_write(conn: sqlite3.Connection, write: Write) -> None:
    if callable(write):
        write(conn)
        return
    for sql, params, many in write:
        if many:
            conn.executemany(sql, params)  # type: ignore[arg-type]
        else:
            conn.execute(sql, params)  # type: ignore[arg-type]


def _failure(stage: str, exc: BaseException) -> Failure:
    return stage, str(exc), getattr(exc, "sqlite_errorname", None)


def apply_batch(
    conn: sqlite3.Connection, writes: Sequence[Write]
) -> tuple[list[Failure | None], float, float]:
    """Apply ``writes`` in one transaction: each write's failure (None if it was
    applied), the seconds the batch took and the seconds of them its COMMIT took."""
    failures: list[Failure | None] = [None] * len(writes)
    started = time.perf_counter()
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Fast path: no savepoint per write (a savepoint pair costs more than a
            # typical write); almost every batch succeeds whole.
            for write in writes:
                run_write(conn, write)
        except _WRITE_ERRORS:
            # A write failed, maybe halfway: undo the batch and apply each write in a
            # savepoint of its own, so only the failing one fails. The writes before it
            # run a second time on the same state (so they see the same rows).
            if conn.in_transaction:  # SQLITE_FULL or IOERR may have rolled it back
                conn.execute("ROLLBACK")
            conn.execute("BEGIN IMMEDIATE")
            _apply_isolated(conn, writes, failures)
        committing = time.perf_counter()
        conn.execute("COMMIT")
        done = time.perf_counter()
        return failures, done - started, done - committing
    except sqlite3.Error as exc:
        if conn.in_transaction:
            # SQLite may have rolled back already (SQLITE_FULL, IOERR); a failing
            # ROLLBACK must not hide the first error.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        failed = _failure("commit", exc)
        return [f or failed for f in failures], time.perf_counter() - started, 0.0


def _apply_isolated(
    conn: sqlite3.Connection, writes: Sequence[Write], failures: list[Failure | None]
) -> None:
    for i, write in enumerate(writes):
        conn.execute("SAVEPOINT one")
        try:
            run_write(conn, write)
            conn.execute("RELEASE one")
        except _WRITE_ERRORS as exc:
            failures[i] = _failure("write", exc)
            if not conn.in_transaction:
                raise  # SQLite undid the whole transaction: every write of it failed
            conn.execute("ROLLBACK TO one")
            conn.execute("RELEASE one")
            if (getattr(exc, "sqlite_errorname", None) or "").startswith(_STORE_WIDE):
                # The file failed, not this write: a later write (a message of the
                # session this one saved) must not land without it. The batch keeps
                # its order: what is applied is a prefix of it.
                failures[i + 1 :] = [failures[i]] * (len(writes) - i - 1)
                return


def checksum(data: str) -> str:
    """A short content hash stored beside every record and checked on read (the SQL
    function ``swarm_checksum``, and :mod:`swarm.stores._rows` for both engines)."""
    return hashlib.blake2b(data.encode(), digest_size=8).hexdigest()


def configure(conn: sqlite3.Connection, synchronous: str, max_size_mb: float | None) -> None:
    """The pragmas every connection of a store has (the writer process's too), and the
    ``swarm_checksum`` function: the journal's statements hash their documents in SQL,
    so in the writer process, off the run's thread."""
    conn.create_function("swarm_checksum", 1, checksum, deterministic=True)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    if max_size_mb is not None:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = max(1, int(max_size_mb * 1024 * 1024) // page_size)
        conn.execute(f"PRAGMA max_page_count = {pages}")


# --- the writer process ----------------------------------------------------------------
# Frames both ways: an 8-byte big-endian length, then a pickle. The first frame in is
# the connection's settings; then each frame in is one batch (a list of Statements) and
# each frame out its apply_batch result. EOF on stdin: close the file and exit.


def read_frame(stream: BinaryIO) -> object | None:
    header = stream.read(8)
    if len(header) < 8:
        return None
    value: object = pickle.loads(stream.read(int.from_bytes(header, "big")))
    return value


def frame(value: object) -> bytes:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return len(payload).to_bytes(8, "big") + payload


def serve(incoming: BinaryIO, outgoing: BinaryIO) -> None:
    settings = read_frame(incoming)
    if not isinstance(settings, dict):
        return
    conn = sqlite3.connect(settings["path"], isolation_level=None, timeout=30.0)
    try:
        configure(conn, settings["synchronous"], settings["max_size_mb"])
        while True:
            writes = read_frame(incoming)
            if writes is None:
                return
            outgoing.write(frame(apply_batch(conn, writes)))  # type: ignore[arg-type]
            outgoing.flush()
    finally:
        conn.close()


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the run's process decides when this one
    # ends (it closes stdin after its final records), so a batch is never cut short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(sys.stdin.buffer, sys.stdout.buffer)
