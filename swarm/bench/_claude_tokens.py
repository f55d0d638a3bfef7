"""Workload claude-tokens: does every fork read the base from the prompt cache through
the real Claude Code CLI?

The ``claude`` backend drives the bundled CLI against the fake Messages API
(:mod:`swarm.mockapi`, whose accounting follows the API's prefix rules: see
``swarm/mockapi/_accounting.py``). A base session reads a ~20,000-token repository digest
(the tokens workload's); then 8 agents fork it at once, in two layouts, each on a fresh
server and store: every fork in the base's working directory, and every fork in a
directory of its own (as worktree agents run). Every count is the server's.

Per layout, from the first request of each fork (its prompt cut into the server's
segments): inherited = the segments it shares in position with the base's last request
plus the base's reply (tools, system, the base's history), task = the rest (its prompt,
an environment update). Uncached = input + cache write, summed over the base's and the
forks' requests; the ratio is uncached / (inherited once + the 8 tasks): 1.00 is the base
paid exactly once. Also: cache read and write per fork, and the forks swarm's run summary
would warn about (:func:`swarm.timeline.cache_misses`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from ..errors import BackendUnavailable
from ..plan import Plan
from ._model import Check, Figure, WorkloadResult, WorkloadStatus
from ._tokens import repository_digest, task_prompt

TITLE = "Prompt cache through Claude Code (claude backend)"
RATIO_TARGET = 1.10  # the target: uncached <= 1.10 x (base + 8 x task)
LAYOUTS = ("same cwd", "one cwd per fork")


@dataclass(frozen=True, slots=True)
class ClaudeTokensSetup:
    agents: int = 8
    base_tokens: int = 20_000
    options: Mapping[str, Any] = field(default_factory=dict)  # more backend.options


def claude_tokens_plan(setup: ClaudeTokensSetup, work: Path, *, per_fork_cwd: bool) -> Plan:
    agents = []
    for i in range(setup.agents):
        agent: dict[str, Any] = {"id": f"agent-{i}", "prompt": task_prompt(i)}
        if per_fork_cwd:
            own = work.parent / f"agent-{i}"
            own.mkdir(exist_ok=True)
            agent["cwd"] = str(own)
        agents.append(agent)
    return Plan.model_validate(
        {
            "name": "bench-claude-tokens",
            "base": {
                "prompt": "Read this repository digest; every agent starts from it.\n\n"
                + repository_digest(setup.base_tokens)
            },
            "agents": agents,
            "defaults": {"max_turns": 1},
            "execution": {"max_parallel": setup.agents},
            "backend": {"name": "claude", "options": {"cwd": str(work), **setup.options}},
        }
    )


def _uncached(record: Any) -> int:
    usage = record.usage or {}
    return int(usage.get("input_tokens", 0)) + int(usage.get("cache_creation_input_tokens", 0))


async def measure_layout(setup: ClaudeTokensSetup, *, per_fork_cwd: bool) -> dict[str, Any]:
    """Build the base, fork it ``setup.agents`` times at once, and count what the server
    billed (a fresh server, cache and store)."""
    from ..backends import create_backend, open_rehearsal
    from ..engine import ParallelSwarmExecutor
    from ..mockapi import prompt_segments
    from ..stores import open_store
    from ..timeline import cache_misses

    with tempfile.TemporaryDirectory(prefix="swarm-bench-cache-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        plan = claude_tokens_plan(setup, work, per_fork_cwd=per_fork_cwd)
        async with (
            open_rehearsal() as rehearsal,
            open_store(f"sqlite:///{Path(tmp) / 'swarm.db'}") as store,
        ):
            backend = create_backend(plan.backend, store, cli_env=rehearsal.env)
            try:
                result = await ParallelSwarmExecutor(backend, store).run(plan)
            finally:
                await backend.aclose()
            if not result.succeeded:
                errors = {a.error for a in result.agents.values() if a.error}
                raise RuntimeError(f"claude-tokens run {result.status.value}: {sorted(errors)[:2]}")
            misses = await cache_misses(store, result)
            requests = [r for r in rehearsal.server.requests_since(0) if r.is_messages and r.usage]
    base_requests = [r for r in requests if r.session_id == result.base_session_id]
    base_segments = len(prompt_segments(base_requests[-1].body))
    forks: list[dict[str, Any]] = []
    for agent in result.agents.values():
        mine = [r for r in requests if r.session_id == agent.session_id]
        tokens = [s.tokens for s in prompt_segments(mine[0].body)]
        usage = mine[0].usage or {}
        forks.append(
            {
                "agent_id": agent.agent_id,
                "requests": len(mine),
                "inherited": sum(tokens[: base_segments + 1]),  # + the base's reply
                "task": sum(tokens[base_segments + 1 :]),
                "uncached": sum(_uncached(r) for r in mine),
                "cache_read": int(usage.get("cache_read_input_tokens", 0)),
                "cache_write": int(usage.get("cache_creation_input_tokens", 0)),
            }
        )
    base_usage = base_requests[0].usage or {}
    inherited = min(f["inherited"] for f in forks)
    uncached = sum(_uncached(r) for r in base_requests) + sum(f["uncached"] for f in forks)
    ideal = inherited + sum(f["task"] for f in forks)
    return {
        "per_fork_cwd": per_fork_cwd,
        "base": {
            "requests": len(base_requests),
            "input": int(base_usage.get("input_tokens", 0)),
            "cache_write": int(base_usage.get("cache_creation_input_tokens", 0)),
            "cache_read": int(base_usage.get("cache_read_input_tokens", 0)),
        },
        "forks": forks,
        "inherited": inherited,
        "uncached": uncached,
        "ideal": ideal,
        "ratio": uncached / ideal,
        "warned": [m.agent_id for m in misses],
    }


async def _measure(setup: ClaudeTokensSetup) -> dict[str, Any]:
    return {
        "same_cwd": await measure_layout(setup, per_fork_cwd=False),
        "per_fork_cwd": await measure_layout(setup, per_fork_cwd=True),
    }


def summarize(raw: dict[str, Any], setup: ClaudeTokensSetup) -> WorkloadResult:
    figures: list[Figure] = []
    checks: list[Check] = []
    for key, layout in zip(("same_cwd", "per_fork_cwd"), LAYOUTS, strict=True):
        phase = raw[key]
        forks = phase["forks"]
        ratio = phase["ratio"]
        read = sum(f["cache_read"] for f in forks) / len(forks)
        write = sum(f["cache_write"] for f in forks) / len(forks)
        figures += [
            Figure(
                f"{layout}: uncached / (base + {len(forks)} x task)",
                ratio,
                "x",
                f"<= {RATIO_TARGET:.2f}",
                ratio <= RATIO_TARGET,
            ),
            Figure(f"{layout}: cache read per fork (mean)", read, "tokens"),
            Figure(f"{layout}: cache write per fork (mean)", write, "tokens"),
            Figure(f"{layout}: inherited history", phase["inherited"], "tokens"),
        ]
        checks.append(
            Check(
                f"{layout}: uncached <= {RATIO_TARGET:.2f}x (base + {len(forks)} x task), "
                "no fork warned about",
                ratio <= RATIO_TARGET and not phase["warned"],
                f"{phase['uncached']:,} uncached vs {phase['ideal']:,} ideal = {ratio:.3f}x; "
                f"warned: {phase['warned'] or 'none'}",
            )
        )
    return WorkloadResult(
        name="claude-tokens",
        title=f"{TITLE}: {setup.agents} forks of a {setup.base_tokens:,}-token base",
        status=WorkloadStatus.MEASURED,
        method="claude backend (bundled Claude Code CLI) against swarm.mockapi (prefix-rule "
        "cache accounting); a base reads a generated digest, then all forks start at once, "
        "in the base's cwd and in one cwd each, each layout on a fresh server; uncached = "
        "input + cache write of the base's and forks' requests, over inherited once + each "
        "fork's task (its prompt segments after the base's)",
        figures=figures,
        checks=checks,
        data={"agents": setup.agents, "base_tokens": setup.base_tokens, **raw},
    )


def run(setup: ClaudeTokensSetup) -> WorkloadResult:
    from ._realcli import available

    reason = available()
    if reason is not None:
        return WorkloadResult.skipped("claude-tokens", TITLE, reason)
    try:
        raw = trio.run(_measure, setup)
    except BackendUnavailable as exc:
        return WorkloadResult.skipped("claude-tokens", TITLE, f"claude backend: {exc}")
    return summarize(raw, setup)
