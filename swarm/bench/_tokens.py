"""Workload 4, tokens: what forking a base session saves in uncached input tokens.

The ``anthropic`` backend runs against the fake Messages API
(:mod:`swarm.mockapi`, in-process on loopback). A base session is built from a
generated ~20,000-token "repository digest"; then 8 agents fork it at once
(``max_parallel`` 8), each with a one-line task. The counterfactual is
measured in the same run, on the same server and store: the same 8 agents
forked from the same base with ``prompt_caching=False``, i.e. the very same
requests without ``cache_control``, so each re-sends the whole base and pays
for it (caching is opt-in on the API and on the fake server).

Every figure comes from the server's request log (the ``usage`` it billed per
``POST /v1/messages``) and is cross-checked against the usage swarm stored:

- uncached input = ``input_tokens + cache_creation_input_tokens``: every prompt
  token not read from the cache (a cache write is processed, and billed, too);
- base = the shared history every fork inherits (base prompt + base reply),
  counted by the server's ``count_tokens``;
- task = a fork's billed prompt (input + cache write + cache read) minus the base;
- the target: forked uncached / (base + sum of tasks) <= 1.05.

Costs are the server's token counts at swarm's list prices for the model
(:data:`swarm.backends.anthropic.PRICES`); the fake server reports tokens, not dollars.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import trio

from ..engine import ParallelSwarmExecutor
from ..plan import Plan
from ..records import SwarmResult, Usage
from ..stores import MemoryStore, history
from ._model import Check, Figure, WorkloadResult, WorkloadStatus

if TYPE_CHECKING:  # imported when measuring: every `swarm` command imports this module
    from ..backends.anthropic import AnthropicBackend
    from ..mockapi import MockAnthropicServer, RequestRecord

RATIO_TARGET = 1.05  # the target: forked uncached <= 1.05 x (base + N x task)
TITLE = "Tokens (anthropic backend)"


@dataclass(frozen=True, slots=True)
class TokensSetup:
    agents: int = 8
    base_tokens: int = 20_000  # the digest's size at ~4 characters per token
    model: str = "claude-sonnet-4-6"  # priced by the "sonnet" row of the price table


def repository_digest(tokens: int, seed: int = 0) -> str:
    """A deterministic made-up repository digest of about ``tokens`` tokens (4 chars each)."""
    rng = random.Random(seed)
    verbs = ("parses", "validates", "schedules", "caches", "retries", "serialises", "merges")
    nouns = ("requests", "sessions", "checkpoints", "leases", "plans", "messages", "budgets")
    lines = ["# Repository digest: a generated project summary every agent starts from", ""]
    size, index = sum(len(line) + 1 for line in lines), 0
    while size < 4 * tokens:
        pkg, mod = index // 12, index % 12
        lines += [
            f"## src/project/pkg{pkg:02d}/module_{mod:02d}.py ({rng.randint(40, 900)} lines)",
            f"- class Module{pkg:02d}{mod:02d}: {rng.choice(verbs)} {rng.choice(nouns)} "
            f"for pkg{rng.randint(0, 30):02d}, {rng.randint(1, 9)} public methods.",
            f"- def {rng.choice(verbs)[:-1]}_{index}(path, limit={rng.randint(1, 64)}): "
            f"reads {rng.choice(nouns)}, returns a dict of {rng.randint(2, 12)} fields.",
            f"- tests: tests/pkg{pkg:02d}/test_module_{mod:02d}.py "
            f"({rng.randint(1, 40)} cases); owner: team-{rng.choice('abcdefgh')}.",
        ]
        size = sum(len(line) + 1 for line in lines)
        index += 1
    return "\n".join(lines)


def task_prompt(i: int) -> str:
    return f"Task {i}: which module of the digest would you change to fix issue #{100 + i}?"


def tokens_plan(setup: TokensSetup, *, base_session: str | None) -> Plan:
    base = (
        {"session": base_session}
        if base_session
        else {"prompt": repository_digest(setup.base_tokens)}
    )
    return Plan.model_validate(
        {
            "name": "bench-tokens",
            "base": base,
            "agents": [{"id": f"agent-{i}", "prompt": task_prompt(i)} for i in range(setup.agents)],
            "execution": {"max_parallel": setup.agents},
            "backend": {"name": "anthropic"},
            "store": {"url": "memory://"},
        }
    )


def server_usage(record: RequestRecord) -> Usage:
    """What the server billed one request (zero for one it refused)."""
    raw = record.usage or {}
    return Usage(
        input_tokens=raw.get("input_tokens", 0),
        output_tokens=raw.get("output_tokens", 0),
        cache_creation_tokens=raw.get("cache_creation_input_tokens", 0),
        cache_read_tokens=raw.get("cache_read_input_tokens", 0),
    )


def uncached(usage: Usage) -> int:
    """Prompt tokens not read from the cache: plain input plus cache writes."""
    return usage.input_tokens + usage.cache_creation_tokens


def prompt_tokens(usage: Usage) -> int:
    return usage.input_tokens + usage.cache_creation_tokens + usage.cache_read_tokens


def _fields(usage: Usage) -> dict[str, int]:
    return {
        "input": usage.input_tokens,
        "cache_write": usage.cache_creation_tokens,
        "cache_read": usage.cache_read_tokens,
        "output": usage.output_tokens,
    }


async def _phase(
    server: MockAnthropicServer, backend: AnthropicBackend, store: MemoryStore, plan: Plan
) -> tuple[SwarmResult, list[RequestRecord]]:
    """Run one plan and return its result and the messages requests it made."""
    first = server.request_count
    result = await ParallelSwarmExecutor(backend, store).run(plan)
    if not result.succeeded:
        errors = sorted({a.error for a in result.agents.values() if a.error})
        raise RuntimeError(f"tokens run {result.status.value}: {errors[:2]}")
    return result, [r for r in server.requests_since(first) if r.is_messages]


def _phase_figures(
    requests: Sequence[RequestRecord], result: SwarmResult, setup: TokensSetup
) -> dict[str, Any]:
    """Per-request server usage, its sums, and whether swarm's own accounting agrees."""
    from ..backends.anthropic import price_of

    by_prompt = {task_prompt(i): f"agent-{i}" for i in range(setup.agents)}
    rows, mismatches = [], []
    for record in requests:
        usage = server_usage(record)
        agent = by_prompt.get(record.last_user_text)
        rows.append({"agent": agent or "base", "status": record.status, **_fields(usage)})
        if agent is not None and record.status == 200:
            stored = result.agents[agent].usage
            if stored != usage:
                mismatches.append(f"{agent}: swarm {_fields(stored)} vs server {_fields(usage)}")
    total = sum((server_usage(r) for r in requests), Usage())
    price = price_of(setup.model)
    return {
        "requests": rows,
        "uncached": uncached(total),
        "input": total.input_tokens,
        "cache_write": total.cache_creation_tokens,
        "cache_read": total.cache_read_tokens,
        "output": total.output_tokens,
        "cost_usd": price.cost(total) if price is not None else None,
        "mismatches": mismatches,
    }


async def measure(setup: TokensSetup, server: MockAnthropicServer) -> dict[str, Any]:
    """Run both phases against ``server`` and read every count back from its log."""
    import anthropic

    from ..backends.anthropic import AnthropicBackend, to_api_messages

    store = MemoryStore()
    client = anthropic.AsyncAnthropic(base_url=server.base_url, api_key="bench", max_retries=0)
    forked_backend = AnthropicBackend(store, client=client, model=setup.model)
    resent_backend = AnthropicBackend(store, client=client, model=setup.model, prompt_caching=False)
    try:
        forked, forked_requests = await _phase(
            server, forked_backend, store, tokens_plan(setup, base_session=None)
        )
        base_id = forked.base_session_id
        assert base_id is not None
        resent, resent_requests = await _phase(
            server, resent_backend, store, tokens_plan(setup, base_session=base_id)
        )
        # The base as the server counts it: the history each fork inherits, nothing else.
        base_history = await history(store, base_id)
        counted = await client.messages.count_tokens(
            model=setup.model,
            messages=cast(Any, to_api_messages(base_history)),
        )
    finally:
        await client.close()
    forked_figures = _phase_figures(forked_requests, forked, setup)
    resent_figures = _phase_figures(resent_requests, resent, setup)
    # swarm's own record of the base call, against the server's.
    stored_base = sum((m.usage for m in base_history), Usage())
    base_requests = [r for r in forked_requests if r.last_user_text not in _prompts(setup)]
    billed_base = sum((server_usage(r) for r in base_requests), Usage())
    if stored_base != billed_base:
        forked_figures["mismatches"].append(
            f"base: swarm {_fields(stored_base)} vs server {_fields(billed_base)}"
        )
    base_tokens = counted.input_tokens
    forked_prompts = _agent_prompts(forked_figures["requests"])
    # A fair counterfactual sends the very same prompts, only without cache_control.
    if forked_prompts != _agent_prompts(resent_figures["requests"]):
        resent_figures["mismatches"].append("re-sent prompts differ from the forked ones")
    tasks = {agent: tokens - base_tokens for agent, tokens in forked_prompts.items()}
    return {
        "agents": setup.agents,
        "max_parallel": setup.agents,
        "model": setup.model,
        "base_tokens": base_tokens,
        "base_prompt_tokens": prompt_tokens(billed_base),
        "task_tokens": tasks,
        "forked": forked_figures,
        "resent": resent_figures,
    }


def _agent_prompts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Each agent's billed prompt tokens (input + cache write + cache read), by agent."""
    return {
        r["agent"]: r["input"] + r["cache_write"] + r["cache_read"]
        for r in rows
        if r["agent"] != "base" and r["status"] == 200
    }


def _prompts(setup: TokensSetup) -> set[str]:
    return {task_prompt(i) for i in range(setup.agents)}


async def _measure(setup: TokensSetup) -> dict[str, Any]:
    from ..mockapi import MockAPIConfig, open_mock_api

    async with open_mock_api(MockAPIConfig()) as server:
        return await measure(setup, server)


def summarize(raw: dict[str, Any]) -> WorkloadResult:
    """Figures and the gate's checks from :func:`measure`'s numbers."""
    agents, base = raw["agents"], raw["base_tokens"]
    tasks = list(raw["task_tokens"].values())
    forked, resent = raw["forked"], raw["resent"]
    ideal = base + sum(tasks)  # base once + every agent's task
    ratio = forked["uncached"] / ideal
    saving = resent["uncached"] / forked["uncached"]
    paid_base = {  # requests that paid for the base prompt (or more) uncached
        name: sum(
            1
            for r in phase["requests"]
            if r["input"] + r["cache_write"] >= raw["base_prompt_tokens"]
        )
        for name, phase in (("forked", forked), ("resent", resent))
    }
    figures = [
        Figure("base: shared history (server count)", base, "tokens"),
        Figure("task: per agent, mean (server count)", sum(tasks) / len(tasks), "tokens"),
        Figure("forked: uncached input (base once + tasks)", forked["uncached"], "tokens"),
        Figure("re-sent: uncached input (base to each agent)", resent["uncached"], "tokens"),
        Figure(
            f"forked / (base + {agents} x task)",
            ratio,
            "x",
            f"<= {RATIO_TARGET}",
            ratio <= RATIO_TARGET,
        ),
        Figure("saving: re-sent / forked uncached input", saving, "x"),
        Figure("forked: cache-read tokens", forked["cache_read"], "tokens"),
        Figure("forked: cache-write tokens (in uncached)", forked["cache_write"], "tokens"),
    ]
    if forked["cost_usd"] is not None and resent["cost_usd"] is not None:
        figures += [
            Figure(f"forked: cost at {raw['model']} list price", forked["cost_usd"], "USD"),
            Figure(f"re-sent: cost at {raw['model']} list price", resent["cost_usd"], "USD"),
        ]
    mismatches = forked["mismatches"] + resent["mismatches"]
    checks = [
        Check(
            "forked uncached input < re-sent uncached input",
            forked["uncached"] < resent["uncached"],
            f"{forked['uncached']:,} vs {resent['uncached']:,} tokens ({saving:.2f}x)",
        ),
        Check(
            f"forked uncached input <= {RATIO_TARGET}x (base + {agents} x task)",
            ratio <= RATIO_TARGET,
            f"{forked['uncached']:,} / {ideal:,} = {ratio:.4f}x",
        ),
        Check(
            "the base is paid uncached once when forked",
            paid_base["forked"] == 1,
            f"{paid_base['forked']} of {len(forked['requests'])} forked requests, "
            f"{paid_base['resent']} of {len(resent['requests'])} re-sent ones",
        ),
        Check(
            "server log and swarm's usage agree; same prompts both ways",
            not mismatches,
            "every request" if not mismatches else "; ".join(mismatches[:2]),
        ),
    ]
    return WorkloadResult(
        name="tokens",
        title=f"Tokens (anthropic backend, {agents} forks of a {base:,}-token base)",
        status=WorkloadStatus.MEASURED,
        method="anthropic backend against swarm.mockapi (in-process, loopback); every count "
        "from the server's request log, cross-checked with swarm's stored usage; uncached = "
        "input + cache-write tokens; base = count_tokens of the shared history; task = a "
        "request's prompt minus the base; re-sent = the same agents with prompt_caching off",
        figures=figures,
        checks=checks,
        data=raw,
    )


def run(setup: TokensSetup) -> WorkloadResult:
    return summarize(trio.run(_measure, setup))
