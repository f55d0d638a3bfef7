"""The run summary fits an 80-column terminal: no id or figure is cut off."""

from __future__ import annotations

import trio
from rich.console import Console

from swarm import MemoryStore, ParallelSwarmExecutor, create_backend, parse_plan
from swarm.cli._display import summary_table

LONG = "child-with-a-rather-long-agent-name-that-goes-on"


async def test_summary_at_80_columns_folds_long_ids_and_keeps_every_figure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A 48-character agent id folds onto more lines; statuses, tokens and costs stay whole."""
    plan = parse_plan(
        f"base: {{prompt: x}}\nagents: [{{id: {LONG}, prompt: y}}, {{id: b, prompt: z}}]\n"
        "backend: {name: simulated, simulated: {latency_s: 1, jitter: 0}}\n"
    )
    store = MemoryStore()
    result = await ParallelSwarmExecutor(create_backend(plan.backend, store), store).run(plan)
    console = Console(width=80, record=True)
    console.print(summary_table(result))
    text = console.export_text()
    assert "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines())
    agent_cells = "".join(line.split()[0] for line in text.splitlines() if line.strip())
    assert LONG in agent_cells
    assert text.count("succeeded") == 3  # the title and both rows
    assert text.count("1000/200/0") == 2 and text.count("$0.0000") >= 2
