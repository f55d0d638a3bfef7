"""A SQLite store holding real runs for the dashboard's tests: a finished run whose
agents fork in a chain (a fork of a fork), and agents whose prompts (and so their
messages and outputs) are XSS payloads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from swarm import ParallelSwarmExecutor, SQLiteStore
from swarm.backends import create_backend
from tests.core.helpers import make_plan

SCRIPT = "<script>alert(1)</script>"
LINK = '<a href="javascript:alert(2)">click me</a>'


@dataclass(frozen=True)
class FilledStore:
    path: Path
    run_id: str

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"


async def fill(path: Path) -> str:
    plan = make_plan(
        [
            {"id": "a", "latency": 0},
            {"id": "c", "latency": 0, "fork_from": {"agent": "a"}},
            {"id": "d", "latency": 0, "fork_from": {"agent": "c"}},
            {"id": "xss", "latency": 0, "prompt": SCRIPT},
            {"id": "link", "latency": 0, "prompt": LINK},
        ],
        name="ui-test",
        checkpoints={"every": 1},
    )
    store = await SQLiteStore.open(path)
    try:
        executor = ParallelSwarmExecutor(create_backend(plan.backend, store), store)
        result = await executor.run(plan)
    finally:
        await store.aclose()
    assert result.succeeded
    return result.run_id


@pytest.fixture
async def filled_store(tmp_path: Path) -> FilledStore:
    path = tmp_path / "swarm.db"
    return FilledStore(path, await fill(path))
