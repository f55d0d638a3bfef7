"""Workload 2, orchestration overhead: what swarm itself costs per agent.

Agents of a zero-latency simulated backend do no work, so the run's wall time
is the orchestration: scheduling, events, and persisting everything in a
SQLite store in a temporary directory (each agent's record updates, its
session, its two messages and its final checkpoint; the store's defaults:
WAL, ``synchronous=FULL``, group commit). It runs in a child process (see
:func:`measure`) so the peak RSS is the run's alone and not the benchmark
runner's.

Figures: agents per second (agents / wall time of ``executor.run``), wall and
CPU time per agent (CPU is the whole process, the trio thread and the store's
worker threads, plus the store's writer process, counted once it ended), peak RSS
(``getrusage`` ``ru_maxrss``) and what the store holds afterwards, counted with
plain SQL.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._child import children_cpu_s, run_child
from ._model import Check, Figure, WorkloadResult, WorkloadStatus

AGENTS_PER_S_TARGET = 3000.0
PEAK_RSS_TARGET_MB = 300.0
# The gate's same-run relation: persisting everything (SQLite, synchronous=FULL) may cost
# up to 4/5 of the executor's MemoryStore rate, never more (0.30-0.49x measured on 2 busy
# cores, benchmarks/README.md).
SQLITE_VS_MEMORY_FLOOR = 0.2
# And against the minimal trio + sqlite3 program of the same run (the platform's ceiling,
# swarm/bench/_floor.py): 0.16-0.24x measured; below 0.05x something regressed badly.
SQLITE_VS_CEILING_FLOOR = 0.05


def overhead_plan_document(
    agents: int, max_parallel: int, store_path: Path | None
) -> dict[str, Any]:
    return {
        "name": "bench-overhead",
        "base": {"prompt": "shared context of the overhead benchmark"},
        "agents": [{"id": f"a{i:05d}", "prompt": f"task {i}"} for i in range(agents)],
        "execution": {"max_parallel": max_parallel},
        "backend": {"name": "simulated", "simulated": {"latency_s": 0, "jitter": 0}},
        "store": {"url": "memory://" if store_path is None else f"sqlite:///{store_path}"},
    }


def _count(db: Path, run_id: str) -> dict[str, int]:
    sessions = "SELECT session_id FROM sessions WHERE run_id = ?"
    conn = sqlite3.connect(db)
    try:

        def one(sql: str) -> int:
            return int(conn.execute(sql, (run_id,)).fetchone()[0])

        return {
            "agents": one("SELECT COUNT(*) FROM agents WHERE run_id = ?"),
            "sessions": one("SELECT COUNT(*) FROM sessions WHERE run_id = ?"),
            "messages": one(f"SELECT COUNT(*) FROM messages WHERE session_id IN ({sessions})"),
            "checkpoints": one(
                f"SELECT COUNT(*) FROM checkpoints WHERE session_id IN ({sessions})"
            ),
        }
    finally:
        conn.close()


def measure_store_here(agents: int, writers: int) -> dict[str, Any]:
    """The agents' records written straight into a SQLite store from ``writers`` tasks, no
    executor (:mod:`swarm.bench._store_writes`): the store's own ceiling."""
    import trio

    from ..stores import SQLiteStore
    from ._store_writes import measure_store_writes

    with tempfile.TemporaryDirectory(prefix="swarm-bench-") as tmp:

        async def write_all() -> dict[str, float]:
            store = await SQLiteStore.open(Path(tmp) / "swarm.db")
            try:
                return await measure_store_writes(store, agents, writers)
            finally:
                await store.aclose()

        writer_cpu_s = children_cpu_s()
        timings = trio.run(write_all)
        # The store's writer process, counted once it ended (the store is closed).
        writer_cpu_s = children_cpu_s() - writer_cpu_s
    timings["cpu_s"] += writer_cpu_s
    return {
        "agents": agents,
        "max_parallel": writers,
        "store": "sqlite-alone",
        **timings,
        "writer_cpu_s": writer_cpu_s,
    }


def measure_floor_here(agents: int, max_parallel: int) -> dict[str, Any]:
    """The same rows from a minimal trio + sqlite3 program (:mod:`swarm.bench._floor`): the
    ceiling of any executor that persists them with the same durability here."""
    import trio

    from ._floor import measure_floor

    with tempfile.TemporaryDirectory(prefix="swarm-bench-") as tmp:
        timings = trio.run(measure_floor, Path(tmp) / "floor.db", agents, max_parallel)
    return {"agents": agents, "max_parallel": max_parallel, "store": "floor", **timings}


def measure_here(
    agents: int, max_parallel: int, store: str = "sqlite", instruments: Sequence[Any] = ()
) -> dict[str, Any]:
    """Run the workload in this process and return its raw figures (the child's side);
    ``instruments``: trio instruments for the run (``benchmarks/trio_idle.py``)."""
    import psutil
    import trio

    from .._log import configure_logging
    from ..backends import create_backend
    from ..engine import ParallelSwarmExecutor
    from ..plan import Plan
    from ..records import SwarmResult
    from ..stores import open_store

    configure_logging("warning")
    rss_before = psutil.Process().memory_info().rss
    with tempfile.TemporaryDirectory(prefix="swarm-bench-") as tmp:
        db = Path(tmp) / "swarm.db"
        plan = Plan.model_validate(
            overhead_plan_document(agents, max_parallel, db if store == "sqlite" else None)
        )

        async def run_plan() -> tuple[SwarmResult, float, float, dict[str, float]]:
            async with open_store(plan.store.url) as store:
                backend = create_backend(plan.backend, store)
                executor = ParallelSwarmExecutor(backend, store)
                stats = getattr(store, "commit_stats", None)  # SQLite's group commit
                before = dataclasses.asdict(stats) if stats is not None else {}
                wall, cpu = time.perf_counter(), time.process_time()
                result = await executor.run(plan)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                after = dataclasses.asdict(stats) if stats is not None else {}
                return result, wall, cpu, {k: after[k] - before[k] for k in after}

        writer_cpu_s = children_cpu_s()
        # the store (and its writer) closed once it returns
        result, wall_s, cpu_s, commits = trio.run(run_plan, instruments=instruments)
        writer_cpu_s = children_cpu_s() - writer_cpu_s
        stored = _count(db, result.run_id) if store == "sqlite" else {}
        db_bytes = sum(p.stat().st_size for p in Path(tmp).iterdir())
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "agents": agents,
        "max_parallel": max_parallel,
        "store": store,
        "status": result.status.value,
        "succeeded": result.metrics.counts.get("succeeded", 0),
        "wall_s": wall_s,
        "cpu_s": cpu_s + writer_cpu_s,
        "writer_cpu_s": writer_cpu_s,
        "peak_concurrency": result.metrics.peak_concurrency,
        "rss_before_mb": rss_before / 2**20,
        "peak_rss_mb": peak_kb / 1024,
        "stored": stored,
        "store_bytes": db_bytes,
        "commits": commits,
    }


def measure(
    agents: int, max_parallel: int, *, store: str = "sqlite", timeout_s: float = 600.0
) -> dict[str, Any]:
    """Run the workload in a child process and return its raw figures (``store``: sqlite,
    memory, store (the store alone) or floor (the minimal program))."""
    entry = "import sys; from swarm.bench._overhead import main; sys.exit(main(sys.argv[1:]))"
    args = ["--agents", str(agents), "--max-parallel", str(max_parallel), "--kind", store]
    return run_child("overhead", entry, args, timeout_s)


def _persisted(raw: dict[str, Any]) -> bool:
    """Whether the SQLite child's store holds every record of the run (counted with SQL)."""
    agents, stored = raw["agents"], raw["stored"]
    # One session per agent plus the base; a user and an assistant message in each.
    expected = {"agents": agents, "sessions": agents + 1, "messages": 2 * (agents + 1)}
    return all(stored[k] >= v for k, v in expected.items()) and stored["checkpoints"] >= agents


def summarize(
    raw: dict[str, Any],
    memory: dict[str, Any] | None = None,
    store_alone: dict[str, Any] | None = None,
    floor: dict[str, Any] | None = None,
) -> WorkloadResult:
    """The workload's figures and checks from the children's raw numbers: ``raw`` is the
    SQLite run, ``memory`` the same plan on a MemoryStore (the executor's own ceiling),
    ``store_alone`` the same records written into SQLite with no executor (the store's)."""
    agents = raw["agents"]
    rate = agents / raw["wall_s"]
    rss = raw["peak_rss_mb"]
    figures = [
        Figure(
            "agents per second",
            rate,
            "agents/s",
            f">= {AGENTS_PER_S_TARGET:,.0f}",
            rate >= AGENTS_PER_S_TARGET,
        ),
        Figure("wall time per agent", raw["wall_s"] / agents * 1e6, "µs"),
        Figure(
            "CPU time per agent (all threads and the writer process)",
            raw["cpu_s"] / agents * 1e6,
            "µs",
        ),
        Figure(
            "of which the store's writer process",
            raw.get("writer_cpu_s", 0.0) / agents * 1e6,
            "µs",
        ),
        Figure("peak RSS", rss, "MB", f"<= {PEAK_RSS_TARGET_MB:.0f}", rss <= PEAK_RSS_TARGET_MB),
        Figure("RSS before the run (interpreter + imports)", raw["rss_before_mb"], "MB"),
        Figure("wall time of the run", raw["wall_s"], "s"),
    ]
    checks = [
        Check(
            "every agent succeeded and was persisted",
            raw["succeeded"] == agents and _persisted(raw),
            f"{raw['succeeded']}/{agents} succeeded; stored {raw['stored']}",
        )
    ]
    commits = raw.get("commits") or {}
    if commits.get("commits"):
        n = commits["commits"]
        figures[4:4] = [
            Figure("SQLite commits in the run (agents per commit)", agents / n, "agents"),
            Figure("time of one COMMIT (the fsync), mean", commits["commit_s"] / n * 1e3, "ms"),
            Figure(
                "wall time applying batches (writer process or thread), per agent",
                commits["apply_s"] / agents * 1e6,
                "µs",
            ),
        ]
    data = dict(raw)
    if memory is not None:
        memory_rate = memory["agents"] / memory["wall_s"]
        share = 1.0 - memory["wall_s"] / raw["wall_s"]
        figures[1:1] = [
            Figure("agents per second, MemoryStore (the executor alone)", memory_rate, "agents/s"),
            Figure("SQLite's share of the wall time per agent", 100.0 * share, "%"),
            Figure(
                "CPU time per agent, MemoryStore",
                memory["cpu_s"] / memory["agents"] * 1e6,
                "µs",
            ),
        ]
        ratio = rate / memory_rate
        checks.append(
            Check(
                f"SQLite rate >= {SQLITE_VS_MEMORY_FLOOR:g}x the MemoryStore rate",
                ratio >= SQLITE_VS_MEMORY_FLOOR and memory["succeeded"] == memory["agents"],
                f"{rate:,.0f} vs {memory_rate:,.0f} agents/s = {ratio:.2f}x; "
                f"{memory['succeeded']}/{memory['agents']} succeeded on the MemoryStore",
            )
        )
        data["memory"] = memory
    if store_alone is not None:
        at = 1 if memory is None else 4
        figures[at:at] = [
            Figure(
                "agents per second, SQLite store alone (its records, no executor)",
                store_alone["agents"] / store_alone["wall_s"],
                "agents/s",
            ),
            Figure(
                "CPU time per agent, SQLite store alone",
                store_alone["cpu_s"] / store_alone["agents"] * 1e6,
                "µs",
            ),
        ]
        data["store_alone"] = store_alone
    if floor is not None:
        floor_rate = floor["agents"] / floor["wall_s"]
        figures[1:1] = [
            Figure(
                "agents per second, a minimal trio + sqlite3 program (the same rows and "
                "fsyncs, nothing else: the platform's ceiling)",
                floor_rate,
                "agents/s",
            ),
            Figure(
                "swarm's SQLite rate as a share of that ceiling", 100.0 * rate / floor_rate, "%"
            ),
        ]
        checks.append(
            Check(
                f"SQLite rate >= {SQLITE_VS_CEILING_FLOOR:g}x the minimal program's",
                rate >= SQLITE_VS_CEILING_FLOOR * floor_rate
                and floor["messages"] == 2 * floor["agents"],
                f"{rate:,.0f} vs {floor_rate:,.0f} agents/s = {rate / floor_rate:.2f}x; "
                f"the minimal program stored {floor['messages']} messages for "
                f"{floor['agents']} agents",
            )
        )
        data["floor"] = floor
    return WorkloadResult(
        name="overhead",
        title=f"Orchestration overhead ({agents:,} zero-latency agents, "
        f"max_parallel {raw['max_parallel']}, SQLite)",
        status=WorkloadStatus.MEASURED,
        method="simulated backend with latency 0 in a child process; SQLite store in a temp "
        "dir with its defaults (WAL, synchronous=FULL, group commit), every record persisted; "
        "rate = agents / wall time of executor.run; peak RSS = ru_maxrss of the child; the "
        "same plan on a MemoryStore in another child right before (the executor's ceiling; "
        "SQLite's share = 1 - memory wall / SQLite wall); and each agent's six records "
        "written straight into SQLite from max_parallel tasks, no executor (the store's "
        "ceiling); and the same rows from a minimal trio + sqlite3 program, same pragmas, "
        "same schema, one fsync per batch (swarm/bench/_floor.py: the platform's ceiling)",
        figures=figures,
        checks=checks,
        data=data,
    )


def run(agents: int, max_parallel: int) -> WorkloadResult:
    memory = measure(agents, max_parallel, store="memory")
    store_alone = measure(agents, max_parallel, store="store")
    floor = measure(agents, max_parallel, store="floor")
    return summarize(measure(agents, max_parallel, store="sqlite"), memory, store_alone, floor)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="swarm bench: the overhead workload's child")
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--max-parallel", type=int, default=64)
    parser.add_argument("--kind", choices=("sqlite", "memory", "store", "floor"), default="sqlite")
    args = parser.parse_args(argv)
    if args.kind == "store":
        print(json.dumps(measure_store_here(args.agents, args.max_parallel)))
    elif args.kind == "floor":
        print(json.dumps(measure_floor_here(args.agents, args.max_parallel)))
    else:
        print(json.dumps(measure_here(args.agents, args.max_parallel, args.kind)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
