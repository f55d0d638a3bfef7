"""Stores: where runs, sessions, messages and checkpoints are kept.

The layer beneath the engine and the backends: the :class:`Store` protocol and its
optional capabilities, the store URL (parsed once), the wrappers every store passes
through (:class:`DelegatingStore`, :class:`RedactingStore`), the two stores swarm
ships, reading a session's lineage back, run leases, and checking and repairing a
SQLite file.

``open_store(url)`` understands (parsed by :func:`parse_store_url`, the one parser
plan validation and every command use too):

- ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` (the default
  is ``sqlite:///sessions/swarm.db``), or a bare path; options
  ``?synchronous=off|normal|full|extra`` and ``?max_size_mb=N`` (a cap on the file:
  writes past it fail with "database or disk is full", like a full disk) and
  ``?mode=ro`` (open read-only: any write fails, as on a file you may not write) and
  ``?writer=auto|thread|process`` (where group commits are applied: a worker thread,
  or a writer process of the store's own, off this interpreter's lock; ``auto``, the
  default, moves to the process once a store has taken 1,000 writes);
- ``memory://`` for a store that lives as long as the process;
- ``postgresql://user:password@host:port/database`` (or ``postgres://``): a
  PostgreSQL database every machine of a cluster shares (the ``postgres`` extra);
  options ``?pool_size=N``, ``?retry_s=S`` and libpq's ``sslmode`` and kin.

``open_store(url, read_only=True)`` (what commands that only read use) opens a
SQLite store without writing anything anywhere: no file, folder, schema or
migration, not even SQLite's -wal and -shm (see :mod:`swarm.stores._readonly`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import Exports, lazy_exports

if TYPE_CHECKING:
    from ._integrity import Problem, VerifyReport, run_ids_in_file, verify
    from ._leases import Clock, RunLease, new_owner_id, owner_is_dead, run_lease_name
    from ._lineage import history, history_of, lineage, messages_between
    from ._memory import MemoryStore
    from ._open import open_store, sqlite_path
    from ._postgres import PostgresStore
    from ._postgres_integrity import repair_postgres, verify_postgres
    from ._protocol import (
        BatchWriter,
        MessageRangeReader,
        Store,
        StoreWrite,
        TranscriptEntry,
        TranscriptStore,
        WriteKind,
    )
    from ._readonly import header_problem, is_sqlite_file
    from ._repair import RepairReport, repair
    from ._sqlite import SQLiteStore
    from ._sqlite_db import CommitStats
    from ._urls import (
        DEFAULT_STORE_URL,
        StoreURL,
        StoreURLError,
        parse_store_url,
        store_location_problem,
    )
    from ._wrappers import DelegatingStore, RedactingStore, keeps_transcripts, writes_batches

_EXPORTS: Exports = {
    "._integrity": ("Problem", "VerifyReport", "run_ids_in_file", "verify"),
    "._leases": ("Clock", "RunLease", "new_owner_id", "owner_is_dead", "run_lease_name"),
    "._lineage": ("history", "history_of", "lineage", "messages_between"),
    "._memory": ("MemoryStore",),
    "._open": ("open_store", "sqlite_path"),
    "._postgres": ("PostgresStore",),
    "._postgres_integrity": ("repair_postgres", "verify_postgres"),
    "._protocol": (
        "BatchWriter",
        "MessageRangeReader",
        "Store",
        "StoreWrite",
        "TranscriptEntry",
        "TranscriptStore",
        "WriteKind",
    ),
    "._readonly": ("header_problem", "is_sqlite_file"),
    "._repair": ("RepairReport", "repair"),
    "._sqlite": ("SQLiteStore",),
    "._sqlite_db": ("CommitStats",),
    "._urls": (
        "DEFAULT_STORE_URL",
        "StoreURL",
        "StoreURLError",
        "parse_store_url",
        "store_location_problem",
    ),
    "._wrappers": ("DelegatingStore", "RedactingStore", "keeps_transcripts", "writes_batches"),
}

__all__ = [
    "DEFAULT_STORE_URL",
    "BatchWriter",
    "Clock",
    "CommitStats",
    "DelegatingStore",
    "MemoryStore",
    "MessageRangeReader",
    "PostgresStore",
    "Problem",
    "RedactingStore",
    "RepairReport",
    "RunLease",
    "SQLiteStore",
    "Store",
    "StoreURL",
    "StoreURLError",
    "StoreWrite",
    "TranscriptEntry",
    "TranscriptStore",
    "VerifyReport",
    "WriteKind",
    "header_problem",
    "history",
    "history_of",
    "is_sqlite_file",
    "keeps_transcripts",
    "lineage",
    "messages_between",
    "new_owner_id",
    "open_store",
    "owner_is_dead",
    "parse_store_url",
    "repair",
    "repair_postgres",
    "run_ids_in_file",
    "run_lease_name",
    "sqlite_path",
    "store_location_problem",
    "verify",
    "verify_postgres",
    "writes_batches",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
