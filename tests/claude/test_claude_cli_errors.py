"""When the Claude Code CLI fails, the agent's error says why, readably and without secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from swarm.backends import AgentRequest, BaseRequest, open_rehearsal
from swarm.backends.claude import ClaudeBackend
from swarm.backends.claude._messages import STDERR_PLACEHOLDER, stderr_reason
from swarm.errors import BackendError
from swarm.mockapi import MockAPIConfig
from swarm.stores import MemoryStore
from swarm.testing import RecordingSink

from .conftest import FAST_RETRY

SECRET = "hunter2-do-not-print"


def test_stderr_reason_keeps_the_last_meaningful_lines_readable_and_redacted() -> None:
    """Blank lines, stack frames, repeats and the SDK's placeholder go; tags become words."""
    lines = [
        "warming up\n",
        '[claude-code:unrecognized_model] {"model":"gpt-17","query_source":"sdk"}',
        "",
        f"error: bad value {SECRET} and sk-ant-api03-abcdefghijklmnop",
        f"error: bad value {SECRET} and sk-ant-api03-abcdefghijklmnop",
        "    at parse (/$bunfs/root/claude:1:2)",
        STDERR_PLACEHOLDER,
    ]
    reason = stderr_reason(lines, [SECRET], keep=2)
    assert (
        reason == "unrecognized model (model=gpt-17) | error: bad value [redacted] and [redacted]"
    )
    assert stderr_reason(["", STDERR_PLACEHOLDER], []) == ""


@pytest.mark.cli
async def test_a_cli_that_exits_non_zero_fails_its_agent_with_its_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A refused option fails the agent with the CLI's own words; a model warning is logged."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    async with open_rehearsal(MockAPIConfig(), tmp_path / "home") as rehearsal:
        store = MemoryStore()
        env = {**rehearsal.env, "MY_SERVICE_TOKEN": SECRET}
        backend = ClaudeBackend(store, env=env, cwd=workdir, retry=FAST_RETRY)
        sink = RecordingSink(store, "claude")
        base = await backend.open_base(BaseRequest(run_id="r", prompt="hello"), sink)

        def request(
            *, permission_mode: str | None = None, model: str | None = None
        ) -> AgentRequest:
            parent = base.session_id
            return AgentRequest(
                "r", "a", "go", parent, permission_mode=permission_mode, model=model
            )

        with pytest.raises(BackendError) as refused:
            await backend.run_agent(request(permission_mode="yolo"), sink)
        assert "exited with code 1: error: option '--permission-mode <mode>'" in str(refused.value)
        assert "'yolo' is invalid. Allowed choices are" in str(refused.value)
        with pytest.raises(BackendError) as secret:
            await backend.run_agent(request(permission_mode=SECRET), sink)
        assert SECRET not in str(secret.value) and "[redacted]" in str(secret.value)

        # The fake API accepts any model, the CLI warns on stderr: logged, in words.
        with capture_logs() as logs:
            await backend.run_agent(request(model="gpt-17-turbo"), sink)
    assert [e["stderr"] for e in logs if e["event"] == "claude.stderr"] == [
        "unrecognized model (model=gpt-17-turbo)"
    ]
    terminal = capfd.readouterr().err
    assert "[claude-code:" not in terminal and STDERR_PLACEHOLDER not in terminal


@pytest.mark.cli
async def test_a_5_mb_prompt_and_a_200_kb_system_prompt_reach_the_api(tmp_path: Path) -> None:
    """Prompts as big as a plan file allows: a 5 MB task (the CLI echoes it back in one
    JSON line, past the SDK's default 1 MB buffer) and a 200 KB system prompt (longer than
    one command-line argument may be) both arrive whole, and the agent succeeds."""
    from swarm import ParallelSwarmExecutor, parse_plan

    task = "review this: " + "0123456789abcdef" * (5 * 2**20 // 16)
    system = "house rules: " + "be brief. " * 20_000
    workdir = tmp_path / "work"
    workdir.mkdir()
    async with open_rehearsal(MockAPIConfig(), tmp_path / "home") as rehearsal:
        store = MemoryStore()
        backend = ClaudeBackend(store, env=rehearsal.env, cwd=workdir, retry=FAST_RETRY)
        plan = parse_plan(
            "base: {prompt: shared context}\n"
            f"defaults: {{max_turns: 1, allowed_tools: [], system_prompt: '{system}'}}\n"
            f"agents: [{{id: big, prompt: '{task}'}}]\n"
        )
        result = await ParallelSwarmExecutor(backend, store).run(plan)
        requests = rehearsal.server.message_requests
    big = result.agents["big"]
    assert big.status.value == "succeeded", big.error
    # Past the context window, Claude Code compacts first, then sends the task whole.
    assert any(task in r.last_user_text for r in requests)
    assert all(system in str(r.system) for r in requests)
