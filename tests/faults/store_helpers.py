"""Helpers for the store fault tests: a small store with records, raw file access."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from swarm.records import AgentResult, AgentStatus, Message, RunRecord, SessionRecord
from swarm.stores import SQLiteStore

MARKER = "MARKER-a1b2c3d4e5"


async def fill_store(path: Path, *, runs: int = 3, messages: int = 20) -> SQLiteStore:
    """An open SQLite store with ``runs`` runs, each with two agents and a session of messages."""
    store = await SQLiteStore.open(path)
    for r in range(runs):
        run_id = f"run-{r}"
        await store.save_run(RunRecord(run_id=run_id, plan={"agents": []}, name=f"run {r}"))
        await store.save_agents(
            run_id,
            [
                AgentResult(agent_id="a", status=AgentStatus.SUCCEEDED, output=f"{MARKER}-{r}"),
                AgentResult(agent_id="b", status=AgentStatus.FAILED, error="boom"),
            ],
        )
        session = f"session-{r}"
        await store.save_session(
            SessionRecord(session_id=session, backend="simulated", run_id=run_id)
        )
        await store.append_messages(
            session,
            [
                Message(f"m-{r}-{i}", session, "user", f"message {i} of {run_id} " + "x" * 200)
                for i in range(messages)
            ],
        )
    return store


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection to the file, for damage the store's API would never do."""
    return sqlite3.connect(path, isolation_level=None)
