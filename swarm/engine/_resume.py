"""Resuming a run after a crash (kill -9, power cut) or an interruption.

The store's record of each agent decides what becomes of it:

- **kept, never run again**: ``succeeded``, ``failed`` and ``timed_out`` (the
  agent reached its own end, which an uninterrupted run reaches the same way),
  and ``skipped`` once started (a pre-agent hook skipped it);
- **run again**: ``pending``, ``running`` (the crash caught it mid-way),
  ``cancelled`` (an interruption stopped it) and ``skipped`` before it started
  (the run stopped, or the agent it forks from had not succeeded: decided
  again from the kept records).

An agent that already had its own session continues it when the plan's
``execution.on_resume`` is ``continue`` (the backend gets
``resume_session_id`` and, as the prompt, :func:`continue_prompt`: the task
is already in the session, so it is not sent twice), or forks its parent
afresh with ``restart``. The base
session is reused once it was ready, never rebuilt. Every execution of a plan
is one entry of ``RunRecord.attempts``; the final metrics merge them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from .._redaction import restore_secrets
from ..backends import BaseSession
from ..errors import IntegrityError, NotFoundError, Remedy, UsageError
from ..plan import DEFAULT_CONTINUE_PROMPT, ON_RESUME_POLICIES, Plan
from ..records import (
    AgentResult,
    AgentStatus,
    Attempt,
    BaseEntry,
    RunRecord,
    SwarmMetrics,
    Usage,
)
from ..stores import Store

KEPT_STATUSES = frozenset({AgentStatus.SUCCEEDED, AgentStatus.FAILED, AgentStatus.TIMED_OUT})


def continue_prompt(plan: Plan) -> str:
    """The message a continued session gets: the plan's ``execution.continue_prompt``
    (:data:`~swarm.plan.DEFAULT_CONTINUE_PROMPT` unless set), or that default where a
    stored plan holds only spaces there (plan files may not)."""
    configured = plan.execution.continue_prompt
    return configured if configured.strip() else DEFAULT_CONTINUE_PROMPT


async def _continuing(
    store: Store, plan: Plan, agents: Mapping[str, AgentResult], continued: frozenset[str]
) -> Plan:
    """``plan`` with the continuation message as the prompt of each continued agent
    whose session already holds its task.

    The executor sends an agent's prompt with its request; a continued session has its
    task in its history already, and the same prompt again would read as a new turn
    asking for the whole task twice. A session the crash caught before its first
    message was stored never got the task, so it is sent the task itself. Only this
    execution sees the change: the run record keeps the plan as written.
    """
    told: set[str] = set()
    for agent_id in continued:
        session_id = agents[agent_id].session_id
        if session_id and any(m.role == "user" for m in await store.get_messages(session_id)):
            told.add(agent_id)
    if not told:
        return plan
    text = continue_prompt(plan)
    specs = [
        spec.model_copy(update={"prompt": text}) if spec.id in told else spec
        for spec in plan.agents
    ]
    return plan.model_copy(update={"agents": specs})


def is_kept(result: AgentResult) -> bool:
    """True when a resume keeps this agent's record and never runs it again."""
    if result.status in KEPT_STATUSES:
        return True
    return result.status is AgentStatus.SKIPPED and result.started_at is not None


@dataclass(frozen=True, slots=True)
class ResumeState:
    """What a resume starts from: the stored run, its plan, and each agent's fate."""

    record: RunRecord
    plan: Plan
    agents: dict[str, AgentResult]
    kept: frozenset[str]
    continued: frozenset[str]
    restarted: frozenset[str]
    fresh: frozenset[str]
    base: BaseSession | None
    base_s: float
    base_retries: int = 0  # API retries while the base was built (counted with the agents')

    @property
    def nothing_to_run(self) -> bool:
        return not (self.continued or self.restarted or self.fresh)

    def summary(self) -> dict[str, list[str]]:
        return {
            "kept": sorted(self.kept),
            "continued": sorted(self.continued),
            "restarted": sorted(self.restarted),
            "fresh": sorted(self.fresh),
        }


async def load_resume_state(
    store: Store, run_id: str, *, on_resume: str | None = None
) -> ResumeState:
    """Read a run back from the store and decide what a resume does with each agent."""
    if on_resume is not None and on_resume not in ON_RESUME_POLICIES:
        raise UsageError(f"on_resume: expected continue or restart (got {on_resume!r})")
    record = await store.get_run(run_id)
    if record is None:
        raise NotFoundError(f"no run {run_id!r} in the store", remedy=Remedy.LIST_RUNS)
    try:
        plan = Plan.model_validate(restore_secrets(record.plan))
    except ValidationError as exc:
        raise IntegrityError(
            f"run {run_id}: its stored plan no longer validates ({exc.error_count()} errors); "
            "it was written by another version of swarm"
        ) from None
    if on_resume is not None:
        plan = plan.with_overrides(execution={"on_resume": on_resume})
    stored = {a.agent_id: a for a in await store.list_agents(run_id)}
    agents = {
        spec.id: stored.get(spec.id) or AgentResult(agent_id=spec.id, priority=spec.priority.value)
        for spec in plan.agents
    }
    kept = frozenset(i for i, a in agents.items() if is_kept(a))
    again = [i for i in agents if i not in kept]
    agents.update(await _sessions_of_running(store, run_id, [agents[i] for i in again]))
    with_session = {i for i in again if agents[i].session_id is not None}
    continuing = plan.execution.on_resume == "continue"
    continued = frozenset(with_session if continuing else ())
    base, base_s = await _base_of(store, record, plan)
    entry = recorded_base(record)
    return ResumeState(
        record=record,
        plan=await _continuing(store, plan, agents, continued),
        agents=agents,
        kept=kept,
        continued=continued,
        restarted=frozenset(() if continuing else with_session),
        fresh=frozenset(i for i in again if i not in with_session),
        base=base,
        base_s=base_s,
        base_retries=entry.retries if entry is not None else 0,
    )


async def _sessions_of_running(
    store: Store, run_id: str, candidates: Sequence[AgentResult]
) -> dict[str, AgentResult]:
    """Agents the crash caught running, with the session they had started.

    The executor writes an agent's session id into its record when the agent ends;
    until then it is on the session record (run id, agent id). The newest session an
    agent started in the attempt that was running it (at or after its ``started_at``)
    is the one to continue.
    """
    running = {
        a.agent_id: a
        for a in candidates
        if a.status is AgentStatus.RUNNING and a.session_id is None and a.started_at
    }
    if not running:
        return {}
    found: dict[str, AgentResult] = {}
    for session in await store.list_sessions(run_id):  # oldest first: the newest wins
        agent = running.get(session.agent_id or "")
        if agent is not None and agent.started_at and session.created_at >= agent.started_at:
            found[agent.agent_id] = agent.evolve(session_id=session.session_id)
    return found


async def _base_of(store: Store, record: RunRecord, plan: Plan) -> tuple[BaseSession | None, float]:
    """The base session a run already has, as the attempt that built it recorded it."""
    entry = recorded_base(record)
    if entry is not None:
        base = BaseSession(
            entry.session_id,
            fork_point=entry.fork_point,
            usage=entry.usage,
            cost_usd=entry.cost_usd,
        )
        return base, entry.seconds
    if record.base_session_id is None:
        return None, 0.0
    # A run written before attempts were recorded: rebuild what the messages tell.
    usage = Usage()
    if plan.base.session is None:
        for message in await store.get_messages(record.base_session_id):
            usage = usage + message.usage
    return BaseSession(record.base_session_id, fork_point=plan.base.at, usage=usage), 0.0


def recorded_base(record: RunRecord) -> BaseEntry | None:
    """The base session as recorded by the (last) attempt that built it, if one did."""
    for attempt in reversed(record.attempts):
        if attempt.base is not None:
            return attempt.base
    return None


# --- attempts -------------------------------------------------------------------


def new_attempt(
    attempts: Sequence[Attempt], kind: str, owner: str, **details: Any
) -> list[Attempt]:
    """``attempts`` with a new entry for the execution starting now."""
    return [*attempts, Attempt(len(attempts) + 1, kind, owner, **details)]


def update_last(attempts: Sequence[Attempt], **changes: Any) -> list[Attempt]:
    """``attempts`` with the current (last) entry updated."""
    if not attempts:
        return [Attempt(1, "run", **changes)]
    return [*attempts[:-1], attempts[-1].evolve(**changes)]


def base_entry(base: BaseSession, seconds: float, retries: int = 0) -> BaseEntry:
    return BaseEntry(
        session_id=base.session_id,
        fork_point=base.fork_point,
        usage=base.usage,
        cost_usd=base.cost_usd,
        seconds=seconds,
        retries=retries,
    )


def _stamp(value: str | None) -> float | None:
    try:
        return datetime.fromisoformat(value).timestamp() if value else None
    except ValueError:
        return None


def _estimated_times(
    attempt: Attempt, until: float | None, agents: Sequence[AgentResult]
) -> tuple[float, float]:
    """(wall, agents wall) of an attempt that was killed and so never wrote them: from
    its start to the last agent record it wrote, estimated from the agents' timestamps."""
    start = _stamp(attempt.started_at)
    if start is None:
        return 0.0, 0.0
    spans = []
    for agent in agents:
        begun, ended = _stamp(agent.started_at), _stamp(agent.ended_at)
        if begun is None or ended is None or begun < start:
            continue
        if until is None or ended <= until:
            spans.append((begun, ended))
    if not spans:
        return 0.0, 0.0
    last = max(end for _, end in spans)
    return last - start, last - min(begun for begun, _ in spans)


def merge_metrics(
    this: SwarmMetrics,
    previous: Sequence[Attempt],
    kept: Sequence[AgentResult],
    *,
    base_s: float,
) -> SwarmMetrics:
    """Figures of a whole resumed run: this attempt's plus the earlier ones'.

    Agent time, longest agent, tokens, cost, retries and counts cover every kept
    agent as well, so they equal an uninterrupted run's; wall times add up the
    attempts (a killed attempt's are estimated from its agents' timestamps).
    Usage an agent spent in an attempt that was killed under it is not counted.
    """
    wall, agents_wall, peak = this.wall_s, this.agents_wall_s, this.peak_concurrency
    for i, attempt in enumerate(previous):
        if attempt.wall_s is not None:
            wall += attempt.wall_s
            agents_wall += attempt.agents_wall_s or 0.0
        else:
            following = previous[i + 1] if i + 1 < len(previous) else None
            until = _stamp(following.started_at) if following else None
            est_wall, est_agents = _estimated_times(attempt, until, kept)
            wall += est_wall
            agents_wall += est_agents
        peak = max(peak, attempt.peak_concurrency or 0)
    kept_durations = [a.duration_s or 0.0 for a in kept]
    total = this.total_agent_s + sum(kept_durations)
    longest = max([this.longest_agent_s, *kept_durations])
    bound = max(longest, total / max(1, this.max_parallel))
    return replace(
        this,
        wall_s=wall,
        base_s=base_s,
        agents_wall_s=agents_wall,
        total_agent_s=total,
        longest_agent_s=longest,
        speedup=total / agents_wall if agents_wall > 0 else 0.0,
        peak_concurrency=peak,
        makespan_lower_bound_s=bound,
        efficiency=bound / agents_wall if agents_wall > 0 else 0.0,
    )
