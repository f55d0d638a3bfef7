"""The real bundled Claude Code CLI, driven through claude_agent_sdk against the fake API."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    Message,
    PermissionMode,
    ResultError,
    ResultMessage,
    query,
)

from swarm.mockapi import (
    REHEARSAL_PREFIX,
    ErrorSpec,
    MockAnthropicServer,
    MockAPIConfig,
    ReplyRule,
    ToolUse,
    open_mock_api,
)

pytestmark = pytest.mark.cli


def options(
    server: MockAnthropicServer, tmp_path: Path, permission_mode: PermissionMode | None = None
) -> ClaudeAgentOptions:
    cwd = tmp_path / "work"
    cwd.mkdir(exist_ok=True)
    return ClaudeAgentOptions(
        env=server.cli_env(tmp_path / "home", max_retries=0),
        setting_sources=[],
        cwd=cwd,
        max_turns=3,
        permission_mode=permission_mode,
    )


async def run(prompt: str, opts: ClaudeAgentOptions) -> list[Message]:
    return [message async for message in query(prompt=prompt, options=opts)]


def result_of(messages: list[Message]) -> ResultMessage:
    results = [m for m in messages if isinstance(m, ResultMessage)]
    assert len(results) == 1
    return results[0]


async def test_new_session_then_fork_carries_base_history(tmp_path: Path) -> None:
    """A new session gets the rehearsal reply; its fork gets a new id and the full base history."""
    async with open_mock_api() as server:
        opts = options(server, tmp_path)
        base = result_of(await run("Summarise the plan in one line.", opts))
        assert base.result is not None and base.result.startswith(REHEARSAL_PREFIX)
        assert "Summarise the plan" in base.result
        [base_request] = server.message_requests
        assert base_request.session_id == base.session_id
        assert base_request.stream is True and base_request.query == "beta=true"

        fork_opts = dataclasses.replace(opts, resume=base.session_id, fork_session=True)
        fork = result_of(await run("Now do step two.", fork_opts))

    assert fork.session_id != base.session_id
    [fork_request] = [r for r in server.message_requests if r.session_id == fork.session_id]
    assert fork_request.user_texts[0] == "Summarise the plan in one line."
    assert fork_request.last_user_text == "Now do step two."
    assert base.result in [
        m["content"][0]["text"] for m in fork_request.messages if m["role"] == "assistant"
    ]
    assert server.requests_matching("Summarise the plan") == [base_request, fork_request]
    # The fork re-sends the base prefix, which the cache simulation reports as a read.
    assert fork_request.usage is not None and fork_request.usage["cache_read_input_tokens"] > 0
    assert server.session_ids() == [base.session_id, fork.session_id]
    assert not any(r.disconnected for r in server.requests)


async def test_write_tool_rule_makes_the_cli_write_a_file(tmp_path: Path) -> None:
    """A Write tool_use rule makes the real CLI create the file, then the turn ends."""
    target = tmp_path / "work" / "notes.txt"
    write = ToolUse.write_file(str(target), "written by the fake model\n")
    config = MockAPIConfig(rules=[ReplyRule(match="take notes", tool_uses=(write,))])
    async with open_mock_api(config) as server:
        # acceptEdits rather than bypassPermissions: the CLI refuses the latter as root.
        opts = options(server, tmp_path, permission_mode="acceptEdits")
        messages = await run("Please take notes.", opts)
    result = result_of(messages)
    assert not result.is_error
    assert target.read_text() == "written by the fake model\n"
    first, second = server.message_requests
    assert first.rule == "rule[0]" and "Write" in first.tools
    assert second.rule is None  # the tool_result turn falls through to the default reply
    assert second.messages[-1]["content"][0]["type"] == "tool_result"
    assert result.result is not None and result.result.startswith(REHEARSAL_PREFIX)


async def test_cli_reports_an_injected_overload_without_retrying(tmp_path: Path) -> None:
    """With retries off, a 529 reaches the SDK as an API error status on the result."""
    rule = ReplyRule(error=ErrorSpec(type="overloaded_error"))
    async with open_mock_api(MockAPIConfig(rules=[rule])) as server:
        messages: list[Message] = []
        with pytest.raises(ResultError):
            async for message in query(prompt="hello", options=options(server, tmp_path)):
                messages.append(message)
    assert any(isinstance(m, AssistantMessage) and m.error for m in messages)
    result = result_of(messages)
    assert result.is_error and result.api_error_status == 529
    assert [r.status for r in server.message_requests] == [529]
