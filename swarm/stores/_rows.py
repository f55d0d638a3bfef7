"""The stored row format the SQLite and PostgreSQL stores share: every record a JSON
document (:mod:`swarm._jsoncodec`) beside a short checksum, verified on read, so a
damaged record is named (table and key) when it is read, never a traceback; and the
transcript reads, the same SQL on both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from .. import _jsoncodec as jsoncodec
from ..errors import IntegrityError, Remedy
from ..records import Message, SessionRecord
from ._protocol import TranscriptEntry
from ._sqlite_apply import checksum

__all__ = [
    "TranscriptReads",
    "checksum",
    "decode_record",
    "encode_document",
    "encode_record",
    "load_messages",
    "load_record",
    "session_row",
]


def encode_record(record: dict[str, Any]) -> tuple[str, str]:
    # Records arrive redacted (both stores are RedactingStores): encoded as they are.
    data = jsoncodec.dumps(record)
    return data, checksum(data)


def encode_document(record: _Document) -> tuple[str, str]:
    # The redacting wrapper just encoded it to look for secrets: that text is reused.
    data = jsoncodec.document_text(record)
    return data, checksum(data)


def session_row(session: SessionRecord) -> tuple[str, str | None, str | None, str, str]:
    """The ``sessions`` table's columns for ``session``, in both engines' order: id, run,
    parent, created_at and its document (its checksum is the document's: see
    :func:`checksum`)."""
    return (
        session.session_id,
        session.run_id,
        session.parent_session_id,
        session.created_at,
        jsoncodec.document_text(session),
    )


def decode_record(table: str, key: str, data: str, digest: str) -> dict[str, Any]:
    if checksum(data) != digest:
        raise IntegrityError(
            f"{table} record {key} does not match its checksum", remedy=Remedy.VERIFY_STORE
        )
    try:
        value: dict[str, Any] = jsoncodec.loads(data)
    except ValueError as exc:
        raise IntegrityError(
            f"{table} record {key} is not valid JSON ({exc})", remedy=Remedy.VERIFY_STORE
        ) from None
    return value


R = TypeVar("R")


class _Document(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def load_record(
    build: Callable[[dict[str, Any]], R], table: str, key: str, data: str, digest: str
) -> R:
    """A record from a stored row: checksum, JSON, then the record's own shape."""
    value = decode_record(table, key, data, digest)
    try:
        return build(value)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # Intact bytes, but not a record this version knows: say so, never a traceback.
        raise IntegrityError(
            f"{table} record {key} matches its checksum but is not a valid {table} record "
            f"({type(exc).__name__}: {exc}); was it written by another version of swarm?"
        ) from None


def load_messages(rows: list[tuple[str, str, str]]) -> list[Message]:
    """Message rows (uuid, data, checksum) as messages: a fork reads a whole history back.

    Every checksum is verified; the JSON of all rows is then parsed in one call, which
    costs less than a parse per row. If that fails, rows are decoded one by one so the
    error names the damaged one.
    """
    for uuid, data, digest in rows:
        if checksum(data) != digest:
            raise IntegrityError(
                f"messages record {uuid} does not match its checksum", remedy=Remedy.VERIFY_STORE
            )
    try:
        values = jsoncodec.loads("[" + ",".join(data for _, data, _ in rows) + "]")
    except ValueError:
        return [load_record(Message.from_dict, "messages", *row) for row in rows]
    if len(values) != len(rows):  # a row holding "1,2" parses as two values
        return [load_record(Message.from_dict, "messages", *row) for row in rows]
    messages: list[Message] = []
    for (uuid, data, digest), value in zip(rows, values, strict=True):
        if not isinstance(value, dict):
            messages.append(load_record(Message.from_dict, "messages", uuid, data, digest))
            continue
        try:
            messages.append(Message.from_dict(value))
        except (TypeError, ValueError, KeyError, AttributeError):
            messages.append(load_record(Message.from_dict, "messages", uuid, data, digest))
    return messages


class TranscriptReads:
    """The transcript reads the SQLite and PostgreSQL tables share: the same SQL, written
    with ``?`` marks, run through the subclass's :meth:`_rows` (which swaps the marks for
    its driver's); ``_INSERT_ORDER`` is the column that orders rows as appended."""

    _INSERT_ORDER = "rowid"

    async def _rows(self, sql: str, args: tuple[str, ...]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def load_transcript(
        self, project_key: str, session_id: str, subpath: str = ""
    ) -> list[TranscriptEntry] | None:
        rows = await self._rows(
            "SELECT seq, data, checksum FROM transcript_entries"
            " WHERE project_key = ? AND session_id = ? AND subpath = ? ORDER BY seq",
            (project_key, session_id, subpath),
        )
        if not rows:
            return None
        where = f"{project_key}/{session_id}/{subpath}"
        return [
            decode_record("transcript_entries", f"{where}#{seq}", data, digest)
            for seq, data, digest in rows
        ]

    async def list_transcript_sessions(self, project_key: str) -> list[tuple[str, int]]:
        rows = await self._rows(
            "SELECT session_id, MAX(mtime_ms) FROM transcript_entries"
            " WHERE project_key = ? AND subpath = '' GROUP BY session_id",
            (project_key,),
        )
        return [(str(session_id), int(mtime)) for session_id, mtime in rows]

    async def list_transcript_subpaths(self, project_key: str, session_id: str) -> list[str]:
        rows = await self._rows(
            "SELECT DISTINCT subpath FROM transcript_entries"
            " WHERE project_key = ? AND session_id = ? AND subpath != '' ORDER BY subpath",
            (project_key, session_id),
        )
        return [str(subpath) for (subpath,) in rows]

    async def transcript_projects(self, session_id: str) -> list[str]:
        rows = await self._rows(
            "SELECT project_key FROM transcript_entries WHERE session_id = ? AND subpath = ''"
            f" GROUP BY project_key ORDER BY MIN({self._INSERT_ORDER})",
            (session_id,),
        )
        return [str(project) for (project,) in rows]
