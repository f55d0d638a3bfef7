"""Expected agent durations from earlier runs: the input of longest-first ordering.

The executor starts agents by priority; within one priority class, agents
whose durations are known start longest-first (see :mod:`swarm.engine._scheduling`),
so a long agent never ends up alone at the tail of the run.

The key that ties a run to its history is the plan's ``name`` (or, for a
plan without one, the plan file path the run was started from) together
with the backend: a simulated rehearsal says nothing about how long the
real model takes. For every agent id of the plan, the expected duration is
the median ``duration_s`` of that agent id among the succeeded agents of the
``runs`` newest matching runs. Failed, timed-out and cancelled agents are left
out: they ended early, and their time is not the time the work takes.
"""

from __future__ import annotations

import statistics

from ..plan import Plan
from ..records import AgentStatus, RunRecord
from ..stores import Store

#: How many of the newest runs in the store are looked at when searching history.
SCAN_LIMIT = 500


def history_key(plan: Plan, plan_path: str | None = None) -> str | None:
    """What ties a plan to its earlier runs: its name, else the plan file path."""
    return plan.name or plan_path


def _matches(run: RunRecord, key: str, backend: str | None) -> bool:
    if backend is not None and run.backend != backend:
        return False
    return run.name == key if run.name is not None else run.plan_path == key


async def expected_durations_from_store(
    store: Store,
    plan: Plan,
    *,
    plan_path: str | None = None,
    backend: str | None = None,
    runs: int = 10,
    exclude_run: str | None = None,
) -> dict[str, float]:
    """Agent id -> median past duration (s), for ``ExecutorOptions(expected_durations=...)``.

    Only earlier runs of the same plan (see :func:`history_key`) and, when given,
    the same ``backend`` count; an agent with no succeeded record in them is
    left out (it keeps plan order among the unknown ones). Empty when the plan
    has neither a name nor a path, or when there is no history.

    >>> durations = await expected_durations_from_store(store, plan, backend="simulated")
    >>> executor = ParallelSwarmExecutor(backend, store,
    ...     options=ExecutorOptions(expected_durations=durations))
    """
    key = history_key(plan, plan_path)
    if key is None or runs < 1:
        return {}
    wanted = {agent.id for agent in plan.agents}
    samples: dict[str, list[float]] = {}
    used = 0
    for run in await store.list_runs(limit=SCAN_LIMIT):
        if run.run_id == exclude_run or not _matches(run, key, backend):
            continue
        used += 1
        for agent in await store.list_agents(run.run_id):
            if (
                agent.agent_id in wanted
                and agent.status is AgentStatus.SUCCEEDED
                and agent.duration_s is not None
            ):
                samples.setdefault(agent.agent_id, []).append(agent.duration_s)
        if used >= runs:
            break
    return {agent_id: statistics.median(values) for agent_id, values in samples.items()}
