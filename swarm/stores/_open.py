"""Opening the store a URL names (parsed once, by :func:`~swarm.stores.parse_store_url`).

Each store's implementation is imported when a URL names it: reading a store URL (a
plan's, a command's) imports no SQLite or PostgreSQL layer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from ._protocol import Store
from ._urls import DEFAULT_STORE_URL, StoreURLError, parse_store_url, store_location_problem


async def _open(url: str, read_only: bool) -> Store:
    parsed = parse_store_url(url)
    if parsed.conninfo is not None:
        from ._postgres import PostgresStore

        return await PostgresStore.open(url, read_only=read_only)
    if parsed.path is None:
        from ._memory import MemoryStore

        return MemoryStore()
    problem = store_location_problem(parsed)
    if problem is not None:
        raise StoreURLError(url, problem)
    from ._sqlite import SQLiteStore

    return await SQLiteStore.open(
        parsed.path,
        synchronous=parsed.synchronous,
        max_size_mb=parsed.max_size_mb,
        read_only=read_only or parsed.read_only,
        writer=parsed.writer,
    )


def sqlite_path(url: str) -> Path | None:
    """The file a store URL names, or None for ``memory://`` and ``postgresql://``."""
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
