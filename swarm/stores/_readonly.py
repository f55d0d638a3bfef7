"""Reading a SQLite store without writing anything: not a byte, not a side file.

A plain read-only SQLite connection (``mode=ro``) is not enough: on a database in
WAL mode it creates the ``-wal`` and ``-shm`` files when they are missing and
leaves them behind, and on a 0-byte file it deletes a ``-wal`` found beside it.
So a reader here:

- refuses a file that is not a SQLite database (empty, shorter than a header, or
  not starting with ``SQLite format 3\\0``) before SQLite ever opens it;
- reads a store *at rest* (no ``-wal``: every commit is in the file itself, and
  no connection has it open) as an immutable file: no locks, no side files;
- reads a store that has a ``-wal`` (in use, or left so by a crash) through
  ``mode=ro``, which uses the ``-wal`` and ``-shm`` already there.

An immutable read is right only while the file does not change. A writer that
starts meanwhile writes its ``-wal`` first and changes the file only when it
checkpoints, so each read is checked against the file's identity, size and mtime
taken when the connection opened and for a ``-wal`` that appeared since, and is done
again on a new connection (``mode=ro`` once a ``-wal`` exists) if either changed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, TypeVar
from urllib.parse import quote

from ..errors import StoreError

__all__ = [
    "SQLITE_MAGIC",
    "ReadOnlyConnection",
    "header_problem",
    "is_sqlite_file",
    "page_count_problem",
]

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100
# Immutable reads tried before the file is read the locking way (it kept changing).
_ATTEMPTS = 3

T = TypeVar("T")


def header_problem(path: Path) -> str | None:
    """Why ``path`` is not a SQLite database file, in words that say what was expected,
    or None when it starts like one."""
    try:
        with open(path, "rb") as f:
            head = f.read(HEADER_SIZE)
    except IsADirectoryError:
        return "is a folder, not a SQLite database file"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    expected = "expected a SQLite database (a file starting with 'SQLite format 3')"
    if not head:
        return f"the file is empty (0 bytes): {expected}"
    if not head.startswith(SQLITE_MAGIC):
        return f"not a SQLite database: {expected}, found {head[:16]!r}"
    if len(head) < HEADER_SIZE:
        return f"the file is cut short ({len(head)} bytes, less than the 100-byte SQLite header)"
    return None


def is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` is a regular file that starts with the SQLite header magic."""
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def page_count_problem(path: Path) -> str | None:
    """What is wrong with the header's page count (bytes 28-31), or None.

    SQLite trusts that count when the header says it is current (bytes 92-95 equal
    the change counter, bytes 24-27) and refuses a file that is shorter than it;
    only a connection with ``writable_schema`` reads such a file at all.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(HEADER_SIZE)
        size = os.stat(path).st_size
    except OSError:
        return None
    if len(head) < HEADER_SIZE or not head.startswith(SQLITE_MAGIC):
        return None
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    current = head[92:96] == head[24:28]
    if not page_size or not current or pages * page_size <= size:
        return None
    return (
        f"the header says the file has {pages} pages of {page_size} bytes (bytes 28-31), "
        f"but it holds {size // page_size}"
    )


class _FileState(NamedTuple):
    device: int
    inode: int
    size: int
    mtime_ns: int


def _file_state(path: Path) -> _FileState | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _FileState(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _wal_of(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


class ReadOnlyConnection:
    """A connection to a SQLite file that writes nothing (see the module doc).

    ``setup`` configures each new connection (text factory, pragmas). Reads go
    through :meth:`run`, which may call its function more than once, on a new
    connection each time, so the function must only read and return what it read.
    """

    def __init__(
        self, path: Path, setup: Callable[[sqlite3.Connection], None] | None = None
    ) -> None:
        self.path = path
        problem = header_problem(path)
        if problem is not None:
            raise StoreError(f"{path}: {problem}")
        self._setup = setup
        self._conn: sqlite3.Connection | None = None
        # The file as it was when an immutable connection opened; None when the
        # connection locks (mode=ro) and needs no check.
        self._at_rest: _FileState | None = None
        self._open(immutable_if_at_rest=True)

    def _open(self, *, immutable_if_at_rest: bool) -> None:
        self.close()
        state = _file_state(self.path)
        immutable = immutable_if_at_rest and not _wal_of(self.path).exists()
        uri = "file:" + quote(str(self.path.resolve())) + "?mode=ro"
        if immutable:
            uri += "&immutable=1"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        try:
            if self._setup is not None:
                self._setup(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._at_rest = state if immutable else None

    def _changed(self) -> bool:
        # A writer that started since commits to a new -wal and leaves the file itself
        # unchanged until it checkpoints: the -wal appearing is a change too.
        return self._at_rest is not None and (
            _file_state(self.path) != self._at_rest or _wal_of(self.path).exists()
        )

    def run(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """``read(connection)``, done again on a new connection if the file changed meanwhile."""
        for _ in range(_ATTEMPTS):
            if self._conn is None:
                raise StoreError(f"{self.path}: the store is closed")
            try:
                result = read(self._conn)
            except sqlite3.DatabaseError:
                if not self._changed():
                    raise
            else:
                if not self._changed():
                    return result
            self._open(immutable_if_at_rest=True)
        # A writer keeps changing the file: read it with locks, as any reader would.
        self._open(immutable_if_at_rest=False)
        assert self._conn is not None
        return read(self._conn)

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(sqlite3.Error):
                conn.close()
