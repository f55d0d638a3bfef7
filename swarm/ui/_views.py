"""What each page of the dashboard shows, read from the store through the library's
browse functions (no SQL here): plain data the templates render."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..records import AgentResult, AgentStatus, Checkpoint, Message, RunRecord, Usage
from ..stores import Store, history
from ..timeline import (
    CheckpointDiff,
    SessionView,
    diff_checkpoints,
    find_checkpoint,
    find_run,
    find_session,
    parse_time,
    readable_runs,
    session_detail,
    session_tree,
)

RUNS_SHOWN = 200


def _seconds(a: str | None, b: str | None) -> float | None:
    if a is None or b is None:
        return None
    return (parse_time(b) - parse_time(a)).total_seconds()


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class RunRow:
    """One line of the runs page."""

    run: RunRecord
    agents: int
    counts: dict[str, int]
    wall_s: float | None
    cost_usd: float
    rehearsal: bool


async def runs_page(store: Store) -> tuple[list[RunRow], list[str]]:
    """Runs, newest first, with their figures; and the ids of damaged run records."""
    runs, damaged = await readable_runs(store, limit=RUNS_SHOWN)
    rows = []
    for run in runs:
        agents = await store.list_agents(run.run_id)
        counts: dict[str, int] = {}
        for agent in agents:
            counts[agent.status.value] = counts.get(agent.status.value, 0) + 1
        wall: float | None
        if run.metrics is not None:
            wall, cost = run.metrics.wall_s, run.metrics.cost_usd
        else:
            wall = _seconds(run.created_at, run.ended_at or _now())
            cost = sum(a.cost_usd for a in agents)
        rows.append(RunRow(run, len(agents), counts, wall, cost, run.rehearsal is not None))
    return rows, damaged


# --- the timeline ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    agent_id: str
    status: str
    start_s: float
    end_s: float
    retries: int
    running: bool


@dataclass(frozen=True, slots=True)
class Timeline:
    """Bars on one time axis (seconds from the run's start), the number of agents
    running over time (steps), and the makespan lower bound (from the first start)."""

    span_s: float
    bars: list[Bar]
    occupancy: list[tuple[float, int]]
    peak: int
    bound_at_s: float | None


def timeline(run: RunRecord, agents: Sequence[AgentResult], now: str) -> Timeline:
    bars = []
    for agent in agents:
        start = _seconds(run.created_at, agent.started_at)
        if start is None:
            continue
        running = agent.status is AgentStatus.RUNNING
        end = _seconds(run.created_at, now if running or agent.ended_at is None else agent.ended_at)
        bars.append(
            Bar(
                agent.agent_id,
                agent.status.value,
                start,
                max(start, end or start),
                agent.retries,
                running,
            )
        )
    edges = sorted([(b.start_s, 1) for b in bars] + [(b.end_s, -1) for b in bars])
    occupancy: list[tuple[float, int]] = [(0.0, 0)]
    level = peak = 0
    for at, step in edges:
        level += step
        peak = max(peak, level)
        occupancy.append((at, level))
    end = max([b.end_s for b in bars] + [_seconds(run.created_at, run.ended_at) or 0.0, 0.0])
    bound = None
    if run.metrics is not None and bars:
        bound = min(b.start_s for b in bars) + run.metrics.makespan_lower_bound_s
        end = max(end, bound)
    return Timeline(max(end, 0.001), bars, occupancy, peak, bound)


# --- a run ---------------------------------------------------------------------------


@dataclass(slots=True)
class TreeNode:
    view: SessionView
    checkpoints: int
    children: list[TreeNode] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunPage:
    run: RunRecord
    agents: list[AgentResult]
    usage: Usage
    cost_usd: float
    budget: dict[str, Any] | None
    tree: list[TreeNode]
    timeline: Timeline
    rehearsal: bool
    simulated: bool

    @property
    def budget_share(self) -> float | None:
        """The budget spent so far, 0 to 1, when the plan has a cost budget."""
        limit = (self.budget or {}).get("max_cost_usd")
        return min(1.0, self.cost_usd / float(limit)) if limit else None


def _plan_order(run: RunRecord, agents: list[AgentResult]) -> list[AgentResult]:
    order = {a.get("id"): i for i, a in enumerate(run.plan.get("agents") or [])}
    return sorted(agents, key=lambda a: (order.get(a.agent_id, len(order)), a.agent_id))


async def run_page(store: Store, ref: str) -> RunPage:
    run = await find_run(store, ref)
    agents = _plan_order(run, await store.list_agents(run.run_id))
    counts: dict[str, int] = {}
    for checkpoint in await store.list_checkpoints():
        counts[checkpoint.session_id] = counts.get(checkpoint.session_id, 0) + 1

    def node(view: SessionView) -> TreeNode:
        session_id = view.session.session_id
        return TreeNode(view, counts.get(session_id, 0), [node(c) for c in view.children])

    tree = [node(view) for view in await session_tree(store, run)]
    usage = sum((a.usage for a in agents), Usage())
    cost = sum(a.cost_usd for a in agents)
    if run.metrics is not None:  # the base's share included
        usage, cost = run.metrics.usage, run.metrics.cost_usd
    budget = (run.plan.get("execution") or {}).get("budget")
    return RunPage(
        run=run,
        agents=agents,
        usage=usage,
        cost_usd=cost,
        budget=budget if isinstance(budget, dict) else None,
        tree=tree,
        timeline=timeline(run, agents, _now()),
        rehearsal=run.rehearsal is not None,
        simulated=any(a.output_is_simulated for a in agents),
    )


async def run_fingerprint(store: Store, ref: str) -> str:
    """Changes whenever anything the run page shows changes (records, sessions,
    checkpoints): what the live page polls for."""
    run = await find_run(store, ref)
    agents = await store.list_agents(run.run_id)
    sessions = await store.list_sessions(run.run_id)
    checkpoints = 0
    for session in sessions:
        checkpoints += len(await store.list_checkpoints(session.session_id))
    parts = [run.to_dict(), [a.to_dict() for a in agents], len(sessions), checkpoints]
    running = any(a.status is AgentStatus.RUNNING for a in agents)
    # a running agent's bar grows with the clock: refresh it at most once a second
    tick = int(datetime.now(UTC).timestamp()) if running else 0
    return _digest([parts, tick])


async def runs_fingerprint(store: Store) -> str:
    runs, damaged = await readable_runs(store, limit=RUNS_SHOWN)
    parts = [[r.run_id, r.status.value, r.updated_at] for r in runs]
    for run in runs:
        if run.ended_at is None:
            parts.append([a.status.value for a in await store.list_agents(run.run_id)])
    return _digest([parts, damaged])


def _digest(data: Any) -> str:
    encoded = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


# --- a session -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Block:
    """A piece of a message: text, or a tool use / tool result (shown folded)."""

    kind: str  # text | tool_use | tool_result | other
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class MessageView:
    message: Message
    inherited: bool
    blocks: list[Block]


def blocks_of(message: Message) -> list[Block]:
    raw = message.raw or {}
    content = raw.get("content") if isinstance(raw, dict) else None
    if isinstance(raw, dict) and isinstance(raw.get("message"), dict):
        content = raw["message"].get("content")  # a transcript line wraps the API message
    if not isinstance(content, list):
        return [Block("text", "", message.content)]
    blocks = []
    for item in content:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "text":
            blocks.append(Block("text", "", str(item.get("text", ""))))
        elif kind == "tool_use":
            body = json.dumps(item.get("input"), indent=2, ensure_ascii=False)
            blocks.append(Block("tool_use", f"tool use: {item.get('name', '?')}", body))
        elif kind == "tool_result":
            result = item.get("content")
            body = result if isinstance(result, str) else json.dumps(result, indent=2)
            blocks.append(Block("tool_result", "tool result", body))
        else:
            blocks.append(Block("other", str(kind), json.dumps(item, indent=2)))
    return blocks or [Block("text", "", message.content)]


@dataclass(frozen=True, slots=True)
class SessionPage:
    detail: dict[str, Any]
    messages: list[MessageView]
    checkpoints: list[Checkpoint]
    diff: CheckpointDiff | None
    diff_refs: tuple[str, str] | None


async def session_page(
    store: Store, ref: str, diff_a: str | None = None, diff_b: str | None = None
) -> SessionPage:
    session = await find_session(store, ref)
    detail = await session_detail(store, session)
    own = {m.uuid for m in await store.get_messages(session.session_id)}
    messages = [
        MessageView(m, m.uuid not in own, blocks_of(m))
        for m in await history(store, session.session_id)
    ]
    checkpoints = await store.list_checkpoints(session.session_id)
    diff = None
    refs = None
    if diff_a and diff_b:
        a = await find_checkpoint(store, diff_a, session.session_id)
        b = await find_checkpoint(store, diff_b, session.session_id)
        diff = await diff_checkpoints(store, a, b)
        refs = (diff_a, diff_b)
    return SessionPage(detail, messages, checkpoints, diff, refs)
