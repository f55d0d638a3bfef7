"""The journal of a run: every store write of one execution goes through it.

The run record, each agent's record, each session the backend starts, each message,
each checkpoint (automatic, at a fork point, final): all are written here, in the
order the run makes them, each before the run acts on it. That order is what makes a
crash resumable: the journal is in the store, not in the process.

The journal is a :class:`~swarm.stores.DelegatingStore` over the run's store, and the
one fencing check lives in its write gate: once another process took the run's lease
(this one was paused past its expiry), :meth:`Journal.fence` is called and no write
of this execution reaches the store any more, whoever makes it (the executor, the
sink, a checkpoint, the final records). Reads go through unchanged.

Here too is where persistence work belongs (batching the writes of many agents into
one transaction, encoding off the trio thread): every write passes through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._redaction import redact_record
from ..errors import StoreError
from ..records import AgentResult, RunRecord, SessionRecord
from ..stores import DelegatingStore, Store
from ._session_meta import SessionDescriber


class Journal(DelegatingStore):
    """The writes of one execution of run ``run_id`` (see the module doc)."""

    def __init__(
        self, store: Store, run_id: str, *, backend: str, describer: SessionDescriber
    ) -> None:
        super().__init__(store)
        self.run_id = run_id
        self.backend = backend
        self.describer = describer
        self.fenced = False

    def fence(self) -> None:
        """Another process took the run's lease: write nothing more, from here on."""
        self.fenced = True

    def writable(self) -> bool:
        return not self.fenced

    async def run_record(self) -> RunRecord:
        """The run's record as stored now."""
        record = await self.get_run(self.run_id)
        if record is None:
            raise StoreError(f"run {self.run_id} vanished from the store")
        return record

    async def save_agent(self, result: AgentResult) -> None:
        await self.save_agents(self.run_id, [result])

    async def start_session(
        self,
        session_id: str,
        *,
        agent_id: str | None,
        parent_session_id: str | None,
        fork_point: str | None,
        model: str | None,
        cwd: str | None,
        reported: Mapping[str, Any],
    ) -> SessionRecord:
        """Record a session the backend started (the base's, or an agent's), described
        with where and with what it runs."""
        metadata = await self.describer.describe(cwd=cwd, model=model, reported=reported)
        record = redact_record(
            SessionRecord(
                session_id=session_id,
                backend=self.backend,
                run_id=self.run_id,
                agent_id=agent_id,
                parent_session_id=parent_session_id,
                fork_point=fork_point,
                model=model,
                metadata=metadata,
            )
        )
        await self.save_session(record)
        return record
