"""SQLite errors in words a user can act on (disk full, read-only, corrupt)."""

from __future__ import annotations

import sqlite3

from ..errors import Remedy

_HINTS = {
    "SQLITE_FULL": "the disk (or the store's max_size_mb) is full",
    "SQLITE_READONLY": "the store is read-only here (permission denied?)",
    "SQLITE_CANTOPEN": "the file cannot be opened (permission denied, or a missing folder?)",
    "SQLITE_PERM": "permission denied",
    "SQLITE_IOERR": "an I/O error (the disk is full, failing or gone?)",
    "SQLITE_CORRUPT": "the file is damaged",
    "SQLITE_NOTADB": "not a SQLite database, or its header is damaged",
}


def explain(exc: sqlite3.Error) -> str:
    """``exc``'s message plus what it most likely means, e.g. for SQLITE_FULL."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    for prefix, hint in _HINTS.items():
        if name == prefix or name.startswith(prefix + "_"):
            return f"{exc} ({name}: {hint})"
    return str(exc)


def damage_remedy(exc: BaseException) -> Remedy | None:
    """The way out of a SQLite error that says the file is damaged: verify it."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    damaged = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
    return Remedy.VERIFY_STORE if any(name.startswith(d) for d in damaged) else None
