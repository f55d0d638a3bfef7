"""The store plug-in point: the protocol every store implements, and its optional capabilities.

A store keeps runs, agents, sessions (with their lineage), every message of
every session, checkpoints and leases. Implementations: :class:`~swarm.stores.MemoryStore`
(a real fake for tests) and :class:`~swarm.stores.SQLiteStore` (the embedded
default). Every implementation passes :func:`swarm.testing.run_store_conformance`.

Writes are idempotent upserts keyed by ids, so a retried or replayed write
never duplicates a record; messages are keyed by ``(session_id, uuid)``.

Optional capabilities, found with ``isinstance``: :class:`MessageRangeReader` (part
of a session without all of it) and :class:`TranscriptStore` (the raw Claude Code
transcript lines the ``claude`` backend mirrors, so a session can be resumed or
forked on a machine that never saw its local file: lines are opaque JSON objects
keyed by ``(project_key, session_id, subpath)``, ``subpath`` ``""`` for the main
transcript, and a line's ``uuid``, when it has one, makes its append idempotent).
A third-party store without transcripts still runs the ``claude`` backend, with
transcripts kept on local disk only. :class:`BatchWriter` takes many writes in one
call, applied in the order of the calls: the executor then stages the progress of many
agents and makes it durable in one round trip (:mod:`swarm.engine._journal`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

from .._slotted import fast_init
from ..records import AgentResult, Checkpoint, Lease, Message, RunRecord, SessionRecord


@runtime_checkable
class Store(Protocol):
    """Persistence for runs, agents, sessions, messages and checkpoints."""

    async def save_run(self, run: RunRecord) -> None:
        """Insert or replace a run record."""
        ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def list_runs(self, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        ...

    async def delete_run(self, run_id: str) -> None:
        """Delete a run with its agents, sessions, messages and checkpoints."""
        ...

    async def save_agents(self, run_id: str, agents: Sequence[AgentResult]) -> None:
        """Insert or replace agent records of a run, all in one transaction."""
        ...

    async def list_agents(self, run_id: str) -> list[AgentResult]:
        """A run's agents in the order they were first saved."""
        ...

    async def save_session(self, session: SessionRecord) -> None: ...

    async def get_session(self, session_id: str) -> SessionRecord | None: ...

    async def list_sessions(self, run_id: str | None = None) -> list[SessionRecord]:
        """Sessions, oldest first, optionally of one run."""
        ...

    async def append_messages(self, session_id: str, messages: Sequence[Message]) -> None:
        """Append messages to a session; a uuid already stored there is ignored."""
        ...

    async def get_messages(self, session_id: str) -> list[Message]:
        """The messages a session added itself, in order (not its parent's)."""
        ...

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None: ...

    async def list_checkpoints(self, session_id: str | None = None) -> list[Checkpoint]:
        """Checkpoints, oldest first, optionally of one session."""
        ...

    async def delete_checkpoints(self, checkpoint_ids: Sequence[str]) -> None: ...

    async def acquire_lease(
        self, name: str, owner: str, ttl_s: float, *, now: float, steal_from: str | None = None
    ) -> Lease:
        """Atomically take or renew lease ``name`` for ``owner`` until ``now + ttl_s`` when it
        is free, expired, already ``owner``'s, or held by ``steal_from`` (an owner the caller
        proved dead); return the lease in force, whoever holds it."""
        ...

    async def release_lease(self, name: str, owner: str) -> None:
        """Drop lease ``name`` if ``owner`` holds it; otherwise do nothing."""
        ...

    async def get_lease(self, name: str) -> Lease | None: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class MessageRangeReader(Protocol):
    """An optional store capability: read part of a session without loading all of it.

    :func:`swarm.stores._lineage.messages_between` uses it when a store has it and slices
    ``get_messages`` otherwise, so checkpoints and forks stay cheap on long sessions.
    """

    async def get_message_range(
        self, session_id: str, *, after: str | None = None, upto: str | None = None
    ) -> list[Message]:
        """A session's own messages after ``after`` (else from its first) up to and
        including ``upto`` (else to its last); empty when ``upto`` precedes ``after``;
        :class:`~swarm.errors.NotFoundError` when either is not a message of the session."""
        ...


TranscriptEntry: TypeAlias = dict[str, Any]


@runtime_checkable
class TranscriptStore(Protocol):
    """Append-only transcript lines per ``(project_key, session_id, subpath)``."""

    async def append_transcript(
        self, project_key: str, session_id: str, subpath: str, entries: Sequence[TranscriptEntry]
    ) -> None:
        """Append lines in order; a line whose ``uuid`` is already stored there is skipped."""
        ...

    async def load_transcript(
        self, project_key: str, session_id: str, subpath: str = ""
    ) -> list[TranscriptEntry] | None:
        """Every line in append order, or ``None`` when nothing was ever appended there."""
        ...

    async def list_transcript_sessions(self, project_key: str) -> list[tuple[str, int]]:
        """``(session_id, mtime in epoch ms)`` of the main transcripts of a project."""
        ...

    async def list_transcript_subpaths(self, project_key: str, session_id: str) -> list[str]:
        """The non-empty subpaths (subagent transcripts) stored under a session."""
        ...

    async def delete_transcript(
        self, project_key: str, session_id: str, subpath: str | None = None
    ) -> None:
        """Delete one subpath, or (``None``) the main transcript with all its subpaths."""
        ...

    async def transcript_projects(self, session_id: str) -> list[str]:
        """The project keys holding a main transcript of ``session_id``, oldest first."""
        ...


WriteKind: TypeAlias = Literal[
    "save_run",
    "save_agents",
    "save_session",
    "append_messages",
    "save_checkpoint",
    "delete_checkpoints",
]


@fast_init
@dataclass(frozen=True, slots=True)
class StoreWrite:
    """One write of a batch: the :class:`Store` write method it stands for, and its
    arguments (``StoreWrite("save_agents", (run_id, [agent]))``)."""

    kind: WriteKind
    args: tuple[Any, ...]


@runtime_checkable
class BatchWriter(Protocol):
    """An optional store capability: many writes in one call.

    ``write_batch`` applies ``writes`` as the write methods they name would, in order,
    and returns once all are durable; a failing write raises its
    :class:`~swarm.errors.StoreError`. Batches are applied in the order of the calls
    (an implementation takes a batch in before its first ``await``), so a caller may
    start one batch and, without waiting, the next.
    """

    async def write_batch(self, writes: Sequence[StoreWrite]) -> None: ...
