"""Workload 3, real CLI: sequential against forked-in-parallel, real Claude Code processes.

The ``claude`` backend drives the bundled Claude Code CLI against the fake
Messages API (:mod:`swarm.mockapi`, through :func:`swarm.backends._rehearsal.open_rehearsal`)
that answers every turn after a fixed delay (``LatencyModel(ttft=2.0)``: 2 s per
turn). One base session is built once; then the same agents run twice, each
a fork of that base: ``max_parallel`` 1 (each resumes the base one after
another: the sequential baseline) and ``max_parallel`` = the agent count (all
forked at once). Both runs share the server, the CLI and the store.

Figures: the agents' phase of each run (``agents_wall_s``, first agent start
to last end; the base build is not in either), the speedup (sequential over
parallel), the CLI start-up share (from an agent's start to its first request
reaching the server, over the agent's duration, summed over agents), the CLI
CPU per agent (user + system time of the CLI processes the agents ran, from
``getrusage(RUSAGE_CHILDREN)``, so other load on the machine is not in it) and
the tokens sent (input + cache read + cache write of every request in the
server's log, per run).

The CPU figure is what bounds the parallel run: a CLI spends most of its CPU
before its first request, so however they are scheduled the last of them
cannot reach the server before about ``agents x CPU per agent / cores``.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from ..backends import AgentRequest
from ..errors import BackendUnavailable
from ..plan import Plan
from ..records import SwarmResult
from ._model import Check, Figure, WorkloadResult, WorkloadStatus

SPEEDUP_TARGET = 4.5


@dataclass(frozen=True, slots=True)
class RealCLISetup:
    agents: int = 6
    turn_s: float = 2.0


def available() -> str | None:
    """None when the workload can run here, else the reason it cannot."""
    try:
        import claude_agent_sdk  # noqa: F401  - what the claude backend runs on
    except ImportError as exc:
        return f"claude backend not available ({exc})"
    return None


def realcli_plan(setup: RealCLISetup, *, max_parallel: int, base_session: str | None) -> Plan:
    base = {"session": base_session} if base_session else {"prompt": "Read the brief: bench."}
    return Plan.model_validate(
        {
            "name": "bench-realcli",
            "base": base,
            "agents": [
                {"id": f"agent-{i}", "prompt": f"Task {i}: answer in one line."}
                for i in range(setup.agents)
            ],
            "defaults": {"max_turns": 1},
            "execution": {"max_parallel": max_parallel},
            "backend": {"name": "claude"},
        }
    )


@dataclass(slots=True)
class _Phase:
    result: SwarmResult
    wall_s: float
    started: dict[str, float]  # agent id -> trio time it was handed to the backend
    requests: list[Any]  # the server's request records made during this run
    cli_cpu_s: float | None  # CPU of the CLI processes from the first agent's start to the end


def _children_cpu_s() -> float | None:
    """User + system CPU of the child processes reaped so far (the CLIs); None off Unix."""
    try:
        import resource
    except ImportError:
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _measure(setup: RealCLISetup) -> dict[str, Any]:
    from ..backends import create_backend, open_rehearsal
    from ..engine import ExecutorOptions, ParallelSwarmExecutor
    from ..mockapi import LatencyModel, MockAPIConfig
    from ..stores import open_store

    config = MockAPIConfig(latency=LatencyModel(ttft=setup.turn_s))
    with tempfile.TemporaryDirectory(prefix="swarm-bench-cli-") as tmp:
        cwd = Path(tmp) / "work"
        cwd.mkdir()
        async with (
            open_rehearsal(config) as rehearsal,
            open_store(f"sqlite:///{Path(tmp) / 'swarm.db'}") as store,
        ):

            async def phase(plan: Plan, **options: Any) -> _Phase:
                spec = plan.backend.model_copy(update={"options": {"cwd": str(cwd), **options}})
                backend = create_backend(spec, store, cli_env=rehearsal.env)
                started: dict[str, float] = {}
                cpu_at_first: list[float | None] = []

                async def note_start(request: AgentRequest) -> None:
                    if not started:
                        # The base's CLI has exited by now, so its CPU is left out.
                        cpu_at_first.append(_children_cpu_s())
                    started[request.agent_id] = trio.current_time()

                executor = ParallelSwarmExecutor(
                    backend, store, options=ExecutorOptions(), pre_agent=[note_start]
                )
                first = rehearsal.server.request_count
                t0 = time.perf_counter()
                try:
                    result = await executor.run(plan)
                finally:
                    await backend.aclose()
                wall = time.perf_counter() - t0
                if not result.succeeded:
                    errors = {a.error for a in result.agents.values() if a.error}
                    raise RuntimeError(f"real-CLI run {result.status.value}: {sorted(errors)[:2]}")
                cpu_end = _children_cpu_s()
                begin = cpu_at_first[0] if cpu_at_first else None
                cpu = cpu_end - begin if cpu_end is not None and begin is not None else None
                requests = rehearsal.server.requests_since(first)
                return _Phase(result, wall, started, requests, cpu)

            seq = await phase(realcli_plan(setup, max_parallel=1, base_session=None))
            base = seq.result.base_session_id
            par = await phase(realcli_plan(setup, max_parallel=setup.agents, base_session=base))
            # The opt-in --bare mode, the same forks of the same base: what it saves.
            bare = await phase(
                realcli_plan(setup, max_parallel=setup.agents, base_session=base), bare=True
            )
    return {
        "sequential": _phase_figures(seq),
        "parallel": _phase_figures(par),
        "parallel_bare": _phase_figures(bare),
    }


def _phase_figures(phase: _Phase) -> dict[str, Any]:
    m = phase.result.metrics
    first_request: dict[str, float] = {}
    for record in phase.requests:
        sid = record.session_id
        if sid is not None and record.is_messages:
            first_request.setdefault(sid, record.started)
    startup = []
    for agent in phase.result.agents.values():
        begun = phase.started.get(agent.agent_id)
        reached = first_request.get(agent.session_id or "")
        if begun is not None and reached is not None and reached >= begun:
            startup.append(reached - begun)
    # The agents' requests only: the sequential run also built the base session.
    sessions = {a.session_id for a in phase.result.agents.values() if a.session_id}
    mine = [r for r in phase.requests if r.is_messages and r.session_id in sessions]
    tokens = 0
    for record in mine:
        usage = record.usage or {}
        tokens += sum(
            int(usage.get(k, 0) or 0)
            for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        )
    return {
        "agents_wall_s": m.agents_wall_s,
        "run_wall_s": phase.wall_s,
        "total_agent_s": m.total_agent_s,
        "base_s": m.base_s,
        "peak_concurrency": m.peak_concurrency,
        "startup_s": startup,
        "startup_share": sum(startup) / m.total_agent_s if m.total_agent_s and startup else None,
        "requests": len(mine),
        "tokens_sent": tokens,
        "cli_cpu_per_agent_s": (
            phase.cli_cpu_s / len(phase.result.agents)
            if phase.cli_cpu_s is not None and phase.result.agents
            else None
        ),
    }


def summarize(raw: dict[str, Any], setup: RealCLISetup) -> WorkloadResult:
    seq, par = raw["sequential"], raw["parallel"]
    speedup = seq["agents_wall_s"] / par["agents_wall_s"]
    figures = [
        Figure("sequential: agents' wall time", seq["agents_wall_s"], "s"),
        Figure("forked in parallel: agents' wall time", par["agents_wall_s"], "s"),
        Figure(
            "speedup (sequential / parallel)",
            speedup,
            "x",
            f">= {SPEEDUP_TARGET}",
            speedup >= SPEEDUP_TARGET,
        ),
    ]
    bare = raw.get("parallel_bare")
    phases = [("sequential", seq), ("parallel", par)]
    if bare is not None:
        phases.append(("parallel with bare: true", bare))
        figures.append(
            Figure("parallel with bare: true: agents' wall time", bare["agents_wall_s"], "s")
        )
    cores = os.cpu_count() or 1
    cpu = par.get("cli_cpu_per_agent_s")
    if cpu is not None:
        # A.5 of the research: the CLIs are CPU-bound until their request, so the
        # parallel phase cannot beat agents x CPU / cores + one turn (+ a short tail).
        floor = setup.agents * cpu / cores + setup.turn_s
        figures.append(
            Figure("parallel: floor from CLI CPU (agents x CPU / cores + turn)", floor, "s")
        )
        figures.append(
            Figure(
                "speedup that floor allows (sequential / floor)", seq["agents_wall_s"] / floor, "x"
            )
        )
    for name, phase in phases:
        if phase["startup_share"] is not None:
            figures.append(Figure(f"{name}: CLI start-up share", 100 * phase["startup_share"], "%"))
        if phase.get("cli_cpu_per_agent_s") is not None:
            figures.append(Figure(f"{name}: CLI CPU per agent", phase["cli_cpu_per_agent_s"], "s"))
        figures.append(Figure(f"{name}: tokens sent", phase["tokens_sent"], "tokens"))
    checks = [
        Check(
            "forked in parallel faster than sequential",
            speedup > 1.0,
            f"{seq['agents_wall_s']:.2f}s sequential vs {par['agents_wall_s']:.2f}s parallel "
            f"({speedup:.2f}x)",
        )
    ]
    return WorkloadResult(
        name="realcli",
        title=f"Real Claude Code CLI ({setup.agents} agents, fake API at "
        f"{setup.turn_s:g} s per turn)",
        status=WorkloadStatus.MEASURED,
        method="claude backend (bundled Claude Code CLI) against swarm.mockapi; the same "
        "agents fork one base session with max_parallel 1, then all at once; wall = first "
        "agent start to last agent end; start-up = agent start to its first API request; "
        "CLI CPU = user + system time of the agents' CLI processes (getrusage of children); "
        "floor = agents x parallel CLI CPU per agent / cores + one turn; the last phase "
        "repeats the parallel one with backend.options.bare (opt-in: the API sees less)",
        figures=figures,
        checks=checks,
        data={"agents": setup.agents, "turn_s": setup.turn_s, "cpus": os.cpu_count(), **raw},
    )


def run(setup: RealCLISetup) -> WorkloadResult:
    reason = available()
    if reason is not None:
        return WorkloadResult.skipped("realcli", "Real Claude Code CLI", reason)
    try:
        raw = trio.run(_measure, setup)
    except BackendUnavailable as exc:
        return WorkloadResult.skipped("realcli", "Real Claude Code CLI", f"claude backend: {exc}")
    return summarize(raw, setup)
