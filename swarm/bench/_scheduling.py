"""Workload 1, scheduling: how close each mode gets to the best possible makespan.

24 simulated agents with log-normal durations (sigma 0.8, seeded per agent)
run with ``max_parallel`` 4 in virtual time (``trio.testing.MockClock`` with
``autojump_threshold=0``, a ``MemoryStore``), so every figure is exact and
the same on any machine. For each seed the same agents run:

- ``sequential``: ``max_parallel`` 1, the one-after-another baseline;
- ``batch``: claude-flow's fixed batches of 4 that wait for their slowest agent;
- ``window``: a freed slot goes at once to the next agent, in plan order;
- ``window+history``: the window again, with the durations of the ``window``
  run just stored in the same store (``expected_durations_from_store``), so
  agents start longest-first.

The makespan is the agents' phase of the run (first agent start to last
agent end, ``SwarmMetrics.agents_wall_s``); its lower bound is
``max(longest agent, total work / P)``; the ratio makespan / bound is 1.00 at
best. Sequential's bound is the total work itself.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import trio
import trio.testing

from ..backends import create_backend
from ..engine import ExecutorOptions, ParallelSwarmExecutor
from ..plan import Plan
from ..records import SwarmMetrics
from ..stores import MemoryStore
from ..timeline import expected_durations_from_store
from ._model import Check, Figure, WorkloadResult, WorkloadStatus

MODES = ("sequential", "batch", "window", "window+history")
HISTORY_TARGET = 1.05  # the target for window with history, x the bound


@dataclass(frozen=True, slots=True)
class SchedulingSetup:
    agents: int = 24
    max_parallel: int = 4
    sigma: float = 0.8
    mean_s: float = 60.0  # mean agent duration; virtual seconds, so any value is free
    seeds: tuple[int, ...] = tuple(range(20))


@dataclass(frozen=True, slots=True)
class ModeRun:
    """One mode on one seed."""

    mode: str
    seed: int
    makespan_s: float
    bound_s: float
    total_work_s: float
    longest_s: float

    @property
    def ratio(self) -> float:
        return self.makespan_s / self.bound_s

    @property
    def efficiency(self) -> float:
        return self.bound_s / self.makespan_s


def scheduling_plan(seed: int, setup: SchedulingSetup, *, mode: str, max_parallel: int) -> Plan:
    """The workload's plan for one seed; the same agent ids and durations in every mode."""
    return Plan.model_validate(
        {
            "name": "bench-scheduling",
            "base": {"prompt": "shared context of the scheduling benchmark"},
            "agents": [
                {"id": f"agent-{i:02d}", "prompt": f"task {i}"} for i in range(setup.agents)
            ],
            "execution": {"max_parallel": max_parallel, "mode": mode},
            "backend": {
                "name": "simulated",
                "seed": seed,
                "simulated": {"latency_s": setup.mean_s, "jitter": setup.sigma},
            },
            "store": {"url": "memory://"},
        }
    )


def _mode_run(mode: str, seed: int, metrics: SwarmMetrics) -> ModeRun:
    return ModeRun(
        mode=mode,
        seed=seed,
        makespan_s=metrics.agents_wall_s,
        bound_s=metrics.makespan_lower_bound_s,
        total_work_s=metrics.total_agent_s,
        longest_s=metrics.longest_agent_s,
    )


async def run_seed(seed: int, setup: SchedulingSetup) -> list[ModeRun]:
    """Every mode on one seed, in one store (the window run is the history of the next)."""
    store = MemoryStore()
    runs: list[ModeRun] = []

    async def one(mode: str, durations: dict[str, float] | None = None) -> SwarmMetrics:
        parallel = 1 if mode == "sequential" else setup.max_parallel
        plan = scheduling_plan(
            seed, setup, mode="batch" if mode == "batch" else "window", max_parallel=parallel
        )
        backend = create_backend(plan.backend, store)
        options = ExecutorOptions(expected_durations=durations or {})
        result = await ParallelSwarmExecutor(backend, store, options=options).run(plan)
        if not result.succeeded:
            raise RuntimeError(f"scheduling seed {seed} mode {mode}: run {result.status.value}")
        return result.metrics

    for mode in ("sequential", "batch", "window"):
        runs.append(_mode_run(mode, seed, await one(mode)))
    plan = scheduling_plan(seed, setup, mode="window", max_parallel=setup.max_parallel)
    history = await expected_durations_from_store(store, plan, backend="simulated")
    runs.append(_mode_run("window+history", seed, await one("window+history", history)))
    return runs


async def _run_all(setup: SchedulingSetup) -> list[ModeRun]:
    runs: list[ModeRun] = []
    for seed in setup.seeds:
        runs.extend(await run_seed(seed, setup))
    return runs


def measure(setup: SchedulingSetup) -> list[ModeRun]:
    """Run the workload in virtual time (its own ``trio.run``); exact for given seeds."""
    clock = trio.testing.MockClock(autojump_threshold=0)
    return trio.run(_run_all, setup, clock=clock)


def summarize(runs: list[ModeRun], setup: SchedulingSetup) -> WorkloadResult:
    """Figures per mode (mean and worst makespan / bound) and the gate's checks."""
    by_mode = {mode: [r for r in runs if r.mode == mode] for mode in MODES}
    per_mode: dict[str, dict[str, float]] = {}
    for mode, items in by_mode.items():
        ratios = [r.ratio for r in items]
        per_mode[mode] = {
            "mean_ratio": statistics.fmean(ratios),
            "worst_ratio": max(ratios),
            "mean_efficiency": statistics.fmean(r.efficiency for r in items),
            "mean_makespan_s": statistics.fmean(r.makespan_s for r in items),
            "mean_bound_s": statistics.fmean(r.bound_s for r in items),
        }
    figures = []
    for mode in MODES:
        target = f"<= {HISTORY_TARGET}" if mode == "window+history" else None
        mean = per_mode[mode]["mean_ratio"]
        worst = per_mode[mode]["worst_ratio"]
        met = worst <= HISTORY_TARGET if target else None
        figures.append(Figure(f"{mode}: makespan / bound, mean", mean, "x"))
        figures.append(Figure(f"{mode}: makespan / bound, worst", worst, "x", target, met))
    seq = per_mode["sequential"]["mean_makespan_s"]
    win = per_mode["window"]["mean_makespan_s"]
    figures.append(Figure("window: speedup over sequential, mean", seq / win, "x"))
    checks = _checks(by_mode, per_mode)
    data: dict[str, Any] = {
        "agents": setup.agents,
        "max_parallel": setup.max_parallel,
        "sigma": setup.sigma,
        "mean_duration_s": setup.mean_s,
        "seeds": list(setup.seeds),
        "modes": per_mode,
        "runs": [
            {
                "mode": r.mode,
                "seed": r.seed,
                "makespan_s": r.makespan_s,
                "bound_s": r.bound_s,
                "ratio": r.ratio,
            }
            for r in runs
        ],
    }
    return WorkloadResult(
        name="scheduling",
        title=f"Scheduling ({setup.agents} agents, log-normal sigma {setup.sigma}, "
        f"max_parallel {setup.max_parallel}, {len(setup.seeds)} seeds)",
        status=WorkloadStatus.MEASURED,
        method="simulated backend in virtual time (trio MockClock, MemoryStore): exact; "
        "makespan = first agent start to last agent end; bound = max(longest, total / P)",
        figures=figures,
        checks=checks,
        data=data,
    )


def _checks(
    by_mode: dict[str, list[ModeRun]], per_mode: dict[str, dict[str, float]]
) -> list[Check]:
    window, batch = per_mode["window"], per_mode["batch"]
    history = per_mode["window+history"]
    seq_exact = all(
        abs(r.makespan_s - r.total_work_s) <= 1e-6 * r.total_work_s for r in by_mode["sequential"]
    )
    return [
        Check(
            "window efficiency >= batch efficiency",
            window["mean_efficiency"] >= batch["mean_efficiency"],
            f"window {window['mean_efficiency']:.3f} vs batch {batch['mean_efficiency']:.3f}",
        ),
        Check(
            f"window+history worst makespan <= {HISTORY_TARGET}x bound",
            history["worst_ratio"] <= HISTORY_TARGET,
            f"worst {history['worst_ratio']:.3f}x, mean {history['mean_ratio']:.3f}x",
        ),
        Check(
            "window+history no worse than window",
            history["mean_ratio"] <= window["mean_ratio"],
            f"{history['mean_ratio']:.3f}x vs {window['mean_ratio']:.3f}x",
        ),
        Check(
            "sequential makespan == total work",
            seq_exact,
            "every seed" if seq_exact else "some seed's sequential makespan differs from its work",
        ),
    ]


def run(setup: SchedulingSetup) -> WorkloadResult:
    return summarize(measure(setup), setup)
