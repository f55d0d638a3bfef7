"""Workload 6, distributed: agents on a Dask cluster, one worker against two.

The same latency-bound plan (100 simulated agents of 10 s each, no jitter, 25 per
worker; ``--quick``: 60 agents of 5 s, 15 per worker) runs on a LocalCluster of one
worker process and then of two (``execution.max_parallel`` is the slots per worker
times the workers, so the window is the cluster's width), four rounds on one worker,
two on two; the store is SQLite in a temporary folder, which every worker on this
machine opens. Figure: the ratio of the agents' wall time (first agent start to last
agent end) on one worker to that on two; ideal 2.0, target >= 1.8.

Then the dispatch overhead: zero-latency agents run once with the local engine and
once on the two-worker cluster; the per-agent difference of their wall times is what
sending an agent's call to a worker costs (submitting, the worker's store writes, its
reports streamed back). Without the ``distributed`` extra the workload is skipped.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._model import Check, Figure, WorkloadResult, WorkloadStatus

TITLE = "Distributed (Dask)"
SCALING_TARGET = 1.8
# What ``--quick --check`` (CI) requires: two workers clearly faster. On 2 cores the
# quick size measured 1.62-1.88x from one run to the next, so the 1.8x target is read
# from the full run (which the README quotes), and the gate catches a lost worker.
QUICK_GATE = 1.5


@dataclass(frozen=True, slots=True)
class DistributedSetup:
    agents: int = 100
    latency_s: float = 10.0
    slots_per_worker: int = 25
    overhead_agents: int = 100
    gate: float = SCALING_TARGET


def setup_for(*, quick: bool) -> DistributedSetup:
    """Agents long enough that the figure measures the agents' latency, not the dispatch
    CPU (~17 ms per agent, in series in the orchestrator) that 2 cores run out of: 200
    agents of 1 s measured 1.0x here, 100 of 3 s 1.69x (see docs/distributed.md,
    Measured). Real agents' turns take seconds to minutes."""
    if quick:
        return DistributedSetup(
            agents=60, latency_s=5.0, slots_per_worker=15, overhead_agents=50, gate=QUICK_GATE
        )
    return DistributedSetup()


def _plan(agents: int, latency_s: float, max_parallel: int, store: Path) -> Any:
    from ..plan import Plan

    return Plan.model_validate(
        {
            "name": "bench-distributed",
            "base": {"prompt": "shared context of the distributed benchmark"},
            "agents": [{"id": f"a{i:04d}", "prompt": f"task {i}"} for i in range(agents)],
            "execution": {"max_parallel": max_parallel},
            "backend": {
                "name": "simulated",
                "simulated": {"latency_s": latency_s, "jitter": 0},
            },
            "store": {"url": f"sqlite:///{store}"},
        }
    )


def _run(plan: Any, address: str | None) -> tuple[float, float, int]:
    """(agents' wall time, the run's wall time, agents that succeeded) of one run."""
    import trio

    from ..backends import create_backend
    from ..engine import ExecutorOptions, ParallelSwarmExecutor
    from ..stores import open_store

    async def main() -> tuple[float, float, int]:
        async with open_store(plan.store.url) as store:
            backend = create_backend(plan.backend, store)
            options = ExecutorOptions(
                engine_name="local" if address is None else "dask",
                dask_address=address,
                store_url=plan.store.url,
            )
            started = time.perf_counter()
            result = await ParallelSwarmExecutor(backend, store, options=options).run(plan)
            wall = time.perf_counter() - started
            return result.metrics.agents_wall_s, wall, result.metrics.counts.get("succeeded", 0)

    return trio.run(main)


def measure(setup: DistributedSetup) -> dict[str, Any]:
    import distributed

    local_cluster: Any = distributed.LocalCluster  # untyped
    raw: dict[str, Any] = {"agents": setup.agents, "latency_s": setup.latency_s}
    with tempfile.TemporaryDirectory(prefix="swarm-bench-dask-") as tmp:
        for workers in (1, 2):
            width = workers * setup.slots_per_worker
            with local_cluster(
                n_workers=workers,
                threads_per_worker=setup.slots_per_worker,
                processes=True,
                dashboard_address=None,
                silence_logs=50,
            ) as cluster:
                address = cluster.scheduler_address
                plan = _plan(setup.agents, setup.latency_s, width, Path(tmp) / f"w{workers}.db")
                agents_wall, _, ok = _run(plan, address)
                raw[f"workers_{workers}"] = {"agents_wall_s": agents_wall, "succeeded": ok}
                if workers == 2:
                    zero = _plan(setup.overhead_agents, 0.0, width, Path(tmp) / "zero-dask.db")
                    _, dask_wall, dask_ok = _run(zero, address)
        local = _plan(setup.overhead_agents, 0.0, width, Path(tmp) / "zero-local.db")
        _, local_wall, local_ok = _run(local, None)
    raw["overhead"] = {
        "agents": setup.overhead_agents,
        "dask_wall_s": dask_wall,
        "local_wall_s": local_wall,
        "succeeded": dask_ok + local_ok,
    }
    return raw


def summarize(raw: dict[str, Any], setup: DistributedSetup) -> WorkloadResult:
    one, two = raw["workers_1"]["agents_wall_s"], raw["workers_2"]["agents_wall_s"]
    ratio = one / two if two > 0 else 0.0
    over = raw["overhead"]
    per_agent_ms = (over["dask_wall_s"] - over["local_wall_s"]) / over["agents"] * 1000
    figures = [
        Figure(
            "agents' wall time, 1 worker / 2 workers",
            ratio,
            "x",
            f">= {SCALING_TARGET:g}",
            ratio >= SCALING_TARGET,
        ),
        Figure("agents' wall time on 1 worker", one, "s"),
        Figure("agents' wall time on 2 workers", two, "s"),
        Figure("dispatch overhead per agent, Dask against local", per_agent_ms, "ms"),
        Figure("zero-latency run, local engine", over["local_wall_s"], "s"),
        Figure("zero-latency run, Dask (2 workers)", over["dask_wall_s"], "s"),
    ]
    total = raw["workers_1"]["succeeded"] + raw["workers_2"]["succeeded"]
    checks = [
        Check(
            "every agent succeeded on every cluster",
            total == 2 * raw["agents"] and over["succeeded"] == 2 * over["agents"],
            f"{total}/{2 * raw['agents']} latency-bound, "
            f"{over['succeeded']}/{2 * over['agents']} zero-latency",
        ),
        Check(
            f"two workers run the agents >= {setup.gate:g}x as fast as one",
            ratio >= setup.gate,
            f"{one:.2f}s / {two:.2f}s = {ratio:.2f}x",
        ),
    ]
    return WorkloadResult(
        name="distributed",
        title=f"{TITLE}: {raw['agents']} simulated agents of {raw['latency_s']:g}s, "
        f"{setup.slots_per_worker} slots per worker, SQLite",
        status=WorkloadStatus.MEASURED,
        method="LocalCluster of 1 then 2 worker processes in this run, max_parallel = "
        f"{setup.slots_per_worker} per worker; agents' wall = SwarmMetrics.agents_wall_s; "
        f"overhead = (Dask wall - local wall) / agents for {over['agents']} zero-latency agents",
        figures=figures,
        checks=checks,
        data=raw,
    )


def run(setup: DistributedSetup) -> WorkloadResult:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return WorkloadResult.skipped(
            "distributed",
            TITLE,
            "needs the swarm[distributed] extra (pip install 'swarm[distributed]')",
        )
    return summarize(measure(setup), setup)
