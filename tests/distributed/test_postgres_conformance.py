"""The PostgreSQL store passes the store conformance suite and, through swarm's SessionStore
adapter, the Claude Agent SDK's session-store conformance suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from claude_agent_sdk import SessionStore
from claude_agent_sdk.testing import run_session_store_conformance

from swarm.backends.claude import StoreSessionStore
from swarm.stores import PostgresStore, open_store
from swarm.testing import ThrowawayPostgres, run_store_conformance


@pytest.fixture
async def opened() -> AsyncIterator[list[PostgresStore]]:
    stores: list[PostgresStore] = []
    yield stores
    for store in stores:
        await store.aclose()


async def test_postgres_store_conforms(
    postgres_server: ThrowawayPostgres, opened: list[PostgresStore]
) -> None:
    """Every store contract holds on PostgreSQL, each in a fresh database."""

    async def make() -> PostgresStore:
        url = postgres_server.create_database(f"conform_{len(opened)}")
        store = await PostgresStore.open(url)
        opened.append(store)
        return store

    await run_store_conformance(make)


async def test_sdk_session_store_conformance_on_postgres(
    postgres_server: ThrowawayPostgres, opened: list[PostgresStore]
) -> None:
    """The SDK's SessionStore suite passes on the adapter over PostgreSQL (one database each)."""

    async def make() -> SessionStore:
        url = postgres_server.create_database(f"sdk_{len(opened)}")
        store = await PostgresStore.open(url)
        opened.append(store)
        return StoreSessionStore(store).as_sdk_store()

    await run_session_store_conformance(make)


async def test_open_store_opens_postgres_by_url(postgres_url: str) -> None:
    """``open_store`` understands postgresql:// and the records survive a new connection."""
    from swarm.records import RunRecord

    async with open_store(postgres_url) as store:
        assert isinstance(store, PostgresStore)
        await store.save_run(RunRecord(run_id="r1", plan={"x": 1}))
    async with open_store(
        postgres_url.replace("postgresql://", "postgres://"), read_only=True
    ) as store:
        run = await store.get_run("r1")
        assert run is not None and run.plan == {"x": 1}
