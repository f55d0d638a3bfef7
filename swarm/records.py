"""Records that flow between the executor, backends and stores.

They are frozen dataclasses: cheap to build by the ten thousand, safe to share
between tasks, and turned into JSON by ``to_dict`` for stores and JSON output.
Everything a store keeps is one of these, down to a lease and a run's attempts.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import os
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar

from ._slotted import evolver, fast_init

R = TypeVar("R")


_second: tuple[int, str] = (-1, "")


def utc_now() -> str:
    """The current wall-clock time as an ISO-8601 string in UTC, to the microsecond.

    The same text as ``datetime.now(UTC).isoformat(timespec="microseconds")``, with
    the date and time of the current second formatted once: a run stamps several
    records per agent, and formatting was a tenth of what an agent cost.
    """
    global _second
    now_us = time.time_ns() // 1000
    second, micro = divmod(now_us, 1_000_000)
    cached, prefix = _second
    if cached != second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = (second, prefix)
    return f"{prefix}.{micro:06d}+00:00"


_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (0x4000 << 64)


def uuid4_text(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))`` without building the object: the RFC 4122
    variant and version 4 set in 128 bits, in the canonical 8-4-4-4-12 form."""
    h = f"{(bits & _UUID4_CLEAR) | _UUID4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _UUIDSource:
    """Random version-4 uuids from a per-process generator seeded by the OS.

    ``uuid.uuid4`` makes a system call for every id; a checkpoint per agent made
    that a measurable share of a 10,000-agent run. Ids must be unique, not secret,
    so one ``os.urandom`` seed per process is enough; a forked child reseeds so
    it never repeats its parent's ids.
    """

    def __init__(self) -> None:
        self._random = random.Random(os.urandom(32))
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self._random = random.Random(os.urandom(32))

    def __call__(self) -> str:
        return uuid4_text(self._random.getrandbits(128))


new_uuid = _UUIDSource()


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _plain(value: Any) -> Any:
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return copy.deepcopy(value)


def evolve(record: R, changes: dict[str, Any]) -> R:
    """A copy of frozen slotted ``record`` with ``changes``: ``dataclasses.replace``, faster.

    ``replace`` re-runs ``__init__`` through keyword arguments; records here have no
    ``__post_init__``, so copying the slots is the same result. The executor evolves
    an agent's record several times per agent, ten thousand agents per run.
    """
    cls: type = type(record)
    new: R = evolver(cls)(record, changes)
    return new


def asdict(record: Any) -> dict[str, Any]:
    """``dataclasses.asdict`` with the same result, several times faster.

    Every store write and ``--json`` document goes through here (a 10,000-agent
    run makes tens of thousands of them); the standard one reflects on every
    call and deep-copies every leaf.
    """
    return {name: _plain(getattr(record, name)) for name in _field_names(type(record))}


class AgentStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        return self not in (AgentStatus.PENDING, AgentStatus.RUNNING)


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    BUDGET_EXHAUSTED = "budget_exhausted"


@fast_init
@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one message, one agent or a whole run."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_tokens + other.cache_creation_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
        )

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_tokens
            + self.cache_read_tokens
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_tokens": self.cache_creation_tokens,
            "cache_read_tokens": self.cache_read_tokens,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Usage:
        if not data:
            return cls()
        get = data.get  # spelled out: this runs for every message read back
        return cls(
            int(get("input_tokens", 0) or 0),
            int(get("output_tokens", 0) or 0),
            int(get("cache_creation_tokens", 0) or 0),
            int(get("cache_read_tokens", 0) or 0),
        )


_NO_USAGE = Usage()


@fast_init
@dataclass(frozen=True, slots=True)
class Message:
    """One message of a session, identified by its uuid.

    ``content`` is the readable text; ``raw`` keeps the backend's own form
    (content blocks, tool uses) when there is one.
    """

    uuid: str
    session_id: str
    role: str
    content: str
    created_at: str = field(default_factory=utc_now)
    parent_uuid: str | None = None
    usage: Usage = Usage()
    raw: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        # Spelled out: every message of every agent is encoded through here.
        return {
            "uuid": self.uuid,
            "session_id": self.session_id,
            "role": self.role,
            "content": self.content,
            "created_at": self.created_at,
            "parent_uuid": self.parent_uuid,
            "usage": self.usage.to_dict(),
            "raw": None if self.raw is None else _plain(self.raw),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        # Spelled out, no copy of ``data``: a fork's history reads every message back.
        usage = data.get("usage")
        return cls(
            data["uuid"],
            data["session_id"],
            data["role"],
            data["content"],
            data["created_at"],
            data.get("parent_uuid"),
            Usage.from_dict(usage) if usage else _NO_USAGE,
            data.get("raw"),
        )


@fast_init
@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A session and where it came from.

    A fork is a pointer, not a copy: ``parent_session_id`` and ``fork_point``
    (a message uuid of the parent's history) say which history it continues;
    its own messages are only the ones it added.
    """

    session_id: str
    backend: str
    run_id: str | None = None
    agent_id: str | None = None
    parent_session_id: str | None = None
    fork_point: str | None = None
    model: str | None = None
    created_at: str = field(default_factory=utc_now)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # Spelled out: every session of every agent is encoded through here.
        return {
            "session_id": self.session_id,
            "backend": self.backend,
            "run_id": self.run_id,
            "agent_id": self.agent_id,
            "parent_session_id": self.parent_session_id,
            "fork_point": self.fork_point,
            "model": self.model,
            "created_at": self.created_at,
            "metadata": _plain(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionRecord:
        return cls(**data)


@fast_init
@dataclass(frozen=True, slots=True)
class AgentResult:
    """What became of one agent: the record the store keeps and ``run`` returns."""

    agent_id: str
    status: AgentStatus = AgentStatus.PENDING
    priority: str = "medium"
    output: str | None = None
    session_id: str | None = None
    parent_session_id: str | None = None
    fork_point: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    duration_s: float | None = None
    turns: int = 0
    usage: Usage = Usage()
    cost_usd: float = 0.0
    retries: int = 0
    error: str | None = None
    output_is_simulated: bool = False
    # An agent in a worktree of its own (workspace: worktree): its branch and commit,
    # the files it changed and their diff stat (swarm.workspaces.WorkspaceChange; the
    # patch is kept with its final checkpoint).
    workspace: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is AgentStatus.SUCCEEDED

    def evolve(self, **changes: Any) -> AgentResult:
        return evolve(self, changes)

    def to_dict(self) -> dict[str, Any]:
        # Spelled out: each agent's record is encoded several times per run.
        return {
            "agent_id": self.agent_id,
            "status": self.status.value,
            "priority": self.priority,
            "output": self.output,
            "session_id": self.session_id,
            "parent_session_id": self.parent_session_id,
            "fork_point": self.fork_point,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": self.duration_s,
            "turns": self.turns,
            "usage": self.usage.to_dict(),
            "cost_usd": self.cost_usd,
            "retries": self.retries,
            "error": self.error,
            "output_is_simulated": self.output_is_simulated,
            "workspace": _plain(self.workspace),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentResult:
        data = dict(data)
        data["status"] = AgentStatus(data["status"])
        data["usage"] = Usage.from_dict(data.get("usage"))
        return cls(**data)


@dataclass(frozen=True, slots=True)
class SwarmMetrics:
    """Figures for a whole run; times are in seconds.

    ``agents_wall_s`` is the scheduling phase (first agent start to last end);
    ``speedup`` is total agent time over it, ``efficiency`` the makespan lower
    bound ``max(longest agent, total work / max_parallel)`` over it.
    """

    wall_s: float = 0.0
    base_s: float = 0.0
    agents_wall_s: float = 0.0
    total_agent_s: float = 0.0
    longest_agent_s: float = 0.0
    speedup: float = 0.0
    peak_concurrency: int = 0
    max_parallel: int = 0
    makespan_lower_bound_s: float = 0.0
    efficiency: float = 0.0
    usage: Usage = Usage()
    cost_usd: float = 0.0
    retries: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SwarmMetrics:
        data = dict(data)
        data["usage"] = Usage.from_dict(data.get("usage"))
        return cls(**data)


@dataclass(frozen=True, slots=True)
class BaseEntry:
    """The base session as the attempt that built it recorded it: what a resume reuses."""

    session_id: str
    fork_point: str | None = None
    usage: Usage = Usage()
    cost_usd: float = 0.0
    seconds: float = 0.0
    retries: int = 0  # API retries while it was built (counted with the agents')

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "fork_point": self.fork_point,
            "usage": self.usage.to_dict(),
            "cost_usd": self.cost_usd,
            "seconds": self.seconds,
            "retries": self.retries,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaseEntry:
        return cls(
            session_id=str(data["session_id"]),
            fork_point=data.get("fork_point"),
            usage=Usage.from_dict(data.get("usage")),
            cost_usd=float(data.get("cost_usd") or 0.0),
            seconds=float(data.get("seconds") or 0.0),
            retries=int(data.get("retries") or 0),
        )


@dataclass(frozen=True, slots=True)
class Attempt:
    """One execution of a run's plan: the first run, or one ``resume`` of it.

    ``kept``, ``continued``, ``restarted`` and ``fresh`` say what a resume did with
    each agent; ``base`` is set by the attempt that built the base session; the
    figures from ``ended_at`` on are written when the attempt ends (a killed attempt
    never writes them, and its times are estimated from its agents' records).
    """

    attempt: int
    kind: str  # "run" or "resume"
    owner: str = ""
    started_at: str = field(default_factory=utc_now)
    kept: list[str] = field(default_factory=list)
    continued: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    base: BaseEntry | None = None
    ended_at: str | None = None
    status: str | None = None
    wall_s: float | None = None
    agents_wall_s: float | None = None
    peak_concurrency: int | None = None

    def evolve(self, **changes: Any) -> Attempt:
        return evolve(self, changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "kind": self.kind,
            "owner": self.owner,
            "started_at": self.started_at,
            "kept": list(self.kept),
            "continued": list(self.continued),
            "restarted": list(self.restarted),
            "fresh": list(self.fresh),
            "base": None if self.base is None else self.base.to_dict(),
            "ended_at": self.ended_at,
            "status": self.status,
            "wall_s": self.wall_s,
            "agents_wall_s": self.agents_wall_s,
            "peak_concurrency": self.peak_concurrency,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        # Attempts written before a field existed lack it: each one has its default.
        base = data.get("base")
        return cls(
            attempt=int(data.get("attempt") or 0),
            kind=str(data.get("kind") or "run"),
            owner=str(data.get("owner") or ""),
            started_at=str(data.get("started_at") or ""),
            kept=list(data.get("kept") or ()),
            continued=list(data.get("continued") or ()),
            restarted=list(data.get("restarted") or ()),
            fresh=list(data.get("fresh") or ()),
            base=BaseEntry.from_dict(base)
            if isinstance(base, dict) and base.get("session_id")
            else None,
            ended_at=data.get("ended_at"),
            status=data.get("status"),
            wall_s=data.get("wall_s"),
            agents_wall_s=data.get("agents_wall_s"),
            peak_concurrency=data.get("peak_concurrency"),
        )


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds lease ``name`` and until when (seconds since the epoch).

    A store's :meth:`~swarm.stores.Store.acquire_lease` returns one; see
    :mod:`swarm.stores` for how a run's lease is held and renewed.
    """

    name: str
    owner: str
    acquired_at: float
    expires_at: float

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def describe(self) -> str:
        until = datetime.fromtimestamp(self.expires_at, UTC).isoformat(timespec="seconds")
        return f"{self.owner} until {until}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "owner": self.owner,
            "acquired_at": self.acquired_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lease:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as the store keeps it: its plan, status, final metrics and attempts."""

    run_id: str
    plan: dict[str, Any]
    status: RunStatus = RunStatus.RUNNING
    name: str | None = None
    plan_path: str | None = None
    backend: str | None = None
    base_session_id: str | None = None
    created_at: str = field(default_factory=utc_now)
    updated_at: str = field(default_factory=utc_now)
    ended_at: str | None = None
    metrics: SwarmMetrics | None = None
    error: str | None = None
    # One entry per execution of the plan: the first run, then each resume (who ran it,
    # when, what it kept and re-ran, how it ended); see swarm.engine.
    attempts: list[Attempt] = field(default_factory=list)
    # Set when the run was rehearsed against the fake Messages API (swarm.backends): the
    # fake API's script, so a resume rehearses it again and listings say so.
    rehearsal: dict[str, Any] | None = None
    # Set when agents work in git worktrees: the repository and the commit their
    # worktrees start from (HEAD when the run began), so a resume uses the same one.
    workspace: dict[str, Any] | None = None

    # The plan is encoded once per run, not once per save (swarm._jsoncodec.encode).
    shared_fields: ClassVar[tuple[str, ...]] = ("plan",)

    def evolve(self, **changes: Any) -> RunRecord:
        return evolve(self, {"updated_at": utc_now(), **changes})

    def to_dict(self) -> dict[str, Any]:
        # The plan is shared, not copied: it is plain JSON data already (the redacted
        # copy made when the run started), and copying 10,000 agents' specs on every
        # save of the run record cost more than the rest of the save.
        return {
            "run_id": self.run_id,
            "plan": self.plan,
            "status": self.status.value,
            "name": self.name,
            "plan_path": self.plan_path,
            "backend": self.backend,
            "base_session_id": self.base_session_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "ended_at": self.ended_at,
            "metrics": None if self.metrics is None else self.metrics.to_dict(),
            "error": self.error,
            "attempts": [attempt.to_dict() for attempt in self.attempts],
            "rehearsal": _plain(self.rehearsal),
            "workspace": _plain(self.workspace),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        data = dict(data)
        data["status"] = RunStatus(data["status"])
        if data.get("metrics") is not None:
            data["metrics"] = SwarmMetrics.from_dict(data["metrics"])
        data["attempts"] = [Attempt.from_dict(a) for a in data.get("attempts") or ()]
        return cls(**data)


@fast_init
@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A named point in a session: a message uuid plus what it cost to get there."""

    checkpoint_id: str
    session_id: str
    message_uuid: str
    message_count: int
    usage: Usage = Usage()
    cost_usd: float = 0.0
    files_modified: tuple[str, ...] = ()
    created_at: str = field(default_factory=utc_now)
    description: str = ""
    kind: str = "auto"  # auto | final | fork | named
    # On an agent's final checkpoint, when it worked in a worktree of its own: its commit,
    # diff stat and patch (swarm.workspaces.WorkspaceChange).
    workspace: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        # Spelled out: every agent's final checkpoint is encoded through here.
        return {
            "checkpoint_id": self.checkpoint_id,
            "session_id": self.session_id,
            "message_uuid": self.message_uuid,
            "message_count": self.message_count,
            "usage": self.usage.to_dict(),
            "cost_usd": self.cost_usd,
            "files_modified": list(self.files_modified),
            "created_at": self.created_at,
            "description": self.description,
            "kind": self.kind,
            "workspace": _plain(self.workspace),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        data = dict(data)
        data["usage"] = Usage.from_dict(data.get("usage"))
        data["files_modified"] = tuple(data.get("files_modified") or ())
        return cls(**data)


@dataclass(frozen=True, slots=True)
class SwarmResult:
    """What ``ParallelSwarmExecutor.run`` returns."""

    run_id: str
    status: RunStatus
    base_session_id: str | None
    agents: dict[str, AgentResult]
    metrics: SwarmMetrics
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is RunStatus.SUCCEEDED

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "base_session_id": self.base_session_id,
            "error": self.error,
            "agents": [a.to_dict() for a in self.agents.values()],
            "metrics": self.metrics.to_dict(),
        }

    @classmethod
    def from_records(cls, run: RunRecord, agents: list[AgentResult]) -> Self:
        return cls(
            run_id=run.run_id,
            status=run.status,
            base_session_id=run.base_session_id,
            agents={a.agent_id: a for a in agents},
            metrics=run.metrics or SwarmMetrics(),
            error=run.error,
        )
