"""Export a run (record, agents, sessions, messages, checkpoints) as json, jsonl, csv or md."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from ..errors import UsageError
from ..records import AgentResult, Checkpoint, Message, RunRecord, SessionRecord
from ..stores import Store

EXPORT_FORMATS = ("json", "jsonl", "csv", "md")
CSV_COLUMNS = (
    "run_id",
    "session_id",
    "agent_id",
    "parent_session_id",
    "index",
    "uuid",
    "parent_uuid",
    "role",
    "created_at",
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "content",
)


class _RunData:
    def __init__(
        self,
        run: RunRecord,
        agents: list[AgentResult],
        sessions: list[tuple[SessionRecord, list[Message], list[Checkpoint]]],
    ) -> None:
        self.run, self.agents, self.sessions = run, agents, sessions


async def _load(store: Store, run: RunRecord) -> _RunData:
    sessions = []
    for session in await store.list_sessions(run.run_id):
        messages = await store.get_messages(session.session_id)
        checkpoints = await store.list_checkpoints(session.session_id)
        sessions.append((session, messages, checkpoints))
    return _RunData(run, await store.list_agents(run.run_id), sessions)


async def export_run(store: Store, run: RunRecord, fmt: str) -> str:
    """The run in one of :data:`EXPORT_FORMATS`; each session's own messages, in order."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"export format {fmt!r}: expected one of {', '.join(EXPORT_FORMATS)}")
    data = await _load(store, run)
    render = {"json": _json, "jsonl": _jsonl, "csv": _csv, "md": _markdown}[fmt]
    return render(data)


def _json(data: _RunData) -> str:
    document = {
        "run": data.run.to_dict(),
        "agents": [a.to_dict() for a in data.agents],
        "sessions": [
            {
                **session.to_dict(),
                "messages": [m.to_dict() for m in messages],
                "checkpoints": [c.to_dict() for c in checkpoints],
            }
            for session, messages, checkpoints in data.sessions
        ],
    }
    return json.dumps(document, indent=2, default=str) + "\n"


def _records(data: _RunData) -> Iterator[dict[str, Any]]:
    yield {"type": "run", **data.run.to_dict()}
    for agent in data.agents:
        yield {"type": "agent", "run_id": data.run.run_id, **agent.to_dict()}
    for session, messages, checkpoints in data.sessions:
        yield {"type": "session", **session.to_dict()}
        for message in messages:
            yield {"type": "message", **message.to_dict()}
        for checkpoint in checkpoints:
            yield {"type": "checkpoint", **checkpoint.to_dict()}


def _jsonl(data: _RunData) -> str:
    return "".join(json.dumps(r, separators=(",", ":"), default=str) + "\n" for r in _records(data))


def _csv(data: _RunData) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for session, messages, _ in data.sessions:
        for index, m in enumerate(messages):
            u = m.usage
            writer.writerow(
                (
                    data.run.run_id,
                    session.session_id,
                    session.agent_id or "",
                    session.parent_session_id or "",
                    index,
                    m.uuid,
                    m.parent_uuid or "",
                    m.role,
                    m.created_at,
                    u.input_tokens,
                    u.output_tokens,
                    u.cache_creation_tokens,
                    u.cache_read_tokens,
                    m.content,
                )
            )
    return out.getvalue()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(data: _RunData) -> str:
    run = data.run
    lines = [f"# Run {run.run_id}", ""]
    lines.append(f"- name: {run.name or '-'}")
    lines.append(f"- status: {run.status.value}")
    lines.append(f"- backend: {run.backend or '-'}")
    lines.append(f"- created: {run.created_at}")
    if run.metrics is not None:
        metrics = run.metrics
        lines.append(
            f"- wall: {metrics.wall_s:.2f}s, tokens: {metrics.usage.total}, "
            f"cost: ${metrics.cost_usd:.4f}"
        )
    lines += ["", "## Agents", "", "| agent | status | turns | tokens | cost | note |"]
    lines.append("|---|---|---|---|---|---|")
    for a in data.agents:
        lines.append(
            f"| {a.agent_id} | {a.status.value} | {a.turns} | {a.usage.total} "
            f"| ${a.cost_usd:.4f} | {_cell(a.error or '')} |"
        )
    for session, messages, checkpoints in data.sessions:
        who = f"agent {session.agent_id}" if session.agent_id else "base"
        lines += ["", f"## Session {session.session_id} ({who})", ""]
        if session.parent_session_id:
            at = session.fork_point or "its end"
            lines.append(f"Forked from {session.parent_session_id} at {at}.")
            lines.append("")
        for m in messages:
            lines += [f"### {m.role} · {m.created_at[:19]} · {m.uuid}", "", m.content, ""]
        if checkpoints:
            lines += ["Checkpoints:", ""]
            for c in checkpoints:
                lines.append(
                    f"- {c.checkpoint_id} ({c.kind}) at message {c.message_count}: "
                    f"{c.description or '-'}"
                )
    return "\n".join(lines).rstrip() + "\n"
