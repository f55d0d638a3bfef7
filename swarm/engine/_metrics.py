"""The figures of one run, computed from when each agent started and ended."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..records import AgentResult, SwarmMetrics, Usage


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
    extra_retries: int = 0,
    forks_from: Mapping[str, str] | None = None,
) -> SwarmMetrics:
    """Speedup, efficiency and totals of a run.

    ``times`` maps each agent that ran to its (start, end) in one clock. The
    agents' phase is first start to last end; speedup is total agent time over
    it, efficiency the makespan lower bound over it (1.0: no schedule could have
    been faster). The bound is ``max(longest chain, total / max_parallel)``: with
    ``forks_from`` (agent -> the agent it forks), a chain is an agent plus the
    agents it waits for; without dependencies it is the longest agent.
    """
    durations = [end - start for start, end in times.values()]
    total = sum(durations)
    longest = max(durations, default=0.0)
    chain = _longest_chain(times, forks_from) if forks_from else longest
    if times:
        first = min(start for start, _ in times.values())
        last = max(end for _, end in times.values())
        agents_wall = last - first
    else:
        agents_wall = 0.0
    bound = max(longest, chain, total / max_parallel)
    counts: dict[str, int] = {}
    retries = extra_retries  # e.g. the base session's
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


def _longest_chain(
    times: Mapping[str, tuple[float, float]], forks_from: Mapping[str, str]
) -> float:
    """The longest run of agents that had to follow one another (fork_from chains)."""
    memo: dict[str, float] = {}

    def chain(agent: str) -> float:
        if agent not in memo:
            start, end = times[agent]
            parent = forks_from.get(agent)
            # the plan is a DAG (cycles are plan errors), so this recursion ends
            waited = chain(parent) if parent is not None and parent in times else 0.0
            memo[agent] = (end - start) + waited
        return memo[agent]

    return max((chain(agent) for agent in times), default=0.0)
