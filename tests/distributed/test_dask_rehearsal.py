"""Real Claude Code CLIs on the Dask workers against the fake API: the base is built on
one worker, the forks run on both, each worker with a home of its own; the forks find
the base's transcript through the PostgreSQL SessionStore adapter, not in a shared file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from swarm import ParallelSwarmExecutor, parse_plan
from swarm.backends import open_rehearsal
from swarm.backends.claude import ClaudeBackend
from swarm.engine import ExecutorOptions
from swarm.mockapi import MockAPIConfig
from swarm.stores import PostgresStore, lineage

pytestmark = pytest.mark.cli
distributed = pytest.importorskip("distributed", reason="the swarm[distributed] extra")

BASE = "Remember: the service has api.py, db.py and auth.py."


def _home() -> str:
    from swarm.engine._dask_worker import _worker_runtime

    return str(_worker_runtime().home)


async def test_forks_on_the_other_worker_continue_a_base_one_worker_built(
    tmp_path: Path, postgres_url: str
) -> None:
    plan = parse_plan(
        f"""
base: {{prompt: "{BASE}"}}
backend: {{name: claude}}
store: {{url: "{postgres_url}"}}
execution: {{max_parallel: 2}}
agents:
  - {{id: a, prompt: "review api.py"}}
  - {{id: b, prompt: "review db.py"}}
"""
    )
    # One slot per worker: the two forks run at once, so on both workers, one of them
    # the worker that did not build the base.
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        store = await PostgresStore.open(postgres_url)
        try:
            async with open_rehearsal(MockAPIConfig(), tmp_path / "home") as rehearsal:
                backend = ClaudeBackend(store, env=rehearsal.env)
                options = ExecutorOptions(
                    engine_name="dask",
                    dask_address=cluster.scheduler_address,
                    store_url=postgres_url,
                )
                result = await ParallelSwarmExecutor(backend, store, options=options).run(plan)
                server_ids = rehearsal.server.session_ids()
            assert result.succeeded, [a.error for a in result.agents.values()]
            client: Any = await trio.to_thread.run_sync(
                distributed.Client, cluster.scheduler_address
            )
            try:
                homes = await trio.to_thread.run_sync(client.run, _home)
            finally:
                await trio.to_thread.run_sync(client.close)
            base_id = result.base_session_id
            assert base_id is not None and base_id in server_ids
            base = await store.get_session(base_id)
            assert base is not None
            built_on = base.metadata["dask_worker"]
            forked_on = set()
            for agent in result.agents.values():
                assert agent.session_id is not None and agent.session_id in server_ids
                session = await store.get_session(agent.session_id)
                assert session is not None
                forked_on.add(session.metadata["dask_worker"])
                chain = await lineage(store, agent.session_id)
                assert [s.session_id for s in chain] == [base_id, agent.session_id]
                assert [m.role for m in await store.get_messages(agent.session_id)] == [
                    "user",
                    "assistant",
                ]
            assert forked_on - {built_on}, (built_on, forked_on)  # a fork on the other worker
            # No shared files: each worker's CLIs had a home of their own, and the base's
            # transcript reached the other worker from the store.
            assert len(set(homes.values())) == 2
            written = await trio.to_thread.run_sync(
                lambda: list(Path(homes[built_on]).rglob(f"{base_id}.jsonl"))
            )
            assert written  # by the CLI on the worker that built it
            assert await store.transcript_projects(base_id)  # and mirrored to the store
        finally:
            await store.aclose()
