"""The Claude Agent SDK's ``SessionStore`` protocol on top of a swarm store.

Passed as ``ClaudeAgentOptions.session_store``, it receives every line the
Claude Code CLI writes to a session transcript and keeps it in the store's
``transcript_entries`` (see :mod:`swarm.stores._protocol`). On ``resume``
the SDK loads the session back from here into a temporary config dir, so a
session can be resumed or forked where its local ``.jsonl`` never existed or
was deleted. It passes ``claude_agent_sdk.testing.run_session_store_conformance``.
"""

from __future__ import annotations

from typing import Any, cast

from claude_agent_sdk.types import (
    SessionKey,
    SessionListSubkeysKey,
    SessionStore,
    SessionStoreEntry,
    SessionStoreListEntry,
)

from ...errors import BackendUnavailable
from ...stores import TranscriptStore, keeps_transcripts


class StoreSessionStore:
    """A ``SessionStore`` adapter keeping transcripts in a swarm :class:`TranscriptStore`.

    It implements every method but ``list_session_summaries``, which the SDK
    treats as absent (it then folds summaries from ``load``). Pass it to the SDK
    as :meth:`as_sdk_store`.
    """

    def __init__(self, store: object) -> None:
        if not (keeps_transcripts(store) and isinstance(store, TranscriptStore)):
            raise BackendUnavailable(
                f"{type(store).__name__} cannot keep Claude Code transcripts (it lacks the "
                "TranscriptStore methods of swarm.stores); use the SQLite or "
                "memory store, or set backend.options.session_store: false"
            )
        self.store: TranscriptStore = store

    def as_sdk_store(self) -> SessionStore:
        """This adapter typed as the SDK's protocol (it duck-types the optional methods)."""
        return cast(SessionStore, self)

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        await self.store.append_transcript(
            key["project_key"],
            key["session_id"],
            key.get("subpath", ""),
            [cast(dict[str, Any], entry) for entry in entries],
        )

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        entries = await self.store.load_transcript(
            key["project_key"], key["session_id"], key.get("subpath", "")
        )
        return None if entries is None else [cast(SessionStoreEntry, e) for e in entries]

    async def list_sessions(self, project_key: str) -> list[SessionStoreListEntry]:
        return [
            {"session_id": session_id, "mtime": mtime}
            for session_id, mtime in await self.store.list_transcript_sessions(project_key)
        ]

    async def delete(self, key: SessionKey) -> None:
        await self.store.delete_transcript(
            key["project_key"], key["session_id"], key.get("subpath")
        )

    async def list_subkeys(self, key: SessionListSubkeysKey) -> list[str]:
        return await self.store.list_transcript_subpaths(key["project_key"], key["session_id"])

    async def copy_to_project(self, session_id: str, project_key: str) -> bool:
        """Make ``session_id`` loadable under ``project_key`` (an agent in another cwd).

        The SDK looks a session up under the project key of the resuming
        process's cwd; a fork whose cwd differs from its parent's finds the
        parent here after this copy. False when no project holds the session.
        """
        projects = await self.store.transcript_projects(session_id)
        if project_key in projects:
            return True
        if not projects:
            return False
        source = projects[0]
        entries = await self.store.load_transcript(source, session_id)
        await self.store.append_transcript(project_key, session_id, "", entries or [])
        for subpath in await self.store.list_transcript_subpaths(source, session_id):
            sub = await self.store.load_transcript(source, session_id, subpath)
            await self.store.append_transcript(project_key, session_id, subpath, sub or [])
        return True
