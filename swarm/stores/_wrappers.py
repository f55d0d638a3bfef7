"""Store wrappers: one layer every store passes through, so no store can forget a guarantee.

:class:`DelegatingStore` hands every call to an inner store, and every write passes
two hooks on its way: :meth:`~DelegatingStore.writable` (False drops the write, as a
fence does) and :meth:`~DelegatingStore.admit` (the record stored instead of the one
given, as redaction does). Wrapping a store is then a subclass overriding a hook or a
method, not seventeen methods of delegation.

:class:`RedactingStore` is the redaction guarantee: no secret (an API key, a token, a
password, a value the environment or a plan marks secret) reaches the inner store, in
any field but the ids (:data:`swarm._redaction.ID_FIELDS`), in any record or raw
transcript line. The built-in :class:`~swarm.stores.MemoryStore` and
:class:`~swarm.stores.SQLiteStore` *are* redacting stores (their tables sit inside),
so a store constructed directly redacts as one opened by URL does; a third-party store
gets the guarantee the same way, by wrapping its tables in :class:`RedactingStore`,
and the store conformance suite fails a store that does not.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import TypeVar, get_args

from .. import _jsoncodec as jsoncodec
from .._redaction import redact_document, redact_json
from ..errors import StoreError
from ..records import AgentResult, Checkpoint, Lease, Message, RunRecord, SessionRecord
from ._lineage import messages_between
from ._protocol import (
    BatchWriter,
    Store,
    StoreWrite,
    TranscriptEntry,
    TranscriptStore,
    WriteKind,
)

R = TypeVar("R", AgentResult, Checkpoint, Message, RunRecord, SessionRecord)

__all__ = ["DelegatingStore", "RedactingStore", "keeps_transcripts", "writes_batches"]


class DelegatingStore:
    """A :class:`~swarm.stores.Store` that hands every call to ``inner``.

    Reads, leases and ``aclose`` go through unchanged. Every write first asks
    :meth:`writable` and, for the records it carries, :meth:`admit`. The optional
    capabilities are always present: a ranged read falls back to slicing the inner
    store's messages, and the transcript methods raise :class:`StoreError` when the
    inner store keeps none (see :func:`keeps_transcripts`).
    """

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    # --- the hooks ------------------------------------------------------------

    def writable(self) -> bool:
        """Whether writes reach the inner store (False: each one is dropped)."""
        return True

    def admit(self, record: R) -> R:
        """The record to store for ``record`` (a run, agent, session, message, checkpoint)."""
        return record

    def admit_entries(self, entries: Sequence[TranscriptEntry]) -> Sequence[TranscriptEntry]:
        """The transcript lines to store for ``entries``."""
        return entries

    # --- runs and agents ----------------------------------------------------------

    async def save_run(self, run: RunRecord) -> None:
        if self.writable():
            await self.inner.save_run(self.admit(run))

    async def get_run(self, run_id: str) -> RunRecord | None:
        return await self.inner.get_run(run_id)

    async def list_runs(self, limit: int | None = None) -> list[RunRecord]:
        return await self.inner.list_runs(limit)

    async def delete_run(self, run_id: str) -> None:
        if self.writable():
            await self.inner.delete_run(run_id)

    async def save_agents(self, run_id: str, agents: Sequence[AgentResult]) -> None:
        if self.writable():
            await self.inner.save_agents(run_id, [self.admit(a) for a in agents])

    async def list_agents(self, run_id: str) -> list[AgentResult]:
        return await self.inner.list_agents(run_id)

    # --- sessions and messages ------------------------------------------------------

    async def save_session(self, session: SessionRecord) -> None:
        if self.writable():
            await self.inner.save_session(self.admit(session))

    async def get_session(self, session_id: str) -> SessionRecord | None:
        return await self.inner.get_session(session_id)

    async def list_sessions(self, run_id: str | None = None) -> list[SessionRecord]:
        return await self.inner.list_sessions(run_id)

    async def append_messages(self, session_id: str, messages: Sequence[Message]) -> None:
        if self.writable():
            await self.inner.append_messages(session_id, [self.admit(m) for m in messages])

    async def get_messages(self, session_id: str) -> list[Message]:
        return await self.inner.get_messages(session_id)

    async def get_message_range(
        self, session_id: str, *, after: str | None = None, upto: str | None = None
    ) -> list[Message]:
        return await messages_between(self.inner, session_id, after=after, upto=upto)

    # --- checkpoints ------------------------------------------------------------------

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        if self.writable():
            await self.inner.save_checkpoint(self.admit(checkpoint))

    async def list_checkpoints(self, session_id: str | None = None) -> list[Checkpoint]:
        return await self.inner.list_checkpoints(session_id)

    async def delete_checkpoints(self, checkpoint_ids: Sequence[str]) -> None:
        if self.writable():
            await self.inner.delete_checkpoints(checkpoint_ids)

    # --- batches (BatchWriter, when the store underneath is one: writes_batches) -------

    async def write_batch(self, writes: Sequence[StoreWrite]) -> None:
        if not self.writable():
            return
        # (getattr, not isinstance of the protocol: that check costs more than the batch)
        write_batch = getattr(self.inner, "write_batch", None)
        if write_batch is None:
            raise StoreError(f"{type(self.inner).__name__} takes no batches of writes")
        if type(self).admit is not DelegatingStore.admit:  # else every record is kept
            writes = [self._admitted(write) for write in writes]
        await write_batch(writes)

    def _admitted(self, write: StoreWrite) -> StoreWrite:
        """``write`` with the records it carries passed through :meth:`admit` (the same
        write when each is admitted as it is, the usual case)."""
        kind, args = write.kind, write.args
        if kind in ("save_run", "save_session", "save_checkpoint"):
            record = args[0]
            admitted = self.admit(record)
            return write if admitted is record else StoreWrite(kind, (admitted,))
        if kind in ("save_agents", "append_messages"):
            records = args[1]
            kept = [self.admit(r) for r in records]
            if all(map(operator.is_, kept, records)):
                return write
            return StoreWrite(kind, (args[0], kept))
        return write  # delete_checkpoints: ids only

    # --- leases (the store's own compare-and-set: never rewritten) -------------------

    async def acquire_lease(
        self, name: str, owner: str, ttl_s: float, *, now: float, steal_from: str | None = None
    ) -> Lease:
        return await self.inner.acquire_lease(name, owner, ttl_s, now=now, steal_from=steal_from)

    async def release_lease(self, name: str, owner: str) -> None:
        await self.inner.release_lease(name, owner)

    async def get_lease(self, name: str) -> Lease | None:
        return await self.inner.get_lease(name)

    # --- raw transcripts (TranscriptStore) ------------------------------------------

    def _transcripts(self) -> TranscriptStore:
        if not isinstance(self.inner, TranscriptStore):
            raise StoreError(f"{type(self.inner).__name__} keeps no Claude Code transcripts")
        return self.inner

    async def append_transcript(
        self, project_key: str, session_id: str, subpath: str, entries: Sequence[TranscriptEntry]
    ) -> None:
        if self.writable():
            await self._transcripts().append_transcript(
                project_key, session_id, subpath, self.admit_entries(entries)
            )

    async def load_transcript(
        self, project_key: str, session_id: str, subpath: str = ""
    ) -> list[TranscriptEntry] | None:
        return await self._transcripts().load_transcript(project_key, session_id, subpath)

    async def list_transcript_sessions(self, project_key: str) -> list[tuple[str, int]]:
        return await self._transcripts().list_transcript_sessions(project_key)

    async def list_transcript_subpaths(self, project_key: str, session_id: str) -> list[str]:
        return await self._transcripts().list_transcript_subpaths(project_key, session_id)

    async def delete_transcript(
        self, project_key: str, session_id: str, subpath: str | None = None
    ) -> None:
        if self.writable():
            await self._transcripts().delete_transcript(project_key, session_id, subpath)

    async def transcript_projects(self, session_id: str) -> list[str]:
        return await self._transcripts().transcript_projects(session_id)

    async def aclose(self) -> None:
        await self.inner.aclose()


def keeps_transcripts(store: object) -> bool:
    """Whether ``store`` keeps Claude Code transcripts: a :class:`TranscriptStore`, and
    through every wrapper around it, the store underneath is one too."""
    while isinstance(store, DelegatingStore):
        store = store.inner
    return isinstance(store, TranscriptStore)


_WRITE_METHODS: tuple[str, ...] = get_args(WriteKind)  # the writes a batch may carry


def writes_batches(store: object) -> bool:
    """Whether ``store`` takes :meth:`~DelegatingStore.write_batch`: the store underneath
    every wrapper is a :class:`BatchWriter`, and no wrapper on the way changes a write
    method (a batch goes past those; their ``writable`` and ``admit`` hooks it passes)."""
    while isinstance(store, DelegatingStore):
        cls = type(store)
        if any(getattr(cls, name) is not getattr(DelegatingStore, name) for name in _WRITE_METHODS):
            return False
        store = store.inner
    return isinstance(store, BatchWriter)


def _redacted_entry(entry: TranscriptEntry) -> TranscriptEntry:
    text = jsoncodec.dumps(entry)
    cleaned = redact_json(text)
    if cleaned is text:
        return entry
    clean: TranscriptEntry = jsoncodec.loads(cleaned)
    return clean


class RedactingStore(DelegatingStore):
    """The redaction guarantee (see the module doc): every record and transcript line is
    redacted before it reaches the inner store."""

    def admit(self, record: R) -> R:
        return redact_document(record)  # at once when the run redacted it already

    def admit_entries(self, entries: Sequence[TranscriptEntry]) -> Sequence[TranscriptEntry]:
        return [_redacted_entry(entry) for entry in entries]
