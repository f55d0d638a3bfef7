"""Raw Claude Code transcript lines kept in the store: an optional store capability.

The ``claude`` backend mirrors every line the CLI writes to its ``.jsonl``
transcripts into the store (through :class:`swarm.backends.session_store.StoreSessionStore`,
the SDK's ``SessionStore`` protocol), so a session can be resumed or forked on
a machine that never saw its local file. Lines are opaque JSON objects keyed by
``(project_key, session_id, subpath)``; ``subpath`` is ``""`` for the main
transcript. A line's ``uuid``, when it has one, makes its append idempotent.

Both built-in stores have this capability; a third-party store without it can
still run the ``claude`` backend, with transcripts kept on local disk only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeAlias, runtime_checkable

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
