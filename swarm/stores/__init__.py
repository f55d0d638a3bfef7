"""Stores: where runs, sessions, messages and checkpoints are kept.

``open_store(url)`` understands:

- ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` (the default
  is ``sqlite:///sessions/swarm.db``), or a bare path ending in ``.db``;
- ``memory://`` for a store that lives as long as the process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import UsageError
from .base import Store
from .memory import MemoryStore
from .sqlite import SQLiteStore

DEFAULT_STORE_URL = "sqlite:///sessions/swarm.db"

__all__ = ["DEFAULT_STORE_URL", "MemoryStore", "SQLiteStore", "Store", "open_store"]


async def _open(url: str) -> Store:
    if url in ("memory", "memory://", "memory:"):
        return MemoryStore()
    if "://" not in url:
        return await SQLiteStore.open(Path(url))
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///rel/path -> "rel/path"; sqlite:////abs/path -> "/abs/path"
        raw = url[len("sqlite://") :].split("?", 1)[0]
        path = raw[1:] if raw.startswith("/") else raw
        if not path:
            raise UsageError(f"store URL {url!r} has no file path (sqlite:///path/to/file.db)")
        options = parse_qs(parts.query)
        synchronous = options.get("synchronous", ["FULL"])[0]
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise UsageError(f"store URL {url!r}: synchronous must be off|normal|full|extra")
        return await SQLiteStore.open(Path(path), synchronous=synchronous)
    raise UsageError(
        f"store URL {url!r}: unknown scheme {parts.scheme!r} (expected sqlite:///path or memory://)"
    )


@asynccontextmanager
async def open_store(url: str = DEFAULT_STORE_URL) -> AsyncIterator[Store]:
    """Open the store a URL names, and close it on exit."""
    store = await _open(url)
    try:
        yield store
    finally:
        await store.aclose()
