"""The figures of one run, computed from when each agent started and ended."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .records import AgentResult, SwarmMetrics, Usage


def run_metrics(
    times: Mapping[str, tuple[float, float]],
    results: Iterable[AgentResult],
    *,
    wall_s: float,
    base_s: float,
    max_parallel: int,
    peak_concurrency: int,
    usage: Usage,
    cost_usd: float,
) -> SwarmMetrics:
    """Speedup, efficiency and totals of a run.

    ``times`` maps each agent that ran to its (start, end) in one clock. The
    agents' phase is first start to last end; speedup is total agent time over
    it, efficiency the makespan lower bound ``max(longest, total / max_parallel)``
    over it (1.0: no schedule could have been faster).
    """
    durations = [end - start for start, end in times.values()]
    total = sum(durations)
    longest = max(durations, default=0.0)
    if times:
        first = min(start for start, _ in times.values())
        last = max(end for _, end in times.values())
        agents_wall = last - first
    else:
        agents_wall = 0.0
    bound = max(longest, total / max_parallel)
    counts: dict[str, int] = {}
    retries = 0
    for result in results:
        counts[result.status.value] = counts.get(result.status.value, 0) + 1
        retries += result.retries
    return SwarmMetrics(
        wall_s=wall_s,
        base_s=base_s,
        agents_wall_s=agents_wall,
        total_agent_s=total,
        longest_agent_s=longest,
        speedup=total / agents_wall if agents_wall > 0 else 0.0,
        peak_concurrency=peak_concurrency,
        max_parallel=max_parallel,
        makespan_lower_bound_s=bound,
        efficiency=bound / agents_wall if agents_wall > 0 else 0.0,
        usage=usage,
        cost_usd=cost_usd,
        retries=retries,
        counts=counts,
    )
