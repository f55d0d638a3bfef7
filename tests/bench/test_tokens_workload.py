"""The tokens workload against the real (in-process) fake Messages API: counts, not times."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from swarm.bench._tokens import (
    TokensSetup,
    measure,
    repository_digest,
    server_usage,
    summarize,
    uncached,
)
from swarm.mockapi import MockAnthropicServer, MockAPIConfig, RequestRecord, open_mock_api
from swarm.mockapi._accounting import has_cache_control

SETUP = TokensSetup()
SMALL = TokensSetup(agents=3, base_tokens=3_000)


@pytest.fixture
async def server() -> AsyncIterator[MockAnthropicServer]:
    async with open_mock_api(MockAPIConfig()) as running:
        yield running


def _phases(server: MockAnthropicServer) -> tuple[list[RequestRecord], list[RequestRecord]]:
    """The log split by what was sent: with cache_control (forked) or without (re-sent)."""
    requests = server.message_requests
    forked = [r for r in requests if has_cache_control(r.body)]
    return forked, [r for r in requests if not has_cache_control(r.body)]


@pytest.mark.parametrize("setup", [SETUP, SMALL], ids=["8x20k", "3x3k"])
async def test_figures_are_the_server_logs_counts(
    server: MockAnthropicServer, setup: TokensSetup
) -> None:
    """Each phase's figures are sums over the server's log, and base is its count_tokens."""
    raw = await measure(setup, server)
    forked, resent = _phases(server)
    assert len(forked) == setup.agents + 1 and len(resent) == setup.agents  # base + forks
    for name, requests in (("forked", forked), ("resent", resent)):
        usages = [server_usage(r) for r in requests]
        assert raw[name]["uncached"] == sum(uncached(u) for u in usages)
        assert raw[name]["cache_read"] == sum(u.cache_read_tokens for u in usages)
        assert raw[name]["mismatches"] == []  # swarm's stored usage says the same
    [count] = [r for r in server.requests if r.path == "/v1/messages/count_tokens"]
    assert count.status == 200
    # Base and tasks are measured: a fork's billed prompt is exactly base + its task.
    for record in forked[1:]:
        agent = record.last_user_text.split(":")[0].replace("Task ", "agent-")
        billed = server_usage(record)
        prompt = billed.input_tokens + billed.cache_creation_tokens + billed.cache_read_tokens
        assert prompt == raw["base_tokens"] + raw["task_tokens"][agent]
    assert abs(raw["base_tokens"] - setup.base_tokens) < 0.05 * setup.base_tokens
    result = summarize(raw)
    assert [c.name for c in result.checks if not c.passed] == []
    ratio = result.figure(f"forked / (base + {setup.agents} x task)")
    assert ratio is not None and ratio.met is True


async def test_forking_pays_the_base_uncached_once(server: MockAnthropicServer) -> None:
    """All 9 forked requests send the digest; only the base call pays it, the forks read it."""
    raw = await measure(SETUP, server)
    digest_line = repository_digest(SETUP.base_tokens).splitlines()[0]
    forked, resent = _phases(server)
    assert all(r.mentions(digest_line) for r in forked + resent)
    base_prompt = raw["base_prompt_tokens"]
    paying = [r for r in forked if uncached(server_usage(r)) >= base_prompt]
    assert [r.index for r in paying] == [forked[0].index]  # the base call, before any fork
    for record in forked[1:]:
        assert server_usage(record).cache_read_tokens >= base_prompt
        assert uncached(server_usage(record)) < 0.01 * base_prompt
    for record in resent:  # no cache_control: the whole base, every time
        usage = server_usage(record)
        assert usage.cache_read_tokens == usage.cache_creation_tokens == 0
        assert usage.input_tokens >= raw["base_tokens"]


async def test_a_server_without_caching_fails_the_gate() -> None:
    """If forks stop reading the base from the cache, the same-run checks fail."""
    async with open_mock_api(MockAPIConfig(cache=False)) as server:
        raw = await measure(SMALL, server)
    result = summarize(raw)
    failed = {c.name for c in result.checks if not c.passed}
    assert "forked uncached input < re-sent uncached input" in failed
    assert "the base is paid uncached once when forked" in failed
    assert f"forked uncached input <= 1.05x (base + {SMALL.agents} x task)" in failed
