"""The Dask engine: agents run on the workers of a LocalCluster (2 worker processes), the
PostgreSQL store shared; the executor's behaviour is the local engine's."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
import trio

from swarm import ParallelSwarmExecutor, Plan
from swarm.backends import create_backend
from swarm.engine import ExecutorOptions
from swarm.records import AgentStatus, SwarmResult
from swarm.stores import PostgresStore, Store, lineage, verify_postgres
from tests.core.helpers import make_plan

distributed = pytest.importorskip("distributed", reason="the swarm[distributed] extra")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes (not threads: a worker can be killed), four slots each."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=4, processes=True, dashboard_address=None
    ) as local:
        yield local


def dask_options(cluster: Any, url: str, **kw: Any) -> ExecutorOptions:
    return ExecutorOptions(
        engine_name="dask", dask_address=cluster.scheduler_address, store_url=url, **kw
    )


async def run(plan: Plan, store: Store, options: ExecutorOptions | None = None) -> SwarmResult:
    backend = create_backend(plan.backend, store)
    return await ParallelSwarmExecutor(backend, store, options=options).run(plan)


def with_store(plan: Plan, url: str) -> Plan:
    return plan.model_copy(update={"store": plan.store.model_copy(update={"url": url})})


async def what_was_kept(store: Store, result: SwarmResult) -> dict[str, Any]:
    """A run as the store keeps it, without ids that differ between two runs."""
    kept: dict[str, Any] = {}
    for agent in await store.list_agents(result.run_id):
        assert agent.session_id is not None
        chain = await lineage(store, agent.session_id)
        messages = await store.get_messages(agent.session_id)
        checkpoints = await store.list_checkpoints(agent.session_id)
        kept[agent.agent_id] = {
            "status": agent.status,
            "output": agent.output,
            "turns": agent.turns,
            "lineage": [s.agent_id for s in chain],
            "messages": [(m.role, m.content) for m in messages],
            "checkpoints": [(c.kind, c.message_count, c.description) for c in checkpoints],
        }
    return kept


PLAN_AGENTS = [
    {"id": "a", "latency": 0.3, "priority": "critical"},
    {"id": "b", "latency": 0.2, "simulated": {"turns": 3}},
    {"id": "c", "latency": 0.2, "fork_from": {"agent": "a"}},
    {"id": "d", "latency": 0.1, "simulated": {"failure_rate": 1.0}},
    {"id": "e", "latency": 0.1, "fork_from": {"agent": "c"}},
]


async def test_a_plan_on_two_workers_keeps_what_the_local_engine_keeps(
    cluster: Any, postgres_server: Any
) -> None:
    """Statuses, outputs, lineage, messages and checkpoints are the local engine's."""
    plan = make_plan(PLAN_AGENTS, execution={"max_parallel": 4}, checkpoints={"every": 2})
    kept = []
    for engine in ("local", "dask"):
        url = postgres_server.create_database(f"same_{engine}")
        store = await PostgresStore.open(url)
        try:
            options = dask_options(cluster, url) if engine == "dask" else None
            result = await run(with_store(plan, url), store, options)
            kept.append(await what_was_kept(store, result))
        finally:
            await store.aclose()
    local, on_dask = kept
    assert on_dask == local
    assert local["d"]["status"] is AgentStatus.FAILED
    assert local["e"]["lineage"] == [None, "a", "c", "e"]
    assert len(local["b"]["messages"]) > 2 and local["b"]["checkpoints"]


async def test_the_agents_ran_on_the_workers(cluster: Any, postgres_url: str) -> None:
    """The base and each agent's session were started by a worker (its address and the
    call's id are in the session's metadata)."""
    plan = make_plan([{"id": f"x{n}", "latency": 0.1} for n in range(4)])
    store = await PostgresStore.open(postgres_url)
    try:
        result = await run(
            with_store(plan, postgres_url), store, dask_options(cluster, postgres_url)
        )
        assert result.succeeded
        sessions = {s.agent_id: s for s in await store.list_sessions(result.run_id)}
        assert len(sessions) == 5  # the base and four agents
        for session in sessions.values():
            assert "dask_call" in session.metadata
            assert session.metadata["dask_worker"] in {
                w.worker_address for w in cluster.workers.values()
            }
    finally:
        await store.aclose()


async def test_a_timeout_stops_the_call_on_its_worker(cluster: Any, postgres_url: str) -> None:
    """An agent timed out by the executor stops on its worker too: nothing keeps running."""
    plan = make_plan(
        [{"id": "slow", "latency": 60.0, "timeout_s": 0.5}, {"id": "quick", "latency": 0.1}]
    )
    store = await PostgresStore.open(postgres_url)
    try:
        result = await run(
            with_store(plan, postgres_url), store, dask_options(cluster, postgres_url)
        )
        assert result.agents["slow"].status is AgentStatus.TIMED_OUT
        assert result.agents["quick"].status is AgentStatus.SUCCEEDED
        from swarm.engine._dask_worker import calls_in_flight  # a probe run on the workers

        client = await trio.to_thread.run_sync(distributed.Client, cluster.scheduler_address)
        try:
            with trio.fail_after(20):
                while True:  # the worker's own count of the calls it runs
                    running = await trio.to_thread.run_sync(client.run, calls_in_flight)
                    if not sum(running.values()):
                        break
                    await trio.sleep(0.1)
        finally:
            await trio.to_thread.run_sync(client.close)
    finally:
        await store.aclose()


async def test_a_worker_killed_mid_agent_reruns_it_once_continuing_its_session(
    postgres_url: str,
) -> None:
    """kill -9 of the worker process running agents: they run again on the other worker,
    continuing the sessions they had; every agent ends exactly once; the store verifies."""
    plan = make_plan(
        [{"id": f"k{n}", "latency": 2.0} for n in range(4)], execution={"max_parallel": 4}
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
    ) as local:
        store = await PostgresStore.open(postgres_url)
        try:
            client = await trio.to_thread.run_sync(distributed.Client, local.scheduler_address)
            killed: list[int] = []

            async def kill_a_busy_worker() -> None:
                from swarm.engine._dask_worker import calls_in_flight  # a probe run on the workers

                with trio.fail_after(60):
                    while True:
                        busy = await trio.to_thread.run_sync(client.run, calls_in_flight)
                        pids = await trio.to_thread.run_sync(client.run, os.getpid)
                        running = [pids[w] for w, n in busy.items() if n > 0]
                        sessions = [
                            s for s in await store.list_sessions() if s.agent_id is not None
                        ]
                        if running and len(sessions) >= 2:
                            os.kill(running[0], signal.SIGKILL)
                            killed.append(running[0])
                            return
                        await trio.sleep(0.05)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(kill_a_busy_worker)
                result = await run(
                    with_store(plan, postgres_url), store, dask_options(local, postgres_url)
                )
            await trio.to_thread.run_sync(client.close)
            assert killed
            assert result.succeeded, {a.agent_id: a.error for a in result.agents.values()}
            agents = await store.list_agents(result.run_id)
            assert sorted(a.agent_id for a in agents) == ["k0", "k1", "k2", "k3"]
            assert all(a.status is AgentStatus.SUCCEEDED for a in agents)
            # One session per agent: a rerun continued its session, it did not start another.
            sessions = [s for s in await store.list_sessions(result.run_id) if s.agent_id]
            assert sorted(s.agent_id for s in sessions) == ["k0", "k1", "k2", "k3"]
            assert result.metrics.counts == {"succeeded": 4}
        finally:
            await store.aclose()
    report = verify_postgres(postgres_url)
    assert report.clean, report.problems


async def test_postgres_restarted_mid_run_is_waited_out_with_nothing_lost(
    cluster: Any, postgres_server: Any
) -> None:
    """The server restarts while agents on the workers write: the run waits and goes on;
    every agent, session and message is there afterwards and the store verifies."""
    url = postgres_server.create_database("restart_mid_run")
    plan = make_plan(
        [{"id": f"r{n}", "latency": 0.6} for n in range(8)], execution={"max_parallel": 4}
    )
    store = await PostgresStore.open(url)
    try:
        async with trio.open_nursery() as nursery:

            async def restart_once_agents_run() -> None:
                with trio.fail_after(60):
                    while True:  # until an agent on a worker has written its session
                        if [s for s in await store.list_sessions() if s.agent_id]:
                            break
                        await trio.sleep(0.05)
                await trio.to_thread.run_sync(postgres_server.restart)

            nursery.start_soon(restart_once_agents_run)
            result = await run(with_store(plan, url), store, dask_options(cluster, url))
        assert result.succeeded, {a.agent_id: a.error for a in result.agents.values()}
        for agent in await store.list_agents(result.run_id):
            assert agent.session_id is not None
            assert [m.role for m in await store.get_messages(agent.session_id)] == [
                "user",
                "assistant",
            ]
    finally:
        await store.aclose()
    assert verify_postgres(url).clean


async def test_an_interrupted_dask_run_resumes_on_the_cluster(
    cluster: Any, postgres_url: str
) -> None:
    """A run stopped after its first agent ends is resumed on the workers: the finished
    agent is kept, the others run, each once."""
    plan = make_plan(
        [
            {"id": "first", "latency": 0.1},
            # forks of "first": they start only once it ended, so never before the stop
            *(
                {"id": f"later{n}", "latency": 0.5, "fork_from": {"agent": "first"}}
                for n in range(3)
            ),
        ],
        execution={"max_parallel": 4},
    )
    store = await PostgresStore.open(postgres_url)
    try:
        backend = create_backend(plan.backend, store)
        options = dask_options(cluster, postgres_url)

        ended: list[tuple[str, str | None]] = []

        async def stop_after_first(result: Any) -> None:
            ended.append((result.agent_id, result.error))
            if result.agent_id == "first":
                executor.cancel("stopped by the test")

        executor = ParallelSwarmExecutor(
            backend, store, options=options, post_agent=[stop_after_first]
        )
        first = await executor.run(with_store(plan, postgres_url))
        assert first.agents["first"].status is AgentStatus.SUCCEEDED, ended
        assert AgentStatus.SUCCEEDED not in {first.agents[f"later{n}"].status for n in range(3)}
        resumed = await ParallelSwarmExecutor(backend, store, options=options).resume(first.run_id)
        assert resumed.succeeded, {a.agent_id: a.error for a in resumed.agents.values()}
        agents = await store.list_agents(first.run_id)
        assert sorted(a.agent_id for a in agents) == ["first", "later0", "later1", "later2"]
        assert all(a.status is AgentStatus.SUCCEEDED for a in agents)
    finally:
        await store.aclose()
