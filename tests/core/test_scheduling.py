"""The window, priorities, batches and metrics, checked exactly in virtual time."""

from __future__ import annotations

import pytest
import trio

from swarm import AgentStatus, RunStatus

from .helpers import make_plan, max_running, run_plan, starts


async def test_window_fills_a_freed_slot_at_once(autojump_clock: trio.testing.MockClock) -> None:
    """When any agent ends, the next agent starts at that same instant."""
    plan = make_plan(
        [
            {"id": "long", "latency": 3},
            {"id": "s1", "latency": 1},
            {"id": "s2", "latency": 1},
            {"id": "s3", "latency": 1},
        ],
        execution={"max_parallel": 2},
    )
    result, events, _ = await run_plan(plan)
    assert starts(events) == {"long": 0.0, "s1": 0.0, "s2": 1.0, "s3": 2.0}
    assert result.metrics.agents_wall_s == pytest.approx(3.0)
    assert result.metrics.peak_concurrency == 2


async def test_window_never_exceeds_max_parallel(autojump_clock: trio.testing.MockClock) -> None:
    """With 20 agents of mixed lengths, at most max_parallel ever run at once."""
    agents = [{"id": f"a{i}", "latency": 1 + (i * 7) % 5} for i in range(20)]
    result, events, _ = await run_plan(make_plan(agents, execution={"max_parallel": 3}))
    assert max_running(events) == 3
    assert result.metrics.peak_concurrency == 3
    assert all(a.status is AgentStatus.SUCCEEDED for a in result.agents.values())


async def test_priority_then_plan_order(autojump_clock: trio.testing.MockClock) -> None:
    """Agents start critical first, then high, medium, low; ties keep plan order."""
    plan = make_plan(
        [
            {"id": "low1", "priority": "low"},
            {"id": "med1"},
            {"id": "crit", "priority": "critical"},
            {"id": "high", "priority": "high"},
            {"id": "med2", "priority": "medium"},
            {"id": "low2", "priority": "low"},
        ],
        execution={"max_parallel": 1},
    )
    _, events, _ = await run_plan(plan)
    order = sorted(starts(events), key=lambda agent: starts(events)[agent])
    assert order == ["crit", "high", "med1", "med2", "low1", "low2"]


async def test_freed_slot_goes_to_highest_priority_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A slot freed mid-run goes to the highest-priority agent still waiting."""
    plan = make_plan(
        [
            {"id": "first", "priority": "critical", "latency": 2},
            {"id": "second", "priority": "critical", "latency": 1},
            {"id": "lowest", "priority": "low", "latency": 1},
            {"id": "middle", "priority": "medium", "latency": 1},
        ],
        execution={"max_parallel": 2},
    )
    _, events, _ = await run_plan(plan)
    assert starts(events) == {"first": 0.0, "second": 0.0, "middle": 1.0, "lowest": 2.0}


async def test_batch_mode_waits_for_the_slowest_of_each_batch(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Batch mode starts fixed batches of max_parallel, each after the previous one ends."""
    agents = [
        {"id": "long", "latency": 3},
        {"id": "s1", "latency": 1},
        {"id": "s2", "latency": 1},
        {"id": "s3", "latency": 1},
    ]
    batch, events, _ = await run_plan(
        make_plan(agents, execution={"max_parallel": 2, "mode": "batch"})
    )
    assert starts(events) == {"long": 0.0, "s1": 0.0, "s2": 3.0, "s3": 3.0}
    assert batch.metrics.agents_wall_s == pytest.approx(4.0)
    window, _, _ = await run_plan(make_plan(agents, execution={"max_parallel": 2}))
    assert window.metrics.agents_wall_s == pytest.approx(3.0)


async def test_metrics_are_exact(autojump_clock: trio.testing.MockClock) -> None:
    """Speedup, the makespan lower bound and efficiency follow their definitions."""
    plan = make_plan(
        [{"id": "a", "latency": 4}, {"id": "b", "latency": 2}, {"id": "c", "latency": 2}],
        execution={"max_parallel": 2},
        backend={"name": "simulated", "simulated": {"latency_s": 1, "jitter": 0}},
    )
    result, _, _ = await run_plan(plan)
    m = result.metrics
    assert m.base_s == pytest.approx(1.0)
    assert m.wall_s == pytest.approx(5.0)
    assert m.agents_wall_s == pytest.approx(4.0)
    assert m.total_agent_s == pytest.approx(8.0)
    assert m.speedup == pytest.approx(2.0)
    assert m.makespan_lower_bound_s == pytest.approx(4.0)
    assert m.efficiency == pytest.approx(1.0)
    assert m.counts == {"succeeded": 3}
    assert m.usage.input_tokens == 4 * 1000
    assert result.status is RunStatus.SUCCEEDED


async def test_duration_aware_ordering_starts_longest_first(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With expected durations known, agents of one priority start longest-first."""
    from swarm import ExecutorOptions

    agents = [
        {"id": "short", "latency": 1},
        {"id": "mid", "latency": 2},
        {"id": "long", "latency": 3},
    ]
    options = ExecutorOptions(expected_durations={"short": 1, "mid": 2, "long": 3})
    _, events, _ = await run_plan(make_plan(agents, execution={"max_parallel": 1}), options=options)
    assert starts(events) == {"long": 0.0, "mid": 3.0, "short": 5.0}
