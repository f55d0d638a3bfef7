"""The claude backend with the real Claude Code CLI against the fake Messages API."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarm import AgentStatus, lineage
from swarm.backends import open_rehearsal
from swarm.mockapi import ErrorSpec, MockAPIConfig, ReplyRule
from swarm.stores import MemoryStore

from .conftest import Harness

pytestmark = pytest.mark.cli

BASE = "Remember: the service has api.py, db.py and auth.py."


async def test_three_parallel_forks_get_real_ids_lineage_and_the_full_base_history(
    harness: Harness,
) -> None:
    """Three forks run at once, each a new real session whose request carried the base history."""
    result = await harness.run(
        f"""
base: {{prompt: "{BASE}"}}
agents:
  - {{id: a, prompt: "review api.py"}}
  - {{id: b, prompt: "review db.py"}}
  - {{id: c, prompt: "review auth.py"}}
execution: {{max_parallel: 3}}
"""
    )
    assert result.succeeded, [a.error for a in result.agents.values()]
    base = result.base_session_id
    assert base is not None
    ids = {a.agent_id: a.session_id for a in result.agents.values()}
    assert len(set(ids.values()) | {base}) == 4 and None not in ids.values()
    assert result.metrics.peak_concurrency == 3
    server_ids = harness.rehearsal.server.session_ids()
    for agent_id, session_id in ids.items():
        assert session_id in server_ids  # the id the CLI itself used, not one we made up
        chain = await lineage(harness.store, session_id)  # type: ignore[arg-type]
        assert [s.session_id for s in chain] == [base, session_id]
        assert chain[1].agent_id == agent_id and chain[1].fork_point is None
        prompt = {"a": "review api.py", "b": "review db.py", "c": "review auth.py"}[agent_id]
        assert harness.fork_texts(session_id) == [[BASE, prompt]]  # type: ignore[arg-type]
        own = await harness.store.get_messages(session_id)  # type: ignore[arg-type]
        assert [m.role for m in own] == ["user", "assistant"]
        assert own[0].content == prompt and result.agents[agent_id].cost_usd > 0
    base_messages = await harness.store.get_messages(base)
    assert [m.role for m in base_messages] == ["user", "assistant"]


async def test_fork_at_a_message_carries_history_only_up_to_it(harness: Harness) -> None:
    """Forking a two-turn session at its first answer sends turn one only, not turn two."""
    first = await harness.run(
        f"""
base: {{prompt: "{BASE}"}}
agents: [{{id: turn2, prompt: "now list the modules"}}]
"""
    )
    assert first.succeeded and first.base_session_id is not None
    base_answer = (await harness.store.get_messages(first.base_session_id))[-1]
    assert base_answer.role == "assistant"
    two_turns = first.agents["turn2"].session_id
    second = await harness.run(
        f"""
base: {{session: "{two_turns}"}}
agents:
  - {{id: at-first, prompt: "fork at turn one", fork_at: "{base_answer.uuid}"}}
  - {{id: at-end, prompt: "fork at the end"}}
"""
    )
    assert second.succeeded, [a.error for a in second.agents.values()]
    at_first, at_end = second.agents["at-first"], second.agents["at-end"]
    assert at_first.parent_session_id == two_turns and at_first.fork_point == base_answer.uuid
    assert harness.fork_texts(at_first.session_id) == [[BASE, "fork at turn one"]]  # type: ignore[arg-type]
    assert harness.fork_texts(at_end.session_id) == [  # type: ignore[arg-type]
        [BASE, "now list the modules", "fork at the end"]
    ]


async def test_a_fork_resumes_from_the_store_when_the_local_transcript_is_gone(
    harness: Harness,
) -> None:
    """With every local .jsonl deleted, a fork still gets the base history from our store."""
    first = await harness.run(f'base: {{prompt: "{BASE}"}}\nagents: [{{id: a, prompt: "one"}}]')
    assert first.succeeded
    projects = harness.rehearsal.config_dir / ".claude" / "projects"
    transcripts = list(projects.rglob("*.jsonl"))
    assert transcripts  # the base was written locally by the CLI
    for path in transcripts:
        path.unlink()
    plan = f'base: {{session: "{first.base_session_id}"}}\nagents: [{{id: b, prompt: "two"}}]'
    without_store = await harness.run(plan, harness.backend(session_store=False))
    assert without_store.agents["b"].status is AgentStatus.FAILED  # the CLI alone cannot
    again = await harness.run(plan)
    assert again.succeeded, again.agents["b"].error
    assert harness.fork_texts(again.agents["b"].session_id) == [[BASE, "two"]]  # type: ignore[arg-type]


async def test_429s_are_retried_and_counted_and_a_400_fails_only_its_agent(
    tmp_path: Path,
) -> None:
    """Two 429s then success count two retries; a 400 fails its agent with the reason."""
    config = MockAPIConfig(
        rules=(
            ReplyRule(
                match="flaky",
                error=ErrorSpec(type="rate_limit_error", retry_after=0.1),
                fail_first=2,
            ),
            ReplyRule(
                match="broken",
                error=ErrorSpec(type="invalid_request_error", message="this request is malformed"),
            ),
        )
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    async with open_rehearsal(config, tmp_path / "home") as rehearsal:
        harness = Harness(rehearsal, MemoryStore(), workdir)
        result = await harness.run(
            f"""
base: {{prompt: "{BASE}"}}
agents:
  - {{id: fine, prompt: "a normal task"}}
  - {{id: flaky, prompt: "a flaky task"}}
  - {{id: broken, prompt: "a broken task"}}
execution: {{max_parallel: 3}}
"""
        )
    agents = result.agents
    assert agents["fine"].succeeded and agents["fine"].retries == 0
    assert agents["flaky"].succeeded and agents["flaky"].retries == 2
    assert agents["broken"].status is AgentStatus.FAILED and agents["broken"].retries == 0
    assert "HTTP 400" in (agents["broken"].error or "")
    assert "this request is malformed" in (agents["broken"].error or "")
    assert result.metrics.retries == 2
    # The retried attempts left no half session: the agent's session is the one that answered.
    flaky_sessions = [
        s for s in await harness.store.list_sessions(result.run_id) if s.agent_id == "flaky"
    ]
    assert [s.session_id for s in flaky_sessions] == [agents["flaky"].session_id]
