"""The SDK's own SessionStore conformance suite against our adapter, on both built-in stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from claude_agent_sdk import SessionStore
from claude_agent_sdk.testing import run_session_store_conformance

from swarm.backends.claude._session_store import StoreSessionStore
from swarm.errors import BackendUnavailable
from swarm.stores import MemoryStore, SQLiteStore


async def test_sdk_conformance_on_memory_store() -> None:
    """The adapter over a MemoryStore passes every contract of the SDK's suite."""
    await run_session_store_conformance(lambda: StoreSessionStore(MemoryStore()).as_sdk_store())


@pytest.fixture
async def sqlite_stores(tmp_path: Path) -> AsyncIterator[list[SQLiteStore]]:
    opened: list[SQLiteStore] = []
    yield opened
    for store in opened:
        await store.aclose()


async def test_sdk_conformance_on_sqlite_store(
    tmp_path: Path, sqlite_stores: list[SQLiteStore]
) -> None:
    """The adapter over a SQLiteStore (one fresh file per contract) passes the SDK's suite."""

    async def make() -> SessionStore:
        store = await SQLiteStore.open(tmp_path / f"s{len(sqlite_stores)}.db")
        sqlite_stores.append(store)
        return StoreSessionStore(store).as_sdk_store()

    await run_session_store_conformance(make)


async def test_uuid_makes_appends_idempotent_and_survives_reopen(tmp_path: Path) -> None:
    """A replayed batch adds only lines without a stored uuid, and lines persist across opens."""
    key = {"project_key": "p", "session_id": "s"}
    store = await SQLiteStore.open(tmp_path / "t.db")
    adapter = StoreSessionStore(store)
    await adapter.append(key, [{"type": "user", "uuid": "u1"}, {"type": "title"}])  # type: ignore[arg-type,list-item]
    await adapter.append(key, [{"type": "user", "uuid": "u1"}, {"type": "x", "uuid": "u2"}])  # type: ignore[arg-type,list-item]
    await store.aclose()
    store = await SQLiteStore.open(tmp_path / "t.db")
    try:
        loaded = await StoreSessionStore(store).load(key)  # type: ignore[arg-type]
        assert loaded == [
            {"type": "user", "uuid": "u1"},
            {"type": "title"},
            {"type": "x", "uuid": "u2"},
        ]
    finally:
        await store.aclose()


async def test_copy_to_project_makes_a_session_loadable_elsewhere() -> None:
    """A session stored under one project key is copied, subpaths included, to another."""
    adapter = StoreSessionStore(MemoryStore())
    await adapter.append({"project_key": "a", "session_id": "s"}, [{"type": "u", "uuid": "1"}])
    sub = {"project_key": "a", "session_id": "s", "subpath": "subagents/agent-1"}
    await adapter.append(sub, [{"type": "u", "uuid": "2"}])  # type: ignore[arg-type]
    assert await adapter.copy_to_project("s", "b")
    assert await adapter.load({"project_key": "b", "session_id": "s"}) == [
        {"type": "u", "uuid": "1"}
    ]
    assert await adapter.list_subkeys({"project_key": "b", "session_id": "s"}) == [
        "subagents/agent-1"
    ]
    assert not await adapter.copy_to_project("missing", "b")


def test_a_store_without_transcripts_is_refused_with_the_way_out() -> None:
    """A store lacking the TranscriptStore methods gets a BackendUnavailable naming the option."""
    with pytest.raises(BackendUnavailable, match="session_store: false"):
        StoreSessionStore(object())
