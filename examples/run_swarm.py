"""Run a swarm from Python with ParallelSwarmExecutor, offline.

    python examples/run_swarm.py

Builds a plan in code, runs it on the simulated backend with a SQLite store
under sessions/, prints each agent's result as it finishes (a post-agent hook)
and the run's metrics at the end.
"""

from __future__ import annotations

import trio

from swarm import (
    AgentResult,
    ParallelSwarmExecutor,
    configure_logging,
    create_backend,
    open_store,
    parse_plan,
)

PLAN = """
name: python-api-example
base:
  prompt: Summarise the project's architecture once; every agent forks from here.
agents:
  - {id: design, prompt: Propose a module layout., priority: critical}
  - {id: tests, prompt: List the tests worth writing first., priority: high}
  - {id: docs, prompt: Outline the README., priority: medium}
  - {id: ci, prompt: Sketch a CI pipeline., priority: medium}
  - {id: risks, prompt: Name the top three risks., priority: low}
execution:
  max_parallel: 3
backend:
  name: simulated
  simulated: {latency_s: 0.5, jitter: 0.4}
"""


async def report(result: AgentResult) -> None:
    print(f"  {result.agent_id:<8} {result.status.value:<10} {result.duration_s or 0:.2f}s")


async def main() -> None:
    configure_logging("warning")
    plan = parse_plan(PLAN, "examples/run_swarm.py")
    async with open_store(plan.store.url) as store:
        backend = create_backend(plan.backend, store)
        executor = ParallelSwarmExecutor(backend, store, post_agent=[report])
        print(f"running {len(plan.agents)} agents, at most {plan.execution.max_parallel} at once")
        result = await executor.run(plan)
    m = result.metrics
    print(
        f"run {result.run_id}: {result.status.value}; wall {m.wall_s:.2f}s "
        f"(base {m.base_s:.2f}s, agents {m.agents_wall_s:.2f}s), "
        f"agent time {m.total_agent_s:.2f}s, speedup {m.speedup:.2f}x over the agents' phase, "
        f"efficiency {m.efficiency:.0%} of the makespan bound"
    )
    print(f"inspect it: swarm runs show {result.run_id}")


if __name__ == "__main__":
    trio.run(main)
