"""SQLite errors in words a user can act on (disk full, read-only, corrupt)."""

from __future__ import annotations

import sqlite3

_HINTS = {
    "SQLITE_FULL": "the disk (or the store's max_size_mb) is full",
    "SQLITE_READONLY": "the store is read-only here (permission denied?)",
    "SQLITE_CANTOPEN": "the file cannot be opened (permission denied, or a missing folder?)",
    "SQLITE_PERM": "permission denied",
    "SQLITE_IOERR": "an I/O error (the disk is full, failing or gone?)",
    "SQLITE_CORRUPT": "the file is damaged; run `swarm store verify`",
    "SQLITE_NOTADB": "not a SQLite database, or its header is damaged; run `swarm store verify`",
}


def explain(exc: sqlite3.Error) -> str:
    """``exc``'s message plus what it most likely means, e.g. for SQLITE_FULL."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    for prefix, hint in _HINTS.items():
        if name == prefix or name.startswith(prefix + "_"):
            return f"{exc} ({name}: {hint})"
    return str(exc)
