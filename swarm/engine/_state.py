"""The state of one execution of a run, in memory and without I/O.

Which agents there are and whom each forks, each agent's latest record, what the run
has spent, when each agent ran, and why the run stops (if it does). The execution
decides with it; the journal persists what changes; the sink updates it as a backend
reports. Nothing here awaits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import _jsoncodec as jsoncodec
from .._redaction import redact_json, redact_record, redact_records
from ..backends import BaseSession
from ..plan import AgentSpec, Plan
from ..records import AgentResult, AgentStatus, RunStatus, Usage
from ._resume import ResumeState

#: Agent statuses that count against fail_fast.
FAILED_STATUSES = (AgentStatus.FAILED, AgentStatus.TIMED_OUT)


def queued_records(agents: Sequence[AgentSpec]) -> list[AgentResult]:
    """Each agent's first record (queued), redacted and encoded as the store keeps them
    (a new run writes them first, in one batch): records that differ in their id alone
    are encoded once per priority, around the id, which redaction never rewrites."""
    records = [AgentResult(agent_id=a.id, priority=a.priority.value) for a in agents]
    around: dict[str, tuple[str, str] | None] = {}
    texts = []
    for record in records:
        if record.priority not in around:
            around[record.priority] = _around_id(record.priority)
        parts = around[record.priority]
        if parts is None:
            return redact_records(records)
        texts.append(parts[0] + jsoncodec.dumps(record.agent_id) + parts[1])
    jsoncodec.remember_texts(records, texts)
    return records


_NO_ID = '"agent_id":""'


def _around_id(priority: str) -> tuple[str, str] | None:
    """The encoding of a queued record of ``priority`` before and after its id's value,
    or None when the rest holds a secret (then each record is redacted as it is)."""
    text = jsoncodec.encode(AgentResult(agent_id="", priority=priority))
    if text.count(_NO_ID) != 1 or redact_json(text) is not text:
        return None
    before, _, after = text.partition(_NO_ID)
    return before + '"agent_id":', after


class RunState:
    """One execution's agents and figures (see the module doc)."""

    def __init__(self, plan: Plan, run_id: str, resume: ResumeState | None = None) -> None:
        self.plan = plan
        self.run_id = run_id
        self.specs = {a.id: plan.resolved(a) for a in plan.agents}
        self.order = {a.id: i for i, a in enumerate(plan.agents)}
        self.children: dict[str, list[str]] = {}
        for spec in self.specs.values():
            if spec.fork_from is not None:
                self.children.setdefault(spec.fork_from.agent, []).append(spec.id)
        if resume is None:
            self.results = {result.agent_id: result for result in queued_records(plan.agents)}
        else:
            self.results = dict(resume.agents)
        self.kept: frozenset[str] = frozenset()
        self.continued: frozenset[str] = frozenset()
        self.spent = Usage()
        self.spent_usd = 0.0
        self.times: dict[str, tuple[float, float]] = {}  # agent -> (start, end), trio clock
        self.base: BaseSession | None = None
        self.base_s = 0.0
        self.base_retries = 0  # API retries while the base was built (counted with the agents')
        self.stop_reason: str | None = None
        self.stop_status: RunStatus | None = None
        if resume is not None:
            self.kept = resume.kept
            self.continued = resume.continued
            for agent_id in self.kept:
                self.spend(self.results[agent_id].usage, self.results[agent_id].cost_usd)

    # --- agents ----------------------------------------------------------------

    def model_of(self, agent_id: str | None) -> str | None:
        spec = self.specs.get(agent_id) if agent_id else None
        return spec.model if spec is not None else self.plan.defaults.model

    def cwd_of(self, agent_id: str | None) -> str | None:
        spec = self.specs.get(agent_id) if agent_id else None
        return spec.cwd if spec is not None else self.plan.defaults.cwd

    def evolve(self, agent_id: str, **changes: Any) -> AgentResult:
        """The agent's record with ``changes``, kept as its latest (not yet persisted)."""
        result = self.results[agent_id].evolve(**changes)
        if changes.get("output") or changes.get("error"):
            # Secrets go where a result enters the run: the store, the events, the hooks and
            # the returned result all hold this one record (swarm._redaction.redact_record).
            result = redact_record(result)
        self.results[agent_id] = result
        return result

    def session_started(self, agent_id: str, session_id: str) -> None:
        """Known in memory at once; persisted with the agent's final record (until then
        the session record says whose it is, which is what a resume reads)."""
        self.results[agent_id] = self.results[agent_id].evolve(session_id=session_id)

    def ended(self, result: AgentResult) -> None:
        """An agent's final record: kept, and what it spent counted."""
        self.results[result.agent_id] = result
        self.spend(result.usage, result.cost_usd)

    def spend(self, usage: Usage, cost_usd: float) -> None:
        self.spent = self.spent + usage
        self.spent_usd += cost_usd

    def ready_at_start(self) -> list[AgentSpec]:
        """The agents that can start as soon as the base is ready (a first run's)."""
        return [s for s in self.specs.values() if s.fork_from is None]

    def first_failed_kept(self) -> AgentResult | None:
        """The first (in plan order) kept agent that failed or timed out: a resume under
        fail_fast stops on it."""
        failed = [self.results[i] for i in self.kept if self.results[i].status in FAILED_STATUSES]
        return min(failed, key=lambda r: self.order[r.agent_id]) if failed else None

    # --- the run ----------------------------------------------------------------

    def stop(self, reason: str, status: RunStatus) -> None:
        """The run stops (the first reason given is the one it keeps)."""
        if self.stop_reason is None:
            self.stop_reason, self.stop_status = reason, status

    def budget_exhausted(self) -> str | None:
        """Why the budget stops the run now (what was spent), or None."""
        budget = self.plan.execution.budget
        if budget is None or self.stop_reason is not None:
            return None
        over_cost = budget.max_cost_usd is not None and self.spent_usd >= budget.max_cost_usd
        over_tokens = budget.max_tokens is not None and self.spent.total >= budget.max_tokens
        if not (over_cost or over_tokens):
            return None
        return f"${self.spent_usd:.4f}, {self.spent.total} tokens"

    def leftovers(self, error: str | None) -> list[AgentResult]:
        """The records of agents not final when the run ends, made final (and kept)."""
        leftover = []
        for result in self.results.values():
            if not result.status.is_final:
                status = (
                    AgentStatus.CANCELLED
                    if self.stop_status is RunStatus.INTERRUPTED
                    else AgentStatus.SKIPPED
                )
                reason = self.stop_reason or error or "the run ended before it started"
                if result.status is AgentStatus.RUNNING:
                    status = AgentStatus.CANCELLED
                leftover.append(redact_record(result.evolve(status=status, error=reason)))
        for result in leftover:
            self.results[result.agent_id] = result
        return leftover

    def status(self, error: str | None) -> RunStatus:
        """How the run ended: failed on ``error``, else as it stopped, else by its agents."""
        if error is not None:
            return RunStatus.FAILED
        if self.stop_status is not None:
            return self.stop_status
        if all(r.succeeded for r in self.results.values()):
            return RunStatus.SUCCEEDED
        return RunStatus.FAILED

    def forks_from(self) -> dict[str, str]:
        return {s.id: s.fork_from.agent for s in self.specs.values() if s.fork_from is not None}
