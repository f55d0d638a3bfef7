"""A run's figures: the makespan bound knows that forks of forks wait for their parents."""

from __future__ import annotations

import pytest
import trio

from .helpers import make_plan, run_plan


async def test_a_fork_chain_bounds_the_makespan(autojump_clock: trio.testing.MockClock) -> None:
    """root -> child -> grandchild (1 s each) cannot end before 3 s: efficiency is 100%."""
    plan = make_plan(
        [
            {"id": "root"},
            {"id": "child", "fork_from": {"agent": "root"}},
            {"id": "grandchild", "fork_from": {"agent": "child"}},
            {"id": "side"},
        ],
        execution={"max_parallel": 4},
    )
    result, _, _ = await run_plan(plan)
    m = result.metrics
    assert m.agents_wall_s == pytest.approx(3.0)
    assert m.makespan_lower_bound_s == pytest.approx(3.0)
    assert m.efficiency == pytest.approx(1.0)
    assert m.speedup == pytest.approx(4.0 / 3.0)


async def test_without_dependencies_the_bound_is_longest_or_work_over_slots(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Four independent agents of 1, 1, 1 and 3 s on 2 slots: bound max(3, 6 / 2) = 3 s."""
    plan = make_plan(
        [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d", "latency": 3.0}],
        execution={"max_parallel": 2},
    )
    result, _, _ = await run_plan(plan)
    assert result.metrics.makespan_lower_bound_s == pytest.approx(3.0)
