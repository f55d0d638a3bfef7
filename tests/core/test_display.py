"""The run summary fits an 80-column terminal: no id or figure is cut off; the time it
says swarm has run is counted from the process's start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_process_age_reads_the_start_after_the_command_name() -> None:
    """The start (field 22, clock ticks since boot) is found past a command name holding
    spaces and parentheses, and the age is counted on the clock since boot."""
    from swarm.cli._display import process_age

    rest = " ".join(["S", *["0"] * 18, "5000", "0"])  # field 3 onwards; field 22 = 5000
    assert process_age(f"4242 (my (odd) prog) {rest}", 100.0, 100) == 50.0
    assert process_age(f"4242 (swarm) {rest}", 49.0, 100) == 0.0  # never negative


def test_the_time_since_swarm_started_covers_what_ran_before_it(tmp_path: Path) -> None:
    """Measured in a fresh process: at least the time its own imports took, which began
    after the process did."""
    code = (
        "import time; began = time.monotonic(); "
        "from swarm.cli._display import since_process_start; "
        "print(since_process_start(), time.monotonic() - began)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    since_start, importing = map(float, done.stdout.split())
    assert since_start >= importing > 0
