"""A resumed agent that continues its session is told to continue, not sent its task again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from swarm import SQLiteStore
from swarm.cli.app import main
from swarm.plan import DEFAULT_CONTINUE_PROMPT

from .test_cli_resume import interrupt_agent, write_plan


def user_texts(session_id: str) -> list[str]:
    """The user messages of one session in the SQLite store of the current directory."""

    async def read() -> list[str]:
        store = await SQLiteStore.open(Path("store.db"))
        try:
            return [m.content for m in await store.get_messages(session_id) if m.role == "user"]
        finally:
            await store.aclose()

    return trio.run(read)


def test_a_continued_session_gets_the_continue_message_and_the_same_outcome(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a "crash" mid-agent, resume sends the continuation message into the agent's
    session (not its task a second time), and the agent ends as an uninterrupted one."""
    write_plan(in_tmp_cwd)
    assert main(["run", "plan.yaml", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    before = {a["agent_id"]: a for a in first["agents"]}

    interrupt_agent(first["run_id"], "a1")
    assert main(["resume", "latest", "--store", "sqlite:///store.db", "--json"]) == 0
    after = {a["agent_id"]: a for a in json.loads(capsys.readouterr().out)["agents"]}

    session = before["a1"]["session_id"]
    assert after["a1"]["session_id"] == session  # continued, not forked afresh
    assert user_texts(session) == ["task 1", DEFAULT_CONTINUE_PROMPT]
    for field in ("status", "output", "turns", "usage", "cost_usd"):
        assert after["a1"][field] == before["a1"][field], field
