"""Helpers for checkpoint tests: plans with tool-using simulated agents, stores, CLI runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from swarm import Checkpoint, Message, SessionRecord, Usage
from swarm.cli import main
from swarm.stores import Store


def assistant(
    session_id: str, uuid: str, *, files: tuple[str, ...] = (), tokens: int = 10
) -> Message:
    """An assistant message that writes ``files`` through Write tool uses."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": f"turn {uuid}"}]
    blocks += [
        {"type": "tool_use", "id": f"t-{uuid}-{i}", "name": "Write", "input": {"file_path": f}}
        for i, f in enumerate(files)
    ]
    return Message(
        uuid,
        session_id,
        "assistant",
        f"turn {uuid}",
        usage=Usage(input_tokens=tokens, output_tokens=1),
        raw={"content": blocks},
    )


async def session_with_messages(
    store: Store, session_id: str, count: int, **kw: Any
) -> list[Message]:
    """Save a root session with ``count`` alternating user/assistant messages m0..m{count-1}."""
    await store.save_session(SessionRecord(session_id, "simulated", **kw))
    messages = [
        Message(f"{session_id}-m{i}", session_id, "user", f"prompt {i}")
        if i % 2 == 0
        else assistant(session_id, f"{session_id}-m{i}")
        for i in range(count)
    ]
    await store.append_messages(session_id, messages)
    return messages


def by_kind(checkpoints: list[Checkpoint], kind: str) -> list[Checkpoint]:
    return [c for c in checkpoints if c.kind == kind]


PLAN = """\
name: cp-cli
base: {prompt: shared context}
execution: {max_parallel: 2}
backend: {name: simulated, simulated: {latency_s: 0.001, jitter: 0, turns: 3}}
store: {url: "sqlite:///store.db"}
checkpoints: {every: 2}
agents:
  - {id: a, prompt: do a, simulated: {files: [a.py, shared.py]}}
  - {id: b, prompt: do b, fork_from: {agent: a}, simulated: {files: [b.py, shared.py]}}
  - {id: c, prompt: do c, fork_from: {agent: a}, simulated: {files: [c.py]}}
"""


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    """Run ``swarm ARGS --json`` in-process; the exit code and the parsed document."""
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def run_plan_cli(directory: Path, capsys: pytest.CaptureFixture[str], text: str = PLAN) -> Any:
    """Run a plan through `swarm run --json` in ``directory`` and return its document."""
    path = directory / "plan.yaml"
    path.write_text(text)
    code, document = cli_json(capsys, "run", str(path))
    assert code == 0, document
    return document
