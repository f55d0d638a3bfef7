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
    return explain_parts(str(exc), getattr(exc, "sqlite_errorname", None))


def explain_parts(message: str, name: str | None) -> str:
    """:func:`explain` of an error given as its message and SQLite error name (as the
    writer process reports one); a message without a name is returned as it is."""
    name = name or ""
    for prefix, hint in _HINTS.items():
        if name == prefix or name.startswith(prefix + "_"):
            return f"{message} ({name}: {hint})"
    return message


def damage_remedy(exc: BaseException) -> Remedy | None:
    """The way out of a SQLite error that says the file is damaged: verify it."""
    return remedy_for(getattr(exc, "sqlite_errorname", None))


def remedy_for(name: str | None) -> Remedy | None:
    """:func:`damage_remedy` of a SQLite error name."""
    damaged = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
    return Remedy.VERIFY_STORE if name and any(name.startswith(d) for d in damaged) else None
