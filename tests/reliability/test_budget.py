"""The swarm-wide budget (execution.budget) in virtual time."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from swarm import AgentStatus, EventKind, MemoryStore, RunStatus
from swarm.testing import AgentScript, ScriptedBackend

from .helpers import DyingStore, FakeClock, collect, executor_for, run_until_death, scripted_plan

# a1 is the long one; each agent makes one call costing $1 and 120 tokens.
LATENCIES = {"a0": 1.0, "a1": 3.5, "a2": 1.0, "a3": 1.0, "a4": 1.0, "a5": 1.0}
SCRIPTS = {i: AgentScript(latency_s=s, cost_usd=1.0) for i, s in LATENCIES.items()}


def budget_plan(**budget: Any) -> Any:
    return scripted_plan(list(LATENCIES), max_parallel=2, budget=budget)


@pytest.mark.parametrize(
    ("on_exhausted", "long_one"), [("finish", AgentStatus.SUCCEEDED), ("cancel", "cancelled")]
)
async def test_once_the_cost_budget_is_reached_nothing_new_starts(
    autojump_clock: trio.testing.MockClock, on_exhausted: str, long_one: Any
) -> None:
    """At $3 of $2.50 nothing starts; the running one finishes or is cancelled; the rest say why."""
    store = MemoryStore()
    executor = executor_for(ScriptedBackend(store, SCRIPTS), store, FakeClock())
    plan = budget_plan(max_cost_usd=2.5, on_exhausted=on_exhausted)
    result, events = await collect(lambda events: executor.run(plan, events=events))

    assert result.status is RunStatus.BUDGET_EXHAUSTED
    starts = {e.agent_id: e.elapsed_s for e in events if e.kind is EventKind.STARTED}
    assert starts == {"a0": 0.0, "a1": 0.0, "a2": 1.0, "a3": 2.0}  # none at or after 3 s
    statuses = {i: a.status for i, a in result.agents.items()}
    assert statuses == {
        "a0": AgentStatus.SUCCEEDED,
        "a1": AgentStatus(long_one),
        "a2": AgentStatus.SUCCEEDED,
        "a3": AgentStatus.SUCCEEDED,
        "a4": AgentStatus.SKIPPED,
        "a5": AgentStatus.SKIPPED,
    }
    for skipped in ("a4", "a5"):
        assert result.agents[skipped].error == "budget exhausted ($3.0000, 360 tokens)"
    if on_exhausted == "cancel":
        assert result.agents["a1"].error == "budget exhausted ($3.0000, 360 tokens)"
        assert result.metrics.wall_s == pytest.approx(3.0)
    else:
        assert result.metrics.cost_usd == pytest.approx(4.0)
    record = await store.get_run(result.run_id)
    assert record is not None and record.status is RunStatus.BUDGET_EXHAUSTED
    stored = {a.agent_id: a.status for a in await store.list_agents(result.run_id)}
    assert stored == statuses


async def test_the_token_budget_counts_every_agent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """max_tokens 250: two agents (240 tokens) stay under it, the third crosses it."""
    store = MemoryStore()
    executor = executor_for(ScriptedBackend(store, SCRIPTS), store, FakeClock())
    result = await executor.run(budget_plan(max_tokens=250, on_exhausted="cancel"))
    assert result.status is RunStatus.BUDGET_EXHAUSTED
    assert result.metrics.usage.total == 360
    assert "360 tokens" in (result.error or "")
    assert result.metrics.counts == {"succeeded": 3, "cancelled": 1, "skipped": 2}


async def test_a_resumed_run_counts_what_its_kept_agents_spent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Killed at 2.5 s with $2 spent, the resumed run stops where an unkilled one stops."""
    store = MemoryStore()
    reference = await executor_for(ScriptedBackend(store, SCRIPTS), store, FakeClock()).run(
        budget_plan(max_cost_usd=2.5)
    )
    inner = MemoryStore()
    dying = DyingStore(inner)
    backend = ScriptedBackend(inner, SCRIPTS)
    clock = FakeClock()
    plan = budget_plan(max_cost_usd=2.5)
    await run_until_death(executor_for(backend, dying, clock), dying, plan, 2.5, "r1")
    clock.now += 31
    resumed = await executor_for(backend, inner, clock).resume("r1")

    assert resumed.status is RunStatus.BUDGET_EXHAUSTED
    assert {i: a.status for i, a in resumed.agents.items()} == {
        i: a.status for i, a in reference.agents.items()
    }
    assert resumed.metrics.cost_usd == pytest.approx(reference.metrics.cost_usd)
    assert backend.stats.executions["a4"] == backend.stats.executions["a5"] == 0

    again = await executor_for(backend, inner, clock).resume("r1")  # still over budget
    assert again.status is RunStatus.BUDGET_EXHAUSTED
    assert backend.stats.executions["a4"] == backend.stats.executions["a5"] == 0
