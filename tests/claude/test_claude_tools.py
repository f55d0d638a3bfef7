"""A plan's ``allowed_tools`` is the agent's whole tool set on the real Claude Code CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarm.backends import open_rehearsal
from swarm.mockapi import MockAPIConfig, ReplyRule, ToolUse
from swarm.stores import MemoryStore

from .conftest import Harness

pytestmark = pytest.mark.cli


def _touch(path: Path) -> ToolUse:
    return ToolUse(name="Bash", input={"command": f"touch {path}", "description": "touch"})


async def test_only_the_listed_tools_run_and_unset_keeps_the_defaults(tmp_path: Path) -> None:
    """Tools left off the list never run, even under acceptEdits; listed ones and defaults do."""
    work = tmp_path / "work"
    work.mkdir()
    rules = (
        ReplyRule(match="^bash please$", tool_uses=(_touch(work / "bashed"),)),
        ReplyRule(match="^write please$", tool_uses=(ToolUse.write_file(str(work / "w"), "x"),)),
        ReplyRule(match="^allowed write$", tool_uses=(ToolUse.write_file(str(work / "ok"), "x"),)),
        ReplyRule(match="^default bash$", tool_uses=(_touch(work / "default"),)),
    )
    async with open_rehearsal(MockAPIConfig(rules=rules), tmp_path / "home") as rehearsal:
        harness = Harness(rehearsal, MemoryStore(), work)
        result = await harness.run(
            """
base: {prompt: "hello"}
agents:
  - {id: read-only, prompt: "bash please", allowed_tools: [Read], permission_mode: acceptEdits}
  - {id: no-tools, prompt: "write please", allowed_tools: [], permission_mode: acceptEdits}
  - {id: may-write, prompt: "allowed write", allowed_tools: [Write]}
  - {id: defaults, prompt: "default bash", permission_mode: acceptEdits}
execution: {max_parallel: 4}
"""
        )
    assert result.succeeded, [a.error for a in result.agents.values()]
    # Only the listed Write (pre-approved, no permission_mode needed) and the default Bash ran.
    assert sorted(p.name for p in work.iterdir()) == ["default", "ok"]
    for agent_id in ("read-only", "no-tools"):
        session_id = result.agents[agent_id].session_id
        assert session_id is not None
        tool_results = [m for m in await harness.store.get_messages(session_id) if m.role == "tool"]
        assert len(tool_results) == 1 and "No such tool available" in tool_results[0].content
    tools = {r.session_id: r.tools for r in rehearsal.server.message_requests}
    assert tools[result.agents["no-tools"].session_id] == []  # `[]`: the model is offered none
    assert {"Bash", "Read", "Write"} <= set(tools[result.agents["defaults"].session_id])


async def test_forks_that_keep_the_default_tools_read_the_base_from_the_cache(
    harness: Harness,
) -> None:
    """The base is built with the plan's default tools, so forks with them share its prefix."""
    result = await harness.run(
        """
base: {prompt: "a long shared context to read once"}
defaults: {allowed_tools: []}
agents:
  - {id: a, prompt: "task a"}
  - {id: b, prompt: "task b"}
execution: {max_parallel: 2}
"""
    )
    assert result.succeeded, [a.error for a in result.agents.values()]
    requests = {r.session_id: r for r in harness.rehearsal.server.message_requests}
    base = requests[result.base_session_id]
    assert base.tools == []  # the defaults' tool set, not Claude Code's
    for agent_id in ("a", "b"):
        fork = requests[result.agents[agent_id].session_id]
        assert fork.tools == base.tools
        assert int((fork.usage or {}).get("cache_read_input_tokens", 0)) > 0
