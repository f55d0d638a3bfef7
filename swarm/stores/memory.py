"""An in-memory store: the real fake for tests and throwaway runs."""

from __future__ import annotations

from collections.abc import Sequence

from ..records import AgentResult, Checkpoint, Message, RunRecord, SessionRecord


class MemoryStore:
    """Keeps everything in dicts for the life of the object. Records are immutable."""

    def __init__(self) -> None:
        self._runs: dict[str, RunRecord] = {}
        self._agents: dict[str, dict[str, AgentResult]] = {}
        self._sessions: dict[str, SessionRecord] = {}
        self._messages: dict[str, dict[str, Message]] = {}
        self._checkpoints: dict[str, Checkpoint] = {}

    async def save_run(self, run: RunRecord) -> None:
        self._runs[run.run_id] = run

    async def get_run(self, run_id: str) -> RunRecord | None:
        return self._runs.get(run_id)

    async def list_runs(self, limit: int | None = None) -> list[RunRecord]:
        runs = sorted(self._runs.values(), key=lambda r: (r.created_at, r.run_id), reverse=True)
        return runs if limit is None else runs[:limit]

    async def delete_run(self, run_id: str) -> None:
        self._runs.pop(run_id, None)
        self._agents.pop(run_id, None)
        for session in [s for s in self._sessions.values() if s.run_id == run_id]:
            del self._sessions[session.session_id]
            self._messages.pop(session.session_id, None)
            for cp in [c for c in self._checkpoints.values() if c.session_id == session.session_id]:
                del self._checkpoints[cp.checkpoint_id]

    async def save_agents(self, run_id: str, agents: Sequence[AgentResult]) -> None:
        table = self._agents.setdefault(run_id, {})
        for agent in agents:
            table[agent.agent_id] = agent

    async def list_agents(self, run_id: str) -> list[AgentResult]:
        return list(self._agents.get(run_id, {}).values())

    async def save_session(self, session: SessionRecord) -> None:
        self._sessions[session.session_id] = session

    async def get_session(self, session_id: str) -> SessionRecord | None:
        return self._sessions.get(session_id)

    async def list_sessions(self, run_id: str | None = None) -> list[SessionRecord]:
        sessions = [s for s in self._sessions.values() if run_id is None or s.run_id == run_id]
        return sorted(sessions, key=lambda s: s.created_at)

    async def append_messages(self, session_id: str, messages: Sequence[Message]) -> None:
        table = self._messages.setdefault(session_id, {})
        for message in messages:
            table.setdefault(message.uuid, message)

    async def get_messages(self, session_id: str) -> list[Message]:
        return list(self._messages.get(session_id, {}).values())

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._checkpoints[checkpoint.checkpoint_id] = checkpoint

    async def list_checkpoints(self, session_id: str | None = None) -> list[Checkpoint]:
        found = [
            c
            for c in self._checkpoints.values()
            if session_id is None or c.session_id == session_id
        ]
        return sorted(found, key=lambda c: c.created_at)

    async def delete_checkpoints(self, checkpoint_ids: Sequence[str]) -> None:
        for checkpoint_id in checkpoint_ids:
            self._checkpoints.pop(checkpoint_id, None)

    async def aclose(self) -> None:
        return None
