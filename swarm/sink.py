"""The sink the executor hands a backend: it persists each report, then tells the run.

A backend calls ``session_started`` the moment it knows its session id and
``message`` for every message; each is written to the store before the call
returns, so the backend goes on only once its progress is durable. That is
what lets ``swarm resume`` continue a session after a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._redaction import redact_record
from .events import EventKind
from .records import AgentStatus, Message, SessionRecord, Usage
from .timeline import SessionCheckpoints

if TYPE_CHECKING:
    from .execution import Execution


class PersistingSink:
    """Persists what a backend reports about one session (an agent's, or the base's)."""

    def __init__(
        self,
        run: Execution,
        agent_id: str | None,
        parent: str | None,
        fork: str | None,
        resume_session_id: str | None = None,
    ):
        self.run = run
        self.agent_id = agent_id
        self.parent_session_id = parent
        self.fork_point = fork
        self.resume_session_id = resume_session_id
        self.session_id: str | None = None
        self.last_message: str | None = None
        self.message_count = 0
        self.turns = 0
        self.usage = Usage()
        self.retries = 0
        self.checkpoints: SessionCheckpoints | None = None

    async def session_started(self, session_id: str, *, metadata: Mapping[str, Any]) -> None:
        self.session_id = session_id
        run = self.run
        await run.store.save_session(
            redact_record(
                SessionRecord(
                    session_id=session_id,
                    backend=run.executor.backend.name,
                    run_id=run.run_id,
                    agent_id=self.agent_id,
                    parent_session_id=self.parent_session_id,
                    fork_point=self.fork_point,
                    model=run.model_of(self.agent_id),
                    metadata=await run.describe_session(self.agent_id, metadata),
                )
            )
        )
        run.log.debug("session.started", agent_id=self.agent_id, session_id=session_id)
        self.checkpoints = await run.checkpoints.open_session(
            session_id,
            self.parent_session_id,
            self.fork_point,
            resumed=session_id == self.resume_session_id,
        )
        if self.agent_id is not None:
            # Known in memory at once; persisted with the agent's final record (until then
            # the session record above says whose it is, which is what a resume reads).
            run.results[self.agent_id] = run.results[self.agent_id].evolve(session_id=session_id)

    async def message(self, message: Message) -> None:
        # Redacted once, here: the store and the MESSAGE event hold the same record.
        message = redact_record(message)
        await self.run.store.append_messages(message.session_id, [message])
        self.last_message = message.uuid
        self.message_count += 1
        self.turns += message.role == "assistant"
        self.usage = self.usage + message.usage
        if self.checkpoints is not None:
            await self.checkpoints.observe(message)
        await self.run.emit(EventKind.MESSAGE, self.agent_id, message=message)

    async def retry(self, *, status: int | None, reason: str, delay_s: float) -> None:
        self.retries += 1
        narrowed = self.run.on_retry(status)
        await self.run.emit(
            EventKind.RETRY,
            self.agent_id,
            detail=reason,
            data={"status": status, "delay_s": delay_s, "attempt": self.retries},
        )
        if narrowed:
            await self.run.emit(EventKind.WINDOW, data={"size": self.run.window.size})

    async def succeeded_call(self) -> None:
        if self.run.on_call_succeeded():
            await self.run.emit(EventKind.WINDOW, data={"size": self.run.window.size})


def ending(sink: PersistingSink | None, status: AgentStatus, error: str | None) -> dict[str, Any]:
    """The changes that end an agent's record, with what its sink saw of the session."""
    ended: dict[str, Any] = {"status": status, "error": error}
    if sink is not None:
        ended.update(
            session_id=sink.session_id, turns=sink.turns, usage=sink.usage, retries=sink.retries
        )
    return ended
