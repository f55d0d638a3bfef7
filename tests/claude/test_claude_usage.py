"""Per-message token counts of the claude backend add up to what the fake API billed."""

from __future__ import annotations

import functools
import operator
from pathlib import Path

import pytest

from swarm.backends import AgentRequest, BaseRequest, Rehearsal, open_rehearsal
from swarm.backends.claude import ClaudeBackend
from swarm.mockapi import MockAPIConfig, ReplyRule, ToolUse
from swarm.records import Message, Usage
from swarm.stores import MemoryStore
from swarm.testing import RecordingSink

from .conftest import FAST_RETRY

pytestmark = pytest.mark.cli


def _billed(rehearsal: Rehearsal, session_id: str) -> list[Usage]:
    """The usage the fake API answered each request of one session with, in order."""
    return [
        Usage(
            input_tokens=r.usage["input_tokens"],
            output_tokens=r.usage["output_tokens"],
            cache_creation_tokens=r.usage["cache_creation_input_tokens"],
            cache_read_tokens=r.usage["cache_read_input_tokens"],
        )
        for r in rehearsal.server.message_requests
        if r.session_id == session_id and r.usage is not None
    ]


def _total(usages: list[Usage]) -> Usage:
    return functools.reduce(operator.add, usages, Usage())


def _counted(messages: list[Message]) -> list[Usage]:
    return [m.usage for m in messages if m.usage.total]


async def test_each_response_is_stored_once_with_its_final_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored, imported and result usage all equal the fake API's bill, response by response."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "notes.txt").write_text("the notes\n")
    # Text plus a tool call in one response: the CLI emits two assistant messages for it.
    read = ReplyRule(
        match="read the notes",
        text="Let me read them.",
        tool_uses=(ToolUse(name="Read", input={"file_path": str(workdir / "notes.txt")}),),
    )
    async with open_rehearsal(MockAPIConfig(rules=(read,)), tmp_path / "home") as rehearsal:
        store = MemoryStore()
        backend = ClaudeBackend(store, env=rehearsal.env, cwd=workdir, retry=FAST_RETRY)
        sink = RecordingSink(store, "claude")
        base = await backend.open_base(BaseRequest(run_id="r", prompt="read the notes"), sink)
        request = AgentRequest(
            run_id="r",
            agent_id="a",
            prompt="read the notes again",
            parent_session_id=base.session_id,
            allowed_tools=("Read",),
        )
        outcome = await backend.run_agent(request, sink)

        for session_id, result_usage in (
            (base.session_id, base.usage),
            (outcome.session_id, outcome.usage),
        ):
            billed = _billed(rehearsal, session_id)
            messages = await store.get_messages(session_id)
            assert len(billed) == 2  # the tool call, then the answer after its result
            assert len([m for m in messages if m.role == "assistant"]) == 3
            assert [m.role for m in messages][-3:] == ["assistant", "tool", "assistant"]
            assert _counted(messages) == billed  # not message_start's output_tokens=1
            assert _total(billed) == result_usage

        # A session imported from its Claude Code transcript counts each response once too.
        monkeypatch.setenv("CLAUDE_CONFIG_DIR", rehearsal.env["CLAUDE_CONFIG_DIR"])
        fresh = MemoryStore()
        importer = ClaudeBackend(fresh, env=rehearsal.env, cwd=workdir, retry=FAST_RETRY)
        imported = RecordingSink(fresh, "claude")
        await importer.open_base(BaseRequest(run_id="r2", session_id=base.session_id), imported)
        assert _counted(imported.messages) == _billed(rehearsal, base.session_id)
