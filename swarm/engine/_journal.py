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

While agents run, the journal writes behind (:meth:`Journal.write_behind`): an
agent's progress (its record going to running, its session, its messages, its
checkpoints) is staged, and a task of the agents' nursery makes what every agent
staged meanwhile durable in one batch (one transaction, one fsync). The agent does not
wait for it; it waits once, for :meth:`Journal.commit` of its final record, before
anything outside the run (an event, a hook, an agent forking it) learns that it ended.
Writes reach the store in the order they were made, so a crash leaves a prefix of
them: the state of a crash a moment earlier, which a resume already handles. An
agent's record that a later one of the same batch replaces is left out of it (one
transaction: nothing sees the store between the two). A staged
write that fails stops the run with its store error, as an awaited one does. Reads
through the journal see every staged write, and a store that takes no batches
(:func:`~swarm.stores.writes_batches`) gets every write awaited, one by one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import trio

from .._redaction import redact_record
from ..errors import StoreError
from ..records import AgentResult, Checkpoint, Message, RunRecord, SessionRecord
from ..stores import DelegatingStore, Store, StoreWrite, WriteKind, writes_batches
from ._session_meta import SessionDescriber


def without_superseded(writes: list[StoreWrite]) -> list[StoreWrite]:
    """``writes`` without the agent records a later write of the same batch replaces.

    A batch is one transaction, so no reader and no crash sees the store between the
    two, and the later record is what the store ends with either way. A zero-latency
    agent's record going to running and its final record usually share a batch.
    """
    last: dict[tuple[str, str], int] = {}
    singles = 0
    for i, write in enumerate(writes):
        if write.kind == "save_agents" and len(records := write.args[1]) == 1:
            last[write.args[0], records[0].agent_id] = i
            singles += 1
    if len(last) == singles:
        return writes  # no agent's record is written twice
    return [
        write
        for i, write in enumerate(writes)
        if write.kind != "save_agents"
        or len(records := write.args[1]) != 1
        or last[write.args[0], records[0].agent_id] == i
    ]


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
        self._batches = writes_batches(store)
        self._behind: trio.Nursery | None = None  # set while agents run: write behind
        self._staged: list[StoreWrite] = []
        self._flush_started = False  # a flush task is started and has not taken them yet
        self._made = 0  # writes staged so far
        self._durable = 0  # of those, how many are known durable
        self._taken = 0  # of those, how many a batch has taken (sent, or on its way)
        # Set when the batch on its way ends (then replaced); the next one's, for writes
        # staged meanwhile: a waiter wakes once, when its writes are durable (or failed).
        self._progress = trio.Event()
        self._next_progress = trio.Event()
        self._failed: StoreError | None = None  # a staged write that failed: the run stops
        self._sending = False  # a batch is on its way to the store
        # The run record as last written through here: only this execution writes it while
        # it holds the run's lease, so it is not read back (and its plan decoded) again.
        self._run: RunRecord | None = None

    def fence(self) -> None:
        """Another process took the run's lease: write nothing more, from here on."""
        self.fenced = True

    def writable(self) -> bool:
        return not self.fenced

    # --- writing behind ---------------------------------------------------------

    def write_behind(self, nursery: trio.Nursery | None) -> None:
        """Stage progress writes and flush them from a task of ``nursery`` (the agents');
        ``None``: every write awaited again (the nursery is done, so all were flushed)."""
        self._behind = nursery if self._batches else None

    def _stage(self, kind: WriteKind, *args: Any) -> bool:
        """Stage a write (True), or say it must be made now (False)."""
        if self._behind is None or self.fenced:
            return False
        self._staged.append(StoreWrite(kind, args))
        self._made += 1
        # A batch on its way: its sender sends what is staged meanwhile when it is back.
        if not self._flush_started and not self._sending:
            self._flush_started = True
            self._behind.start_soon(self._flush, name="journal:flush")
        return True

    async def _flush(self) -> None:
        # Shielded: what agents staged is written even while the run is being cancelled
        # (their final records, written under a shield, wait for it).
        with trio.CancelScope(shield=True):
            # Every agent that is ready to run stages its writes first: one batch for all.
            await trio.lowlevel.checkpoint()
            self._flush_started = False
            await self._write_staged()

    async def _write_staged(self) -> None:
        # One batch of this journal on its way at a time, and its sender sends what was
        # staged meanwhile next, in one batch: so a failure is known before anything
        # staged after it is sent. Anyone else returns at once (and waits for progress).
        if self._sending:
            return
        self._sending = True
        try:
            while self._staged:
                if self._failed is not None:
                    # Writes reach the store in order, so the store holds a prefix of
                    # them: nothing staged after a failed write is written (a message of
                    # a session whose record failed would be an orphan).
                    self._staged = []
                    break
                writes, self._staged = without_superseded(self._staged), []
                upto = self._taken = self._made
                try:
                    # Shielded: the writes it took are other tasks' too; a cancelled
                    # sender learns of it once they are durable.
                    with trio.CancelScope(shield=True):
                        await self.write_batch(writes)
                except StoreError as exc:
                    self._failed = self._failed or exc
                    raise
                else:
                    self._durable = max(self._durable, upto)
                finally:
                    self._progress.set()
                    if self._durable < upto:
                        # Failed: this sender sends nothing more, so the waiters of the
                        # next batch look again too (and meet the error, or send it).
                        self._next_progress.set()
                    self._progress, self._next_progress = self._next_progress, trio.Event()
        finally:
            self._sending = False

    async def commit(self) -> None:
        """Return once every write made so far through the journal is durable."""
        upto = self._made
        while self._durable < upto:
            if self._failed is not None:
                raise StoreError(str(self._failed), remedy=self._failed.remedy)
            await self._write_staged()  # sends them, unless a batch is on its way
            if self._durable < upto:
                # The batch on its way holds them, or the one its sender sends next.
                await (self._progress if upto <= self._taken else self._next_progress).wait()

    # --- writes: staged while agents run, else made now --------------------------

    async def save_run(self, run: RunRecord) -> None:
        await self.commit()  # never ahead of what is staged
        run = redact_record(run)  # what the store keeps (it takes this one as it is)
        await super().save_run(run)
        if run.run_id == self.run_id and self.writable():
            self._run = run

    async def save_start(self, run: RunRecord, agents: Sequence[AgentResult]) -> None:
        """The run record and every agent's record as an execution starts: one batch (one
        transaction, one fsync) when the store takes batches."""
        if not self._batches:
            await self.save_run(run)
            await self.save_agents(run.run_id, agents)
            return
        await self.commit()  # never ahead of what is staged
        run = redact_record(run)
        await self.write_batch(
            [StoreWrite("save_run", (run,)), StoreWrite("save_agents", (run.run_id, list(agents)))]
        )
        if run.run_id == self.run_id and self.writable():
            self._run = run

    async def save_agents(self, run_id: str, agents: Sequence[AgentResult]) -> None:
        if not self._stage("save_agents", run_id, list(agents)):
            await self.commit()
            await super().save_agents(run_id, agents)

    async def save_session(self, session: SessionRecord) -> None:
        if not self._stage("save_session", session):
            await self.commit()
            await super().save_session(session)

    async def append_messages(self, session_id: str, messages: Sequence[Message]) -> None:
        if not self._stage("append_messages", session_id, list(messages)):
            await self.commit()
            await super().append_messages(session_id, messages)

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        if not self._stage("save_checkpoint", checkpoint):
            await self.commit()
            await super().save_checkpoint(checkpoint)

    async def delete_checkpoints(self, checkpoint_ids: Sequence[str]) -> None:
        if not self._stage("delete_checkpoints", list(checkpoint_ids)):
            await self.commit()
            await super().delete_checkpoints(checkpoint_ids)

    async def delete_run(self, run_id: str) -> None:
        await self.commit()
        await super().delete_run(run_id)

    # --- reads: after what is staged ------------------------------------------------

    async def get_run(self, run_id: str) -> RunRecord | None:
        await self.commit()
        return await super().get_run(run_id)

    async def list_agents(self, run_id: str) -> list[AgentResult]:
        await self.commit()
        return await super().list_agents(run_id)

    async def get_session(self, session_id: str) -> SessionRecord | None:
        await self.commit()
        return await super().get_session(session_id)

    async def list_sessions(self, run_id: str | None = None) -> list[SessionRecord]:
        await self.commit()
        return await super().list_sessions(run_id)

    async def get_messages(self, session_id: str) -> list[Message]:
        await self.commit()
        return await super().get_messages(session_id)

    async def get_message_range(
        self, session_id: str, *, after: str | None = None, upto: str | None = None
    ) -> list[Message]:
        await self.commit()
        return await super().get_message_range(session_id, after=after, upto=upto)

    async def list_checkpoints(self, session_id: str | None = None) -> list[Checkpoint]:
        await self.commit()
        return await super().list_checkpoints(session_id)

    async def run_record(self) -> RunRecord:
        """The run's record as stored now (once fenced, as the store has it)."""
        if self._run is not None and not self.fenced:
            await self.commit()  # a read is after what is staged, as every read here
            return self._run
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
