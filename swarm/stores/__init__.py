"""Stores: where runs, sessions, messages and checkpoints are kept.

``open_store(url)`` understands:

- ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` (the default
  is ``sqlite:///sessions/swarm.db``), or a bare path ending in ``.db``; options
  ``?synchronous=off|normal|full|extra`` and ``?max_size_mb=N`` (a cap on the file:
  writes past it fail with "database or disk is full", like a full disk) and
  ``?mode=ro`` (open read-only: any write fails, as on a file you may not write);
- ``memory://`` for a store that lives as long as the process.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import UsageError
from ..redaction import mask_url
from .base import Store
from .memory import MemoryStore
from .sqlite import SQLiteStore

DEFAULT_STORE_URL = "sqlite:///sessions/swarm.db"

__all__ = [
    "DEFAULT_STORE_URL",
    "MemoryStore",
    "SQLiteStore",
    "Store",
    "open_store",
    "sqlite_path",
]


async def _open(url: str) -> Store:
    if url in ("memory", "memory://", "memory:"):
        return MemoryStore()
    shown = mask_url(url)  # what a message says of the URL: never its password
    if any(ord(ch) < 32 or ch == "\x7f" for ch in url):
        raise UsageError(f"store URL {shown!r} has a control character")
    if "://" not in url:
        return await SQLiteStore.open(Path(url))
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UsageError(f"store URL {shown!r}: {exc}") from None
    if parts.scheme == "sqlite":
        # sqlite:///rel/path -> "rel/path"; sqlite:////abs/path -> "/abs/path"
        raw = url[len("sqlite://") :].split("?", 1)[0]
        path = raw[1:] if raw.startswith("/") else raw
        if not path:
            raise UsageError(f"store URL {shown!r} has no file path (sqlite:///path/to/file.db)")
        options = parse_qs(parts.query)
        unknown = sorted(set(options) - {"synchronous", "max_size_mb", "mode"})
        if unknown:
            raise UsageError(
                f"store URL {shown!r}: unknown option {unknown[0]!r} "
                "(synchronous, max_size_mb, mode)"
            )
        mode = options.get("mode", ["rw"])[0]
        if mode not in ("rw", "ro"):
            raise UsageError(f"store URL {shown!r}: mode must be rw or ro")
        synchronous = options.get("synchronous", ["FULL"])[0]
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise UsageError(f"store URL {shown!r}: synchronous must be off|normal|full|extra")
        max_size_mb = _positive(shown, options.get("max_size_mb", [None])[0])
        return await SQLiteStore.open(
            Path(path), synchronous=synchronous, max_size_mb=max_size_mb, read_only=mode == "ro"
        )
    raise UsageError(
        f"store URL {shown!r}: unknown scheme {parts.scheme!r} (expected sqlite:///path or memory://)"
    )


def sqlite_path(url: str) -> Path | None:
    """The file a store URL names, or None for ``memory://``."""
    if url in ("memory", "memory://", "memory:"):
        return None
    shown = mask_url(url)
    if any(ord(ch) < 32 or ch == "\x7f" for ch in url):
        raise UsageError(f"store URL {shown!r} has a control character")
    if "://" not in url:
        return Path(url)
    if not url.startswith("sqlite://"):
        raise UsageError(f"store URL {shown!r}: expected sqlite:///path or a path to a .db file")
    raw = url[len("sqlite://") :].split("?", 1)[0]
    path = raw[1:] if raw.startswith("/") else raw
    if not path:
        raise UsageError(f"store URL {shown!r} has no file path (sqlite:///path/to/file.db)")
    return Path(path)


def _positive(shown: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (number > 0 and math.isfinite(number)):
        raise UsageError(f"store URL {shown!r}: max_size_mb must be a positive number (megabytes)")
    return number


@asynccontextmanager
async def open_store(url: str = DEFAULT_STORE_URL) -> AsyncIterator[Store]:
    """Open the store a URL names, and close it on exit."""
    store = await _open(url)
    try:
        yield store
    finally:
        await store.aclose()
