"""The overhead workload: SQLite and MemoryStore rates from real child runs, and the gate."""

from __future__ import annotations

from swarm.bench._overhead import SQLITE_VS_MEMORY_FLOOR, measure, summarize


def test_sqlite_and_memory_rates_come_from_the_same_plan() -> None:
    """Both children run the plan to the end; the SQLite one holds every record (counted
    with SQL), and the report shows both rates and SQLite's share of the wall time."""
    memory = measure(40, 8, store="memory")
    sqlite = measure(40, 8, store="sqlite")
    assert (memory["store"], sqlite["store"]) == ("memory", "sqlite")
    assert memory["succeeded"] == sqlite["succeeded"] == 40
    assert sqlite["stored"] == {"agents": 40, "sessions": 41, "messages": 82, "checkpoints": 41}
    result = summarize(sqlite, memory)
    labels = [figure.label for figure in result.figures]
    assert "agents per second" in labels
    assert "agents per second, MemoryStore (the executor alone)" in labels
    assert "SQLite's share of the wall time per agent" in labels
    assert result.checks[0].passed
    assert result.data["memory"]["agents"] == 40


def test_the_gate_fails_when_persisting_costs_too_much() -> None:
    """A SQLite rate below the floor times the MemoryStore rate of the same run fails its
    check; at the floor it passes."""
    stored = {"agents": 10, "sessions": 11, "messages": 22, "checkpoints": 11}
    common = {"agents": 10, "max_parallel": 4, "succeeded": 10, "cpu_s": 0.01}
    rss = {"peak_rss_mb": 80.0, "rss_before_mb": 50.0}
    memory = {**common, "store": "memory", "wall_s": 0.01, "stored": {}, **rss}
    at_floor = {**common, "store": "sqlite", "wall_s": 0.01 / SQLITE_VS_MEMORY_FLOOR, **rss}
    slow = {**at_floor, "wall_s": at_floor["wall_s"] * 1.5}
    passed = summarize({**at_floor, "stored": stored}, memory).checks[1]
    failed = summarize({**slow, "stored": stored}, memory).checks[1]
    assert passed.passed and not failed.passed
    assert "MemoryStore rate" in failed.name
