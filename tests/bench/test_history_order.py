"""Duration-aware ordering: expected durations read from earlier runs in the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio

from swarm import ExecutorOptions, MemoryStore, expected_durations_from_store
from swarm.cli import main
from tests.core.helpers import make_plan, run_plan, starts

LATENCIES = {"short": 1.0, "medium": 2.0, "long": 5.0, "tiny": 0.5}


def _plan(name: str | None = "history-plan", **latencies: float) -> Any:
    values = latencies or LATENCIES
    plan = make_plan(
        [{"id": agent, "latency": s} for agent, s in values.items()],
        execution={"max_parallel": 1},
    )
    return plan.model_copy(update={"name": name})


async def test_durations_are_medians_of_succeeded_runs_of_the_same_plan(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Each agent's expected duration is the median over earlier runs of the same plan name."""
    store = MemoryStore()
    await run_plan(_plan(), store)
    await run_plan(_plan(short=3.0, medium=2.0, long=5.0, tiny=0.5), store)
    await run_plan(_plan(short=2.0, medium=2.0, long=5.0, tiny=0.5), store)
    await run_plan(_plan("another-plan", short=100.0), store)
    durations = await expected_durations_from_store(store, _plan(), backend="simulated")
    assert durations == pytest.approx({"short": 2.0, "medium": 2.0, "long": 5.0, "tiny": 0.5})


async def test_no_history_for_unnamed_plans_other_backends_or_failed_agents(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Unnamed plans, other backends and failed agents give no expected durations."""
    store = MemoryStore()
    await run_plan(_plan(None), store)
    assert await expected_durations_from_store(store, _plan(None)) == {}
    await run_plan(_plan(), store)
    assert await expected_durations_from_store(store, _plan(), backend="claude") == {}
    failing = make_plan(
        [{"id": "short", "latency": 1.0, "simulated": {"failure_rate": 1.0}}],
        execution={"max_parallel": 1},
    ).model_copy(update={"name": "failing-plan"})
    await run_plan(failing, store)
    assert await expected_durations_from_store(store, failing) == {}


async def test_history_starts_agents_longest_first(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With history from an earlier run, the next run starts its agents longest-first."""
    store = MemoryStore()
    plan = _plan()
    _, first_events, _ = await run_plan(plan, store)
    first = starts(first_events)
    assert sorted(first, key=first.__getitem__) == ["short", "medium", "long", "tiny"]
    durations = await expected_durations_from_store(store, plan, backend="simulated")
    _, events, _ = await run_plan(
        plan, store, options=ExecutorOptions(expected_durations=durations)
    )
    order = starts(events)
    assert sorted(order, key=order.__getitem__) == ["long", "medium", "short", "tiny"]


HISTORY_PLAN = """\
name: history-cli
base: {prompt: shared}
execution: {max_parallel: 1}
backend: {name: simulated, simulated: {jitter: 0}}
store: {url: "sqlite:///store.db"}
agents:
  - {id: quick, prompt: q, simulated: {latency_s: 0.02}}
  - {id: slow, prompt: s, simulated: {latency_s: 0.3}}
  - {id: middling, prompt: m, simulated: {latency_s: 0.12}}
"""


def _start_order(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["run", "plan.yaml", "--json", *args]) == 0
    agents = json.loads(capsys.readouterr().out)["agents"]
    return [a["agent_id"] for a in sorted(agents, key=lambda a: a["started_at"])]


def test_cli_orders_by_history_unless_told_not_to(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`swarm run` starts longest-first once the plan has history; --no-history-order does not."""
    (in_tmp_cwd / "plan.yaml").write_text(HISTORY_PLAN)
    assert _start_order(capsys) == ["quick", "slow", "middling"]
    assert _start_order(capsys) == ["slow", "middling", "quick"]
    assert _start_order(capsys, "--no-history-order") == ["quick", "slow", "middling"]
