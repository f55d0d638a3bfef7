"""`ParallelSwarmExecutor.resume` after a simulated kill -9, in virtual time."""

from __future__ import annotations

import pytest
import trio

from swarm import AgentStatus, MemoryStore, RunStatus, SwarmResult
from swarm.errors import LeaseHeld, NotFoundError
from swarm.testing import AgentScript, ScriptedBackend

from .helpers import DyingStore, FakeClock, executor_for, run_until_death, scripted_plan

IDS = [f"a{i}" for i in range(8)]
SCRIPTS = {
    agent_id: AgentScript(latency_s=0.5 + 0.25 * i, calls=2, cost_usd=0.01, output_tokens=10 + i)
    for i, agent_id in enumerate(IDS)
}


def backend_on(store: object) -> ScriptedBackend:
    return ScriptedBackend(store, SCRIPTS, base_latency_s=1.0)  # type: ignore[arg-type]


async def reference_run() -> SwarmResult:
    store = MemoryStore()
    executor = executor_for(backend_on(store), store, FakeClock())
    return await executor.run(scripted_plan(IDS, max_parallel=3), run_id="reference")


def same_outcome(resumed: SwarmResult, reference: SwarmResult) -> None:
    for agent_id, expected in reference.agents.items():
        got = resumed.agents[agent_id]
        assert (got.status, got.output, got.usage, got.cost_usd, got.turns) == (
            expected.status,
            expected.output,
            expected.usage,
            expected.cost_usd,
            expected.turns,
        ), agent_id
        assert got.duration_s == pytest.approx(expected.duration_s)
    assert resumed.status is reference.status
    m, r = resumed.metrics, reference.metrics
    assert (m.counts, m.usage, m.retries) == (r.counts, r.usage, r.retries)
    assert m.cost_usd == pytest.approx(r.cost_usd)
    assert m.total_agent_s == pytest.approx(r.total_agent_s)
    assert m.longest_agent_s == pytest.approx(r.longest_agent_s)


@pytest.mark.parametrize("death_s", [0.4, 1.3, 2.6, 3.9, 5.2])
async def test_resume_after_death_matches_an_uninterrupted_run(
    autojump_clock: trio.testing.MockClock, death_s: float
) -> None:
    """Killed at any point, a resumed run ends exactly like one never interrupted,
    and no agent whose final record was persisted runs again."""
    reference = await reference_run()
    inner = MemoryStore()
    dying = DyingStore(inner)
    backend = backend_on(inner)
    clock = FakeClock()
    plan = scripted_plan(IDS, max_parallel=3)
    await run_until_death(executor_for(backend, dying, clock), dying, plan, death_s, "r1")
    before = {a.agent_id: a for a in await inner.list_agents("r1")}
    finished = {i for i, a in before.items() if a.status.is_final}
    based = (await inner.get_run("r1")).base_session_id  # type: ignore[union-attr]

    clock.now += 31  # the dead process's lease expires
    resumed = await executor_for(backend, inner, clock).resume("r1")

    same_outcome(resumed, reference)
    for agent_id in finished:
        assert resumed.agents[agent_id] == before[agent_id]  # kept byte for byte
        assert backend.stats.executions[agent_id] == 1
    assert all(backend.stats.executions[i] >= 1 for i in IDS)
    assert backend.stats.bases == (1 if based else 2)  # a ready base is reused
    record = await inner.get_run("r1")
    assert record is not None and record.status is RunStatus.SUCCEEDED
    assert [a.kind for a in record.attempts] == ["run", "resume"]
    assert sorted(record.attempts[1].kept) == sorted(finished)
    assert record.attempts[1].status == "succeeded"


async def test_resume_is_refused_while_the_lease_is_live(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Until the dead holder's lease expires, resume fails naming the holder and expiry."""
    inner = MemoryStore()
    dying = DyingStore(inner)
    backend = backend_on(inner)
    clock = FakeClock()
    await run_until_death(executor_for(backend, dying, clock), dying, scripted_plan(IDS), 2.5, "r1")
    holder = await inner.get_lease("run:r1")
    assert holder is not None
    clock.now += 29
    with pytest.raises(LeaseHeld, match=f"held by {holder.owner} until "):
        await executor_for(backend, inner, clock).resume("r1")
    executions = sum(backend.stats.executions.values())
    clock.now += 2
    result = await executor_for(backend, inner, clock).resume("r1")
    assert result.status is RunStatus.SUCCEEDED
    assert sum(backend.stats.executions.values()) > executions
    assert await inner.get_lease("run:r1") is None  # released at the end


@pytest.mark.parametrize("policy", ["continue", "restart"])
async def test_running_agents_continue_or_restart_by_policy(
    autojump_clock: trio.testing.MockClock, policy: str
) -> None:
    """An agent caught mid-way continues its own session, or forks afresh with restart."""
    inner = MemoryStore()
    dying = DyingStore(inner)
    scripts = {"long": AgentScript(latency_s=1.0, calls=4)}
    backend = ScriptedBackend(inner, scripts)
    clock = FakeClock()
    plan = scripted_plan(["long"], on_resume=policy)
    await run_until_death(executor_for(backend, dying, clock), dying, plan, 2.5, "r1")
    (caught,) = await inner.list_agents("r1")
    assert caught.status is AgentStatus.RUNNING
    # the session it had started is on record (its id joins the agent record when it ends)
    (started,) = [s for s in await inner.list_sessions("r1") if s.agent_id == "long"]

    clock.now += 31
    result = await executor_for(backend, inner, clock).resume("r1")

    final = result.agents["long"]
    assert final.status is AgentStatus.SUCCEEDED
    if policy == "continue":
        assert backend.stats.resumed == [("long", started.session_id)]
        assert final.session_id == started.session_id
    else:
        assert backend.stats.resumed == []
        assert final.session_id != started.session_id
    record = await inner.get_run("r1")
    assert record is not None
    key = "continued" if policy == "continue" else "restarted"
    assert getattr(record.attempts[1], key) == ["long"]


async def test_final_states_are_kept_and_the_rest_runs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Succeeded, failed and timed-out agents are kept; running and pending ones run."""
    inner = MemoryStore()
    dying = DyingStore(inner)
    scripts = {
        "ok": AgentScript(latency_s=1.0),
        "bad": AgentScript(latency_s=1.0, fail="boom"),
        "slow": AgentScript(latency_s=10.0),
        "caught": AgentScript(latency_s=5.0),
        "waiting": AgentScript(latency_s=1.0),
    }
    backend = ScriptedBackend(inner, scripts)
    clock = FakeClock()
    plan = scripted_plan(
        {"ok": {}, "bad": {}, "slow": {"timeout_s": 2}, "caught": {}, "waiting": {}},
        max_parallel=4,
    )
    await run_until_death(executor_for(backend, dying, clock), dying, plan, 2.5, "r1")
    clock.now += 31
    result = await executor_for(backend, inner, clock).resume("r1")

    statuses = {i: a.status for i, a in result.agents.items()}
    assert statuses == {
        "ok": AgentStatus.SUCCEEDED,
        "bad": AgentStatus.FAILED,
        "slow": AgentStatus.TIMED_OUT,
        "caught": AgentStatus.SUCCEEDED,
        "waiting": AgentStatus.SUCCEEDED,
    }
    assert dict(backend.stats.executions) == {
        "ok": 1,
        "bad": 1,
        "slow": 1,
        "caught": 2,
        "waiting": 1,
    }
    assert result.status is RunStatus.FAILED  # as it would be uninterrupted


async def test_forks_of_kept_agents_are_released_or_skipped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A pending fork of a kept agent forks its session; a fork of a failed one is skipped."""
    inner = MemoryStore()
    dying = DyingStore(inner)
    scripts = {
        "parent": AgentScript(latency_s=1.0),
        "broken": AgentScript(latency_s=1.0, fail="boom"),
        "blocker": AgentScript(latency_s=5.0),
    }
    backend = ScriptedBackend(inner, scripts)
    clock = FakeClock()
    plan = scripted_plan(
        {
            "parent": {},
            "broken": {},
            "blocker": {},
            "child": {"fork_from": {"agent": "parent"}},
            "orphan": {"fork_from": {"agent": "broken"}},
        },
        max_parallel=3,
    )
    # Killed after both parents ended and before the child got a slot... or had one.
    await run_until_death(executor_for(backend, dying, clock), dying, plan, 1.5, "r1")
    clock.now += 31
    result = await executor_for(backend, inner, clock).resume("r1")

    child = result.agents["child"]
    assert child.status is AgentStatus.SUCCEEDED
    assert child.parent_session_id == result.agents["parent"].session_id
    assert result.agents["orphan"].status is AgentStatus.SKIPPED
    assert "broken" in (result.agents["orphan"].error or "")
    assert backend.stats.executions["parent"] == 1


async def test_an_interrupted_run_resumes_its_cancelled_agents(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """After executor.cancel (Ctrl-C), resume runs the cancelled agents and succeeds."""
    store = MemoryStore()
    backend = backend_on(store)
    clock = FakeClock()
    executor = executor_for(backend, store, clock)
    plan = scripted_plan(IDS, max_parallel=3)

    async def interrupt() -> None:
        await trio.sleep(2.6)
        executor.cancel("interrupted by the user")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(interrupt)
        first = await executor.run(plan, run_id="r1")
    assert first.status is RunStatus.INTERRUPTED
    cancelled = {i for i, a in first.agents.items() if a.status is AgentStatus.CANCELLED}
    assert cancelled

    resumed = await executor_for(backend, store, clock).resume("r1")
    same_outcome(resumed, await reference_run())
    for agent_id in set(IDS) - cancelled:
        assert backend.stats.executions[agent_id] == 1


async def test_a_finished_run_has_nothing_to_resume(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Resuming a run that ended returns it as stored and runs nothing."""
    store = MemoryStore()
    backend = backend_on(store)
    clock = FakeClock()
    first = await executor_for(backend, store, clock).run(scripted_plan(IDS), run_id="r1")
    again = await executor_for(backend, store, clock).resume("r1")
    assert again.agents == first.agents
    assert again.status is first.status
    assert sum(backend.stats.executions.values()) == len(IDS)
    record = await store.get_run("r1")
    assert record is not None and len(record.attempts) == 1


async def test_resume_of_an_unknown_run_names_it() -> None:
    """An unknown run id is a NotFoundError naming it, and takes no lease."""
    store = MemoryStore()
    with pytest.raises(NotFoundError, match="no run 'nope'"):
        await executor_for(backend_on(store), store, FakeClock()).resume("nope")
    assert await store.get_lease("run:nope") is None
