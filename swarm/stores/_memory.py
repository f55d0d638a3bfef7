"""An in-memory store: the real fake for tests and throwaway runs."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from ..errors import NotFoundError
from ..records import AgentResult, Checkpoint, Lease, Message, RunRecord, SessionRecord
from ._protocol import StoreWrite, TranscriptEntry
from ._wrappers import RedactingStore


class _Transcript:
    """One transcript's lines, the uuids among them, and when it was last written."""

    __slots__ = ("entries", "mtime_ms", "uuids")

    def __init__(self) -> None:
        self.entries: list[TranscriptEntry] = []
        self.uuids: set[str] = set()
        self.mtime_ms = 0


class MemoryTables:
    """Keeps everything in dicts for the life of the object; records are stored as given
    (use :class:`MemoryStore`, which redacts them first). Records are immutable."""

    def __init__(self) -> None:
        self._runs: dict[str, RunRecord] = {}
        self._agents: dict[str, dict[str, AgentResult]] = {}
        self._sessions: dict[str, SessionRecord] = {}
        self._messages: dict[str, dict[str, Message]] = {}
        self._checkpoints: dict[str, Checkpoint] = {}
        # checkpoint ids by session, in insertion order: a session's list is one lookup
        self._session_checkpoints: dict[str, dict[str, None]] = {}
        self._leases: dict[str, Lease] = {}
        self._transcripts: dict[tuple[str, str, str], _Transcript] = {}

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
            for checkpoint_id in self._session_checkpoints.pop(session.session_id, {}):
                self._checkpoints.pop(checkpoint_id, None)
            for key in [k for k in self._transcripts if k[1] == session.session_id]:
                del self._transcripts[key]

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

    async def get_message_range(
        self, session_id: str, *, after: str | None = None, upto: str | None = None
    ) -> list[Message]:
        messages = list(self._messages.get(session_id, {}).values())
        uuids = [m.uuid for m in messages]
        for uuid in (after, upto):
            if uuid is not None and uuid not in uuids:
                raise NotFoundError(f"message {uuid} is not a message of session {session_id}")
        low = uuids.index(after) + 1 if after is not None else 0
        high = uuids.index(upto) + 1 if upto is not None else len(messages)
        return messages[low:high]

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        old = self._checkpoints.get(checkpoint.checkpoint_id)
        if old is not None and old.session_id != checkpoint.session_id:
            self._session_checkpoints.get(old.session_id, {}).pop(checkpoint.checkpoint_id, None)
        self._checkpoints[checkpoint.checkpoint_id] = checkpoint
        self._session_checkpoints.setdefault(checkpoint.session_id, {})[
            checkpoint.checkpoint_id
        ] = None

    async def list_checkpoints(self, session_id: str | None = None) -> list[Checkpoint]:
        if session_id is None:
            found = list(self._checkpoints.values())
        else:
            ids = self._session_checkpoints.get(session_id, {})
            found = [self._checkpoints[i] for i in ids]
        return sorted(found, key=lambda c: c.created_at)

    async def delete_checkpoints(self, checkpoint_ids: Sequence[str]) -> None:
        for checkpoint_id in checkpoint_ids:
            checkpoint = self._checkpoints.pop(checkpoint_id, None)
            if checkpoint is not None:
                self._session_checkpoints.get(checkpoint.session_id, {}).pop(checkpoint_id, None)

    async def acquire_lease(
        self, name: str, owner: str, ttl_s: float, *, now: float, steal_from: str | None = None
    ) -> Lease:
        current = self._leases.get(name)
        if current is None or current.expired(now) or current.owner in (owner, steal_from):
            kept_since = current is not None and current.owner == owner
            acquired_at = current.acquired_at if current is not None and kept_since else now
            current = self._leases[name] = Lease(name, owner, acquired_at, now + ttl_s)
        return current

    async def release_lease(self, name: str, owner: str) -> None:
        current = self._leases.get(name)
        if current is not None and current.owner == owner:
            del self._leases[name]

    async def get_lease(self, name: str) -> Lease | None:
        return self._leases.get(name)

    async def write_batch(self, writes: Sequence[StoreWrite]) -> None:
        # Each write method above finishes without yielding, so the batch is applied
        # whole, in order, before any other task runs.
        for write in writes:
            await getattr(self, write.kind)(*write.args)

    # --- raw transcripts (swarm.stores._protocol.TranscriptStore) ---------------

    async def append_transcript(
        self, project_key: str, session_id: str, subpath: str, entries: Sequence[TranscriptEntry]
    ) -> None:
        if not entries:
            return
        transcript = self._transcripts.setdefault((project_key, session_id, subpath), _Transcript())
        for entry in entries:
            uuid = entry.get("uuid")
            if isinstance(uuid, str):
                if uuid in transcript.uuids:
                    continue
                transcript.uuids.add(uuid)
            transcript.entries.append(json.loads(json.dumps(entry)))  # a copy, as SQLite keeps
        transcript.mtime_ms = max(transcript.mtime_ms + 1, int(time.time() * 1000))

    async def load_transcript(
        self, project_key: str, session_id: str, subpath: str = ""
    ) -> list[TranscriptEntry] | None:
        transcript = self._transcripts.get((project_key, session_id, subpath))
        return None if transcript is None else json.loads(json.dumps(transcript.entries))

    async def list_transcript_sessions(self, project_key: str) -> list[tuple[str, int]]:
        return [
            (session_id, t.mtime_ms)
            for (project, session_id, subpath), t in self._transcripts.items()
            if project == project_key and subpath == ""
        ]

    async def list_transcript_subpaths(self, project_key: str, session_id: str) -> list[str]:
        return [
            subpath
            for (project, session, subpath) in self._transcripts
            if project == project_key and session == session_id and subpath
        ]

    async def delete_transcript(
        self, project_key: str, session_id: str, subpath: str | None = None
    ) -> None:
        for key in list(self._transcripts):
            if key[:2] == (project_key, session_id) and subpath in (None, key[2]):
                del self._transcripts[key]

    async def transcript_projects(self, session_id: str) -> list[str]:
        return [
            project
            for (project, session, subpath) in self._transcripts
            if session == session_id and subpath == ""
        ]

    async def aclose(self) -> None:
        return None


class MemoryStore(RedactingStore):
    """A store that lives as long as the object, with every guarantee a store gives
    (secrets are redacted before a record is kept, as in the SQLite store)."""

    def __init__(self) -> None:
        super().__init__(MemoryTables())
