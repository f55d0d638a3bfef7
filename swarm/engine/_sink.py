"""The sink the engine hands a backend: it journals each report, then tells the run.

A backend calls ``session_started`` the moment it knows its session id and
``message`` for every message; each goes through the journal, in order. While agents
run the journal writes behind: the call returns once the write is staged, and it is
durable a moment later, with every write staged meanwhile (a crash loses at most that
moment; the agent's final record is awaited). That is what lets a resume continue a
session after a crash. The sink talks to the journal (what
is written), the run state (what is known in memory), the scheduler (the window a
retry narrows) and the event feed; never to the executor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._redaction import redact_record
from ..events import EventKind
from ..records import AgentStatus, Message, Usage
from ..timeline import RunCheckpoints, SessionCheckpoints
from ._feed import EventFeed
from ._journal import Journal
from ._scheduling import Scheduler
from ._state import RunState


class PersistingSink:
    """Persists what a backend reports about one session (an agent's, or the base's)."""

    def __init__(
        self,
        *,
        journal: Journal,
        state: RunState,
        scheduler: Scheduler,
        feed: EventFeed,
        checkpoints: RunCheckpoints,
        agent_id: str | None,
        parent: str | None,
        fork: str | None,
        resume_session_id: str | None = None,
        persisted_elsewhere: bool = False,
        log: Any,
    ):
        # The run's bound logger (a module logger looks up structlog's set-up on every
        # call, and a sink logs once per agent even when the line is dropped).
        self.log = log
        self.journal = journal
        self.state = state
        self.scheduler = scheduler
        self.feed = feed
        self.run_checkpoints = checkpoints
        self.agent_id = agent_id
        self.parent_session_id = parent
        self.fork_point = fork
        self.resume_session_id = resume_session_id
        # An engine that runs the call elsewhere wrote the session and its messages
        # there already (in this order): replayed here, they are not written again.
        self.persisted_elsewhere = persisted_elsewhere
        self.session_id: str | None = None
        self.last_message: str | None = None
        self.message_count = 0
        self.turns = 0
        self.usage = Usage()
        self.retries = 0
        self.checkpoints: SessionCheckpoints | None = None

    async def session_started(self, session_id: str, *, metadata: Mapping[str, Any]) -> None:
        self.session_id = session_id
        if not self.persisted_elsewhere:
            await self.journal.start_session(
                session_id,
                agent_id=self.agent_id,
                parent_session_id=self.parent_session_id,
                fork_point=self.fork_point,
                model=self.state.model_of(self.agent_id),
                cwd=self.state.cwd_of(self.agent_id),
                reported=metadata,
            )
        self.log.debug(
            "session.started",
            run_id=self.state.run_id,
            agent_id=self.agent_id,
            session_id=session_id,
        )
        self.checkpoints = await self.run_checkpoints.open_session(
            session_id,
            self.parent_session_id,
            self.fork_point,
            resumed=session_id == self.resume_session_id,
        )
        if self.agent_id is not None:
            self.state.session_started(self.agent_id, session_id)

    async def message(self, message: Message) -> None:
        # Redacted once, here: the store and the MESSAGE event hold the same record.
        message = redact_record(message)
        if not self.persisted_elsewhere:
            await self.journal.append_messages(message.session_id, [message])
        self.last_message = message.uuid
        self.message_count += 1
        self.turns += message.role == "assistant"
        self.usage = self.usage + message.usage
        checkpoint = None
        if self.checkpoints is not None:
            checkpoint = await self.checkpoints.observe(message)
        if self.feed.listened:
            await self.feed.emit(EventKind.MESSAGE, self.agent_id, message=message)
            if checkpoint is not None:
                data = checkpoint.to_dict()
                await self.feed.emit(EventKind.CHECKPOINT, self.agent_id, data=data)

    async def retry(self, *, status: int | None, reason: str, delay_s: float) -> None:
        self.retries += 1
        narrowed = self.scheduler.on_rate_limited(status)
        if narrowed:
            self.log.warning(
                "window.narrowed",
                run_id=self.state.run_id,
                size=self.scheduler.window.size,
                status=status,
            )
        await self.feed.emit(
            EventKind.RETRY,
            self.agent_id,
            detail=reason,
            data={"status": status, "delay_s": delay_s, "attempt": self.retries},
        )
        if narrowed:
            await self.feed.emit(EventKind.WINDOW, data={"size": self.scheduler.window.size})

    async def succeeded_call(self) -> None:
        if self.scheduler.on_call_succeeded():
            size = self.scheduler.window.size
            self.log.info("window.widened", run_id=self.state.run_id, size=size)
            await self.feed.emit(EventKind.WINDOW, data={"size": size})

    def ending(self, status: AgentStatus, error: str | None) -> dict[str, Any]:
        """The changes that end the agent's record, with what this sink saw of the session."""
        return {
            "status": status,
            "error": error,
            "session_id": self.session_id,
            "turns": self.turns,
            "usage": self.usage,
            "retries": self.retries,
        }


def ending(sink: PersistingSink | None, status: AgentStatus, error: str | None) -> dict[str, Any]:
    """The changes that end an agent's record, with what its sink (if any) saw."""
    return {"status": status, "error": error} if sink is None else sink.ending(status, error)
