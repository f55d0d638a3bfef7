"""The anthropic backend against the project's fake Messages API (no network, no key)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import pytest

from swarm import AgentStatus, MemoryStore, ParallelSwarmExecutor, parse_plan
from swarm.backends import RetryPolicy
from swarm.backends.anthropic import AnthropicBackend, price_of
from swarm.mockapi import ErrorSpec, MockAnthropicServer, MockAPIConfig, ReplyRule, open_mock_api
from swarm.records import Usage
from swarm.stores import Store
from swarm.testing import run_backend_conformance

BASE_PROMPT = "The shared context: " + "a long repository description. " * 200


def backend_for(server: MockAnthropicServer, store: Store) -> AnthropicBackend:
    client = anthropic.AsyncAnthropic(base_url=server.base_url, api_key="test-key", max_retries=0)
    return AnthropicBackend(
        store,
        client=client,
        model="claude-sonnet-test",
        retry=RetryPolicy(max_attempts=4, initial_wait_s=0.01, max_wait_s=0.05, jitter_s=0.01),
    )


@pytest.fixture
async def server() -> AsyncIterator[MockAnthropicServer]:
    config = MockAPIConfig(
        rules=(
            ReplyRule(
                match="flaky",
                error=ErrorSpec(type="rate_limit_error", retry_after=0.01),
                fail_first=2,
            ),
            ReplyRule(
                match="broken", error=ErrorSpec(type="invalid_request_error", message="bad field")
            ),
        )
    )
    async with open_mock_api(config) as running:
        yield running


def plan(*agents: str, **execution: object) -> object:
    lines = "\n".join(f"  - {{id: {a}, prompt: 'task {a}'}}" for a in agents)
    text = f"base: {{prompt: {BASE_PROMPT!r}}}\nagents:\n{lines}\nexecution: {{max_parallel: 4}}\n"
    return parse_plan(text, "anthropic-plan.yaml")


async def test_anthropic_backend_conforms(server: MockAnthropicServer) -> None:
    """The anthropic backend keeps every backend contract."""
    await run_backend_conformance(lambda store: backend_for(server, store))


async def test_forks_are_pointers_and_read_the_base_from_cache(server: MockAnthropicServer) -> None:
    """Three forks store only their own messages, send the full base, and hit the cache."""
    store = MemoryStore()
    executor = ParallelSwarmExecutor(backend_for(server, store), store)
    result = await executor.run(plan("a", "b", "c"))  # type: ignore[arg-type]
    assert result.succeeded
    base = result.base_session_id
    assert base is not None
    base_messages = await store.get_messages(base)
    for agent in result.agents.values():
        assert agent.parent_session_id == base and agent.session_id
        own = await store.get_messages(agent.session_id)
        assert [m.role for m in own] == ["user", "assistant"]  # a pointer, not a copy
        assert agent.usage.cache_read_tokens > 0
    forks = [r for r in server.message_requests if "task " in r.last_user_text]
    assert len(forks) == 3
    for request in forks:
        assert request.user_texts[0].startswith("The shared context")
        assert request.messages[1]["content"][0]["text"] == base_messages[1].content
    base_request = server.message_requests[0]
    assert base_request.usage is not None
    uncached = sum(
        a.usage.input_tokens + a.usage.cache_creation_tokens for a in result.agents.values()
    )
    # Forks pay for their own prompt and the base's reply, not for the base prompt again.
    assert uncached < base_request.usage["cache_creation_input_tokens"]


async def test_rate_limits_are_retried_and_counted(server: MockAnthropicServer) -> None:
    """Two 429s with retry-after, then success: the agent succeeds with 2 retries counted."""
    store = MemoryStore()
    executor = ParallelSwarmExecutor(backend_for(server, store), store)
    result = await executor.run(plan("flaky", "fine"))  # type: ignore[arg-type]
    flaky = result.agents["flaky"]
    assert flaky.status is AgentStatus.SUCCEEDED and flaky.retries == 2
    assert result.metrics.retries == 2
    assert result.agents["fine"].status is AgentStatus.SUCCEEDED


async def test_a_bad_request_fails_only_that_agent(server: MockAnthropicServer) -> None:
    """A 400 is not retried: that agent fails with the status and message, others succeed."""
    store = MemoryStore()
    executor = ParallelSwarmExecutor(backend_for(server, store), store)
    result = await executor.run(plan("broken", "fine"))  # type: ignore[arg-type]
    broken = result.agents["broken"]
    assert broken.status is AgentStatus.FAILED and broken.retries == 0
    assert "HTTP 400" in (broken.error or "") and "bad field" in (broken.error or "")
    assert result.agents["fine"].status is AgentStatus.SUCCEEDED
    assert len(server.requests_matching("broken")) == 1


async def test_fork_at_the_base_prompt_sends_history_up_to_it(server: MockAnthropicServer) -> None:
    """fork_at the base's prompt sends that prompt without the base's reply."""
    store = MemoryStore()
    backend = backend_for(server, store)
    first = await ParallelSwarmExecutor(backend, store).run(plan("a"))  # type: ignore[arg-type]
    base = first.base_session_id
    assert base is not None
    prompt_uuid = (await store.get_messages(base))[0].uuid
    text = (
        f"base: {{session: {base}}}\n"
        f"agents: [{{id: cut, prompt: 'task cut', fork_at: {prompt_uuid}}}]\n"
    )
    second = await ParallelSwarmExecutor(backend, store).run(parse_plan(text, "cut.yaml"))
    assert second.agents["cut"].status is AgentStatus.SUCCEEDED
    request = server.requests_matching("task cut")[-1]
    assert [m["role"] for m in request.messages] == ["user"]
    assert request.user_texts[0].startswith("The shared context")
    assert request.user_texts[0].rstrip().endswith("task cut")


def test_cost_comes_from_the_price_table() -> None:
    """Cost is priced per token kind; unknown models cost nothing rather than a guess."""
    sonnet = price_of("claude-sonnet-4-6")
    assert sonnet is not None
    assert sonnet.cost(Usage(1_000_000, 0, 0, 1_000_000)) == pytest.approx(3.3)
    assert price_of("mystery-model") is None


async def test_prompt_caching_off_sends_no_cache_control(server: MockAnthropicServer) -> None:
    """backend.options.prompt_caching: false sends no breakpoint, so forks pay the base in full."""
    from swarm.backends import create_backend
    from swarm.plan import BackendSpec

    store = MemoryStore()
    options = {
        "api_key": "test-key",
        "base_url": server.base_url,
        "model": "claude-sonnet-test",
        "prompt_caching": False,
    }
    backend = create_backend(BackendSpec(name="anthropic", options=options), store)
    text = (
        f"base: {{prompt: {BASE_PROMPT!r}}}\ndefaults: {{system_prompt: 'be brief'}}\n"
        "agents: [{id: a, prompt: 'task a'}, {id: b, prompt: 'task b'}]\n"
    )
    result = await ParallelSwarmExecutor(backend, store).run(parse_plan(text, "nocache.yaml"))
    assert result.succeeded
    assert [r.body for r in server.message_requests if "cache_control" in str(r.body)] == []
    for agent in result.agents.values():
        assert agent.usage.cache_read_tokens == agent.usage.cache_creation_tokens == 0
        assert agent.usage.input_tokens > len(BASE_PROMPT) // 4


async def test_max_tokens_of_current_models_streams_the_request(
    server: MockAnthropicServer,
) -> None:
    """max_tokens 64,000 (ordinary for current models): the SDK refuses a non-streaming
    request that may run past 10 minutes, so the backend streams; the base and both agents
    succeed, and the usage each reports is what the API accounted for its stream."""
    store = MemoryStore()
    client = anthropic.AsyncAnthropic(base_url=server.base_url, api_key="test-key", max_retries=0)
    backend = AnthropicBackend(store, client=client, model="claude-sonnet-test", max_tokens=64_000)
    result = await ParallelSwarmExecutor(backend, store).run(plan("a", "b"))  # type: ignore[arg-type]
    assert result.succeeded, {a.agent_id: a.error for a in result.agents.values()}
    requests = server.message_requests
    assert len(requests) == 3
    assert all(r.stream and r.body["max_tokens"] == 64_000 for r in requests)
    for agent in result.agents.values():
        (request,) = server.requests_matching(f"task {agent.agent_id}")
        assert request.usage is not None
        assert agent.usage == Usage(
            request.usage["input_tokens"],
            request.usage["output_tokens"],
            request.usage["cache_creation_input_tokens"],
            request.usage["cache_read_input_tokens"],
        )
        assert agent.output and agent.output in str(request.content)


def test_an_error_event_inside_a_stream_is_classed_by_its_type() -> None:
    """An overload reported mid-stream (an `error` event after HTTP 200) is a retried 529,
    an invalid request there a final 400, as when the API answers with the status itself."""
    from httpx2 import Request, Response

    from swarm.backends.anthropic import api_error
    from swarm.errors import TransientAPIError

    def event(kind: str) -> anthropic.APIStatusError:
        body = {"type": "error", "error": {"type": kind, "message": f"{kind} mid-stream"}}
        response = Response(200, request=Request("POST", "http://127.0.0.1/v1/messages"))
        return anthropic.APIStatusError(str(body), response=response, body=body)

    overloaded = api_error(event("overloaded_error"))
    assert isinstance(overloaded, TransientAPIError) and overloaded.status == 529
    invalid = api_error(event("invalid_request_error"))
    assert not isinstance(invalid, TransientAPIError) and invalid.status == 400
    assert str(invalid) == "HTTP 400: invalid_request_error: invalid_request_error mid-stream"


async def test_an_agent_in_a_worktree_gets_it_as_its_cwd_and_changes_nothing(
    server: MockAnthropicServer, tmp_path: Path
) -> None:
    """workspace: worktree on the anthropic backend: the worktree is the request's cwd and
    is kept with the session; the backend runs no tools, so the agent's branch is empty."""
    from tests.workspaces.helpers import head, make_repo

    repo = make_repo(tmp_path / "repo")
    store = MemoryStore()
    executor = ParallelSwarmExecutor(backend_for(server, store), store)
    text = (
        f"base: {{prompt: 'context'}}\ndefaults: {{workspace: worktree, cwd: '{repo}'}}\n"
        "agents: [{id: a, prompt: 'task a'}]\n"
    )
    result = await executor.run(parse_plan(text, "anthropic-plan.yaml"))
    agent = result.agents["a"]
    assert agent.succeeded and agent.session_id is not None
    session = await store.get_session(agent.session_id)
    assert session is not None
    assert session.metadata["cwd"] == str(repo / ".swarm" / "worktrees" / result.run_id / "a")
    assert agent.workspace is not None and agent.workspace["commit"] is None
    assert head(repo, f"swarm/{result.run_id}/a") == head(repo)
