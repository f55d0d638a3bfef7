"""Fixtures for the claude backend: the fake API, an isolated CLI config dir, a backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from swarm import MemoryStore, ParallelSwarmExecutor, SwarmResult, parse_plan
from swarm.backends import Rehearsal, RetryPolicy, open_rehearsal
from swarm.backends.claude import ClaudeBackend
from swarm.mockapi import MockAPIConfig
from swarm.stores import Store

#: Short waits: these tests run on the real clock (real CLI processes).
FAST_RETRY = RetryPolicy(max_attempts=4, initial_wait_s=0.05, max_wait_s=0.2, jitter_s=0.05)


@dataclass
class Harness:
    """A fake API, the CLI environment pointing at it, a store and a working directory."""

    rehearsal: Rehearsal
    store: Store
    workdir: Path

    def backend(self, *, session_store: bool = True) -> ClaudeBackend:
        return ClaudeBackend(
            self.store,
            env=self.rehearsal.env,
            cwd=self.workdir,
            session_store=session_store,
            retry=FAST_RETRY,
        )

    async def run(self, plan_yaml: str, backend: ClaudeBackend | None = None) -> SwarmResult:
        executor = ParallelSwarmExecutor(backend or self.backend(), self.store)
        return await executor.run(parse_plan(plan_yaml))

    def fork_texts(self, session_id: str) -> list[list[str]]:
        """The user texts of every request the fake API got from ``session_id``."""
        return [
            r.user_texts
            for r in self.rehearsal.server.message_requests
            if r.session_id == session_id
        ]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness with the default fake API (deterministic rehearsal replies)."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    async with open_rehearsal(MockAPIConfig(), tmp_path / "home") as rehearsal:
        yield Harness(rehearsal, MemoryStore(), workdir)
