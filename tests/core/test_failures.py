"""Timeouts, failure isolation, fail_fast, cancellation and hooks."""

from __future__ import annotations

import pytest
import trio

from swarm import (
    AgentRequest,
    AgentResult,
    AgentStatus,
    EventKind,
    MemoryStore,
    ParallelSwarmExecutor,
    PlanError,
    RunStatus,
    SkipAgent,
    SwarmEvent,
)
from swarm.backends import (
    AgentOutcome,
    AgentSink,
    BaseRequest,
    BaseSession,
    SimulatedBackend,
    SimulatedSettings,
    create_backend,
)

from .helpers import make_plan, run_plan, starts


async def test_timeout_is_set_by_the_executor(autojump_clock: trio.testing.MockClock) -> None:
    """An agent over its timeout_s is timed_out at exactly that time; the others succeed."""
    plan = make_plan(
        [{"id": "slow", "latency": 10, "timeout_s": 2}, {"id": "ok", "latency": 1}],
        execution={"max_parallel": 2},
    )
    result, _, store = await run_plan(plan)
    slow = result.agents["slow"]
    assert slow.status is AgentStatus.TIMED_OUT
    assert slow.duration_s == pytest.approx(2.0)
    assert "timed out after 2" in (slow.error or "")
    assert slow.session_id is not None  # what it did before the timeout stays attached
    assert result.agents["ok"].status is AgentStatus.SUCCEEDED
    assert result.status is RunStatus.FAILED
    stored = {a.agent_id: a for a in await store.list_agents(result.run_id)}
    assert stored["slow"].status is AgentStatus.TIMED_OUT


async def test_one_failure_does_not_stop_the_others(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A failing agent is recorded with its reason while every other agent succeeds."""
    plan = make_plan(
        [
            {"id": "bad", "latency": 1, "simulated": {"failure_rate": 1.0}},
            *({"id": f"good{i}", "latency": 2} for i in range(4)),
        ],
        execution={"max_parallel": 2},
    )
    result, _, _ = await run_plan(plan)
    assert result.agents["bad"].status is AgentStatus.FAILED
    assert "simulated failure" in (result.agents["bad"].error or "")
    assert [a.status for a in result.agents.values() if a.agent_id != "bad"] == [
        AgentStatus.SUCCEEDED
    ] * 4
    assert result.metrics.counts == {"failed": 1, "succeeded": 4}


async def test_fail_fast_cancels_running_and_skips_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With fail_fast the first failure cancels running agents and skips waiting ones."""
    plan = make_plan(
        [
            {"id": "bad", "latency": 1, "simulated": {"failure_rate": 1.0}},
            {"id": "running", "latency": 5},
            {"id": "waiting", "latency": 1},
        ],
        execution={"max_parallel": 2, "fail_fast": True},
    )
    result, _, store = await run_plan(plan)
    statuses = {a.agent_id: a.status for a in result.agents.values()}
    assert statuses == {
        "bad": AgentStatus.FAILED,
        "running": AgentStatus.CANCELLED,
        "waiting": AgentStatus.SKIPPED,
    }
    assert "fail_fast" in (result.agents["waiting"].error or "")
    assert result.metrics.agents_wall_s == pytest.approx(1.0)
    assert result.status is RunStatus.FAILED
    stored = {a.agent_id: a.status for a in await store.list_agents(result.run_id)}
    assert stored == statuses


async def test_cancel_keeps_finished_work(autojump_clock: trio.testing.MockClock) -> None:
    """executor.cancel() stops the run; finished agents stay succeeded in the store."""
    plan = make_plan(
        [
            {"id": "quick", "latency": 1},
            {"id": "slow", "latency": 10},
            {"id": "later", "latency": 1},
        ],
        execution={"max_parallel": 2},
    )
    store = MemoryStore()
    executor = ParallelSwarmExecutor(create_backend(plan.backend, store), store)
    async with trio.open_nursery() as nursery:

        async def interrupt() -> None:
            await trio.sleep(2.5)
            executor.cancel("Ctrl-C")

        nursery.start_soon(interrupt)
        result = await executor.run(plan)
    assert result.status is RunStatus.INTERRUPTED
    assert result.agents["quick"].status is AgentStatus.SUCCEEDED
    assert result.agents["later"].status is AgentStatus.SUCCEEDED
    assert result.agents["slow"].status is AgentStatus.CANCELLED
    assert result.agents["slow"].error == "Ctrl-C"
    assert result.agents["slow"].duration_s == pytest.approx(2.5)
    run = await store.get_run(result.run_id)
    assert run is not None and run.status is RunStatus.INTERRUPTED
    stored = {a.agent_id: a for a in await store.list_agents(result.run_id)}
    assert stored["quick"].output and stored["quick"].status is AgentStatus.SUCCEEDED
    assert stored["slow"].status is AgentStatus.CANCELLED


async def test_outer_cancellation_propagates_after_persisting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Cancelling the caller's scope re-raises Cancelled, but finished work is written first."""
    plan = make_plan(
        [
            {"id": "quick", "latency": 1},
            {"id": "slow", "latency": 10},
            {"id": "never", "latency": 1},
        ],
        execution={"max_parallel": 2, "mode": "batch"},
    )
    store = MemoryStore()
    executor = ParallelSwarmExecutor(create_backend(plan.backend, store), store)
    returned = False
    with trio.move_on_after(3) as scope:
        await executor.run(plan)
        returned = True
    assert scope.cancelled_caught and not returned
    (run,) = await store.list_runs()
    assert run.status is RunStatus.INTERRUPTED and run.metrics is not None
    stored = {a.agent_id: a.status for a in await store.list_agents(run.run_id)}
    assert stored == {
        "quick": AgentStatus.SUCCEEDED,
        "slow": AgentStatus.CANCELLED,
        "never": AgentStatus.CANCELLED,
    }


async def test_hooks_run_around_each_agent(autojump_clock: trio.testing.MockClock) -> None:
    """Pre-agent hooks see each request and may skip it; post-agent hooks see each result."""
    seen: list[str] = []
    finished: list[AgentResult] = []

    async def pre(request: AgentRequest) -> None:
        seen.append(request.agent_id)
        if request.agent_id == "skip-me":
            raise SkipAgent("not today")

    async def post(result: AgentResult) -> None:
        finished.append(result)

    plan = make_plan([{"id": "a"}, {"id": "skip-me"}], execution={"max_parallel": 1})
    result, _, _ = await run_plan(plan, pre_agent=[pre], post_agent=[post])
    assert seen == ["a", "skip-me"]
    assert result.agents["skip-me"].status is AgentStatus.SKIPPED
    assert "not today" in (result.agents["skip-me"].error or "")
    assert [r.agent_id for r in finished] == ["a", "skip-me"]


async def test_event_stream_covers_every_agent_and_closes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Each agent is queued, started and finished on the stream, which then closes."""
    plan = make_plan([{"id": "a"}, {"id": "b"}], execution={"max_parallel": 2})
    result, events, _ = await run_plan(plan)
    kinds = [e.kind for e in events]
    assert kinds[0] is EventKind.RUN_STARTED and kinds[-1] is EventKind.RUN_FINISHED
    for agent in ("a", "b"):
        mine = [e.kind for e in events if e.agent_id == agent]
        assert mine[0] is EventKind.QUEUED and mine[1] is EventKind.STARTED
        assert EventKind.MESSAGE in mine and mine[-1] is EventKind.FINISHED
    final: SwarmEvent = events[-1]
    assert final.swarm is not None and final.swarm.run_id == result.run_id


async def test_unknown_base_session_is_refused_before_anything_is_written(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A base session the store does not hold is a PlanError at base.session, raised before
    the run is written (it was a failed run of skipped agents, seen only after it "ran")."""
    plan = make_plan([{"id": "a"}])
    plan = plan.with_overrides(base={"prompt": None, "session": "no-such-session"})
    store = MemoryStore()
    executor = ParallelSwarmExecutor(create_backend(plan.backend, store), store)
    with pytest.raises(PlanError) as caught:
        await executor.run(plan, plan_path="plan.yaml")
    (issue,) = caught.value.issues
    assert (issue.file, issue.field) == ("plan.yaml", "base.session")
    assert "no session 'no-such-session' in the store" in issue.message
    assert await store.list_runs() == []


async def test_fork_off_an_existing_session_at_a_message(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A plan can fork an earlier run's session at one of its messages."""
    first, _, store = await run_plan(make_plan([{"id": "a"}]))
    base = first.base_session_id
    assert base is not None
    (prompt_message, _reply) = await store.get_messages(base)
    plan = make_plan([{"id": "b"}]).with_overrides(
        base={"prompt": None, "session": base, "at": prompt_message.uuid}
    )
    second, _, _ = await run_plan(plan, store=store)
    b = second.agents["b"]
    assert b.status is AgentStatus.SUCCEEDED
    assert (b.parent_session_id, b.fork_point) == (base, prompt_message.uuid)
    from swarm import history

    assert b.session_id is not None
    inherited = [m.uuid for m in await history(store, b.session_id)]
    assert inherited[0] == prompt_message.uuid and _reply.uuid not in inherited


async def test_fork_at_an_unknown_message_fails_that_agent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """fork_at naming no message of the base fails only that agent, with the uuid named.

    (A plan file is refused sooner: a base built from a prompt has no uuids to name.)"""
    plan = make_plan([{"id": "bad"}, {"id": "good"}])
    bad, good = plan.agents
    plan = plan.model_copy(update={"agents": [bad.model_copy(update={"fork_at": "nope"}), good]})
    result, events, _ = await run_plan(plan)
    assert result.agents["bad"].status is AgentStatus.FAILED
    assert "nope" in (result.agents["bad"].error or "")
    assert result.agents["good"].status is AgentStatus.SUCCEEDED
    assert set(starts(events)) == {"bad", "good"}


class _Exploding(SimulatedBackend):
    """A backend with a bug: a plain RuntimeError where it should raise a BackendError."""

    def __init__(self, store: MemoryStore, *, in_base: bool = False, agent: str | None = None):
        super().__init__(store, settings=SimulatedSettings(latency_s=1.0, jitter=0))
        self.in_base, self.agent = in_base, agent

    async def open_base(self, request: BaseRequest, sink: AgentSink) -> BaseSession:
        if self.in_base:
            raise RuntimeError("unforeseen trouble in open_base")
        return await super().open_base(request, sink)

    async def run_agent(self, request: AgentRequest, sink: AgentSink) -> AgentOutcome:
        if request.agent_id == self.agent:
            raise RuntimeError("unforeseen trouble in run_agent")
        return await super().run_agent(request, sink)


async def test_an_unforeseen_exception_building_the_base_fails_the_run_with_its_reason(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A plain RuntimeError from open_base ends the run `failed` saying why, and every agent
    `skipped` with that reason, in the result and the store; nothing escapes the run."""
    store = MemoryStore()
    backend = _Exploding(store, in_base=True)
    plan = make_plan([{"id": "a"}, {"id": "b"}])
    result = await ParallelSwarmExecutor(backend, store).run(plan)
    why = "the base session could not be built: RuntimeError: unforeseen trouble in open_base"
    assert result.status is RunStatus.FAILED and result.error == why
    stored_run = await store.get_run(result.run_id)
    assert stored_run is not None and stored_run.error == why
    for agent in [*result.agents.values(), *await store.list_agents(result.run_id)]:
        assert (agent.status, agent.error) == (AgentStatus.SKIPPED, why)


async def test_an_unforeseen_exception_in_an_agent_fails_only_that_agent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A plain RuntimeError from run_agent fails that agent with the exception named; the
    others succeed and the run ends `failed` as for any failed agent."""
    store = MemoryStore()
    backend = _Exploding(store, agent="a")
    result = await ParallelSwarmExecutor(backend, store).run(make_plan([{"id": "a"}, {"id": "b"}]))
    a, b = result.agents["a"], result.agents["b"]
    assert (a.status, a.error) == (
        AgentStatus.FAILED,
        "RuntimeError: unforeseen trouble in run_agent",
    )
    assert b.status is AgentStatus.SUCCEEDED
    assert result.status is RunStatus.FAILED and result.metrics.counts == {
        "failed": 1,
        "succeeded": 1,
    }
