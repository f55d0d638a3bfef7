"""Every shipped store passes the store conformance suite."""

from pathlib import Path

import pytest

from swarm import Lease, MemoryStore, SQLiteStore
from swarm.testing import STORE_CONTRACTS, Contract, run_store_conformance


async def test_memory_store_conforms() -> None:
    """The in-memory store keeps every store contract."""
    await run_store_conformance(MemoryStore)


async def test_sqlite_store_conforms(tmp_path: Path) -> None:
    """The SQLite store keeps every store contract, each in a fresh file."""
    counter = iter(range(1000))

    async def make() -> SQLiteStore:
        return await SQLiteStore.open(tmp_path / f"store{next(counter)}.db")

    await run_store_conformance(make)


@pytest.mark.parametrize("contract", STORE_CONTRACTS, ids=lambda c: c.__name__)
async def test_a_broken_store_is_caught(contract: Contract) -> None:
    """The suite fails a store that forgets everything, so it cannot pass vacuously."""

    class Forgetful(MemoryStore):
        async def get_run(self, run_id: str):  # type: ignore[no-untyped-def]
            return None

        async def list_runs(self, limit=None):  # type: ignore[no-untyped-def]
            return []

        async def list_agents(self, run_id: str):  # type: ignore[no-untyped-def]
            return []

        async def get_session(self, session_id: str):  # type: ignore[no-untyped-def]
            return None

        async def list_sessions(self, run_id=None):  # type: ignore[no-untyped-def]
            return []

        async def get_messages(self, session_id: str):  # type: ignore[no-untyped-def]
            return []

        async def list_checkpoints(self, session_id=None):  # type: ignore[no-untyped-def]
            return []

        async def get_message_range(self, session_id, *, after=None, upto=None):  # type: ignore[no-untyped-def]
            return []

        async def load_transcript(self, project_key, session_id, subpath=""):  # type: ignore[no-untyped-def]
            return None

        async def acquire_lease(self, name, owner, ttl_s, *, now, steal_from=None):  # type: ignore[no-untyped-def]
            return Lease(name, owner, now, now + ttl_s)  # anyone may take it, any time

        async def get_lease(self, name):  # type: ignore[no-untyped-def]
            return None

    with pytest.raises(AssertionError):
        await contract(Forgetful())
