"""Stores: where runs, sessions, messages and checkpoints are kept.

``open_store(url)`` understands (parsed by :func:`~swarm.stores.urls.parse_store_url`,
the one parser plan validation and every command use too):

- ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` (the default
  is ``sqlite:///sessions/swarm.db``), or a bare path; options
  ``?synchronous=off|normal|full|extra`` and ``?max_size_mb=N`` (a cap on the file:
  writes past it fail with "database or disk is full", like a full disk) and
  ``?mode=ro`` (open read-only: any write fails, as on a file you may not write);
- ``memory://`` for a store that lives as long as the process.

``open_store(url, read_only=True)`` (what commands that only read use) opens a
SQLite store without writing anything anywhere: no file, folder, schema or
migration, not even SQLite's -wal and -shm (see :mod:`swarm.stores.readonly`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from .base import Store
from .memory import MemoryStore
from .sqlite import SQLiteStore
from .urls import StoreURL, StoreURLError, parse_store_url, store_location_problem

DEFAULT_STORE_URL = "sqlite:///sessions/swarm.db"

__all__ = [
    "DEFAULT_STORE_URL",
    "MemoryStore",
    "SQLiteStore",
    "Store",
    "StoreURL",
    "StoreURLError",
    "open_store",
    "parse_store_url",
    "sqlite_path",
    "store_location_problem",
]


async def _open(url: str, read_only: bool) -> Store:
    parsed = parse_store_url(url)
    if parsed.path is None:
        return MemoryStore()
    problem = store_location_problem(parsed)
    if problem is not None:
        raise StoreURLError(url, problem)
    return await SQLiteStore.open(
        parsed.path,
        synchronous=parsed.synchronous,
        max_size_mb=parsed.max_size_mb,
        read_only=read_only or parsed.read_only,
    )


def sqlite_path(url: str) -> Path | None:
    """The file a store URL names, or None for ``memory://``."""
    return parse_store_url(url).path


@asynccontextmanager
async def open_store(
    url: str = DEFAULT_STORE_URL, *, read_only: bool = False
) -> AsyncIterator[Store]:
    """Open the store a URL names, and close it on exit; ``read_only`` writes nothing."""
    store = await _open(url, read_only)
    try:
        yield store
    finally:
        await store.aclose()
