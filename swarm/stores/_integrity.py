"""``swarm store verify``: find every damaged record of a SQLite store without changing it.

Checks, in order: that the file is a SQLite database at all (not empty, the
header magic); that it opens the way every command opens it (a connection that
trusts the header, as theirs do: a damaged page count stops them all); the schema
version and swarm's tables; SQLite's ``PRAGMA integrity_check`` (the file's own
structure); then every row of every record table (any table with ``data`` and
``checksum`` columns): the checksum, UTF-8, JSON, the record type, and that the
row's key columns agree with its data; last, orphans (:data:`REFERENCES`). The
file is read as :mod:`swarm.stores._readonly` reads it: verifying writes nothing.

Rows are read one stretch at a time; when a damaged page stops a scan, the scan
skips ahead past it (see :func:`scan`) so one bad page hides as little as possible.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NotFoundError
from ..records import AgentResult, Checkpoint, Message, RunRecord, SessionRecord
from ._diagnosis import explain
from ._migrations import latest_version, missing_from
from ._readonly import ReadOnlyConnection, header_problem, page_count_problem
from ._rows import checksum
from ._sqlite import SCHEMA

QUARANTINE_PREFIX = "quarantine_"

# table -> (record type, {key column: field of the record's data})
RECORD_TYPES: dict[str, tuple[Callable[[dict[str, Any]], object], dict[str, str]]] = {
    "runs": (RunRecord.from_dict, {"run_id": "run_id"}),
    "agents": (AgentResult.from_dict, {"agent_id": "agent_id"}),
    "sessions": (SessionRecord.from_dict, {"session_id": "session_id"}),
    "messages": (Message.from_dict, {"session_id": "session_id", "uuid": "uuid"}),
    "checkpoints": (Checkpoint.from_dict, {"checkpoint_id": "checkpoint_id"}),
}


@dataclass(frozen=True, slots=True)
class Reference:
    """Rows of ``child`` name a row of ``parent`` in ``column`` (NULL names none)."""

    child: str
    column: str
    parent: str
    parent_column: str
    what: str  # "agents of run": what the children of one parent are


# What an orphan is, for verify and repair alike: a record whose parent is missing.
# Sessions come first: repair moves them before it looks at their messages and
# forks, which are then "kept, their session is in quarantine", not orphans too.
REFERENCES = (
    Reference("sessions", "run_id", "runs", "run_id", "sessions of run"),
    Reference("sessions", "parent_session_id", "sessions", "session_id", "forks of session"),
    Reference("agents", "run_id", "runs", "run_id", "agents of run"),
    Reference("messages", "session_id", "sessions", "session_id", "messages of session"),
    Reference("checkpoints", "session_id", "sessions", "session_id", "checkpoints of session"),
)


@dataclass(frozen=True, slots=True)
class OrphanGroup:
    """The rows of ``reference.child`` that name the missing parent ``key``."""

    reference: Reference
    key: str
    rowids: list[int]
    held: bool  # the parent is in quarantine: the rows are kept, not orphans

    @property
    def found(self) -> str:
        return f"{len(self.rowids)} {self.reference.what} {self.key}, which is missing"

    @property
    def note(self) -> str:
        count, kind = len(self.rowids), self.reference.parent[:-1]
        return f"{count} {self.reference.what} {self.key} kept; that {kind} is in quarantine"


def orphan_groups(conn: sqlite3.Connection, reference: Reference) -> list[OrphanGroup]:
    """The rows whose parent is missing, grouped by parent, as they are now in ``conn``.

    Verify reports the groups that are not ``held``; repair moves exactly those, one
    reference after the other (in :data:`REFERENCES` order), asking again after each.
    """
    ref = reference
    rows = conn.execute(
        f'SELECT rowid, "{ref.column}" FROM "{ref.child}" WHERE "{ref.column}" IS NOT NULL'
        f' AND "{ref.column}" NOT IN (SELECT "{ref.parent_column}" FROM "{ref.parent}")'
        " ORDER BY rowid"
    ).fetchall()
    if not rows:
        return []
    held: set[str] = set()
    if QUARANTINE_PREFIX + ref.parent in _quarantine_tables(conn):
        held = {
            _text(row[0])
            for row in conn.execute(
                f'SELECT "{ref.parent_column}" FROM "{QUARANTINE_PREFIX}{ref.parent}"'
            )
        }
    groups: dict[str, list[int]] = {}
    for rowid, key in rows:
        groups.setdefault(_text(key), []).append(int(rowid))
    return [OrphanGroup(ref, key, rowids, key in held) for key, rowids in groups.items()]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: ``kind`` is ``file``, ``schema``, ``record``, ``unreadable`` or ``orphan``."""

    table: str
    key: str
    problem: str
    kind: str = "record"
    rowid: int | None = None

    def __str__(self) -> str:
        return f"{self.table} {self.key}: {self.problem}"


@dataclass(slots=True)
class VerifyReport:
    """What ``verify`` found. ``file_ok`` is False when pages (not just records) are damaged."""

    path: str
    schema_version: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    file_ok: bool = True

    @property
    def clean(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "clean": self.clean,
            "file_ok": self.file_ok,
            "schema_version": self.schema_version,
            "counts": self.counts,
            "quarantined": self.quarantined,
            "problems": [asdict(p) for p in self.problems],
            "notes": self.notes,
        }


def _as_bytes(conn: sqlite3.Connection) -> None:
    conn.text_factory = bytes  # damaged text must not raise


def _leniently(conn: sqlite3.Connection) -> None:
    _as_bytes(conn)
    # Read a file shorter than its header claims (a torn write) as far as it goes,
    # instead of refusing it whole; on a read-only connection this changes nothing.
    conn.execute("PRAGMA writable_schema = ON")


def read_damaged(path: Path) -> ReadOnlyConnection:
    """A reader of a possibly damaged store that writes nothing and returns text as
    bytes; it reads past what stops ordinary connections (a page count too high)."""
    if not path.is_file():
        raise NotFoundError(f"{path}: no store there (nothing to verify)")
    return ReadOnlyConnection(path, _leniently)


def record_tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Tables holding checksummed records -> their key columns (primary key, else rowid)."""
    names = [
        row[0].decode() if isinstance(row[0], bytes) else row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    ]
    tables: dict[str, list[str]] = {}
    for name in names:
        if name.startswith(("sqlite_", QUARANTINE_PREFIX)):
            continue
        info = conn.execute(f'PRAGMA table_info("{name}")').fetchall()
        columns = {_text(row[1]) for row in info}
        if {"data", "checksum"} <= columns:
            keys = [_text(row[1]) for row in sorted(info, key=lambda r: r[5]) if row[5] > 0]
            tables[name] = keys
    return tables


def scan(
    conn: sqlite3.Connection, table: str, columns: str, on_error: Callable[[int, str], None]
) -> Iterator[tuple[Any, ...]]:
    """Every readable row of ``table`` as ``(rowid, *columns)``, in rowid order.

    A damaged page makes SQLite fail mid-scan; the scan then probes further and
    further past the last good rowid (1, 2, 4, ... rows on) and goes on from the
    first row it can read again. ``on_error(last_good_rowid, message)`` hears of each stop.
    """
    last = -(2**63)
    while True:
        try:
            for row in conn.execute(
                f'SELECT rowid, {columns} FROM "{table}" WHERE rowid > ? ORDER BY rowid', (last,)
            ):
                last = row[0]
                yield row
            return
        except sqlite3.DatabaseError as exc:
            on_error(last, explain(exc))
        step = 1
        while True:
            probe = last + step
            if probe >= 2**62:
                return
            try:
                row = conn.execute(
                    f'SELECT rowid FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT 1', (probe,)
                ).fetchone()
            except sqlite3.DatabaseError:
                step *= 2
                continue
            if row is None:
                return
            last = row[0] - 1
            break


def check_record(table: str, key_values: dict[str, Any], data: Any, digest: Any) -> str | None:
    """What is wrong with one row, or None when it is intact."""
    if data is None or digest is None:
        return "data or checksum is missing (NULL): the row was damaged"
    try:
        text = data.decode() if isinstance(data, bytes) else str(data)
        stored = digest.decode() if isinstance(digest, bytes) else str(digest)
    except UnicodeDecodeError:
        return "data is not UTF-8 text (damaged bytes)"
    computed = checksum(text)
    if computed != stored:
        return f"checksum mismatch (stored {stored[:16]!r}, data hashes to {computed})"
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"data is not valid JSON: {exc}"
    if not isinstance(value, dict):
        return f"data is JSON {type(value).__name__}, expected an object"
    if table in RECORD_TYPES:
        build, keys = RECORD_TYPES[table]
        try:
            build(value)
        except (TypeError, ValueError, KeyError) as exc:
            return f"data does not decode as a {table} record: {exc}"
        for column, name in keys.items():
            if column in key_values and str(value.get(name)) != str(key_values[column]):
                return f"key {column}={key_values[column]!r} but the data says {value.get(name)!r}"
    return None


def verify(path: str | Path) -> VerifyReport:
    """Check a SQLite store file; never writes to it or beside it."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{path}: no store there (nothing to verify)")
    not_sqlite = header_problem(path)
    if not_sqlite is not None:  # SQLite must not even open it (see swarm.stores._readonly)
        return VerifyReport(str(path), file_ok=False, problems=[_file_problem(not_sqlite)])
    refused = _opens_as_commands_do(path)
    reader = read_damaged(path)
    try:
        report = reader.run(lambda conn: _verify(conn, VerifyReport(str(path))))
    finally:
        reader.close()
    if refused is not None:
        report.file_ok = False
        report.problems.insert(0, refused)
    return report


def _file_problem(text: str) -> Problem:
    return Problem("(file)", "-", text, "file")


def _opens_as_commands_do(path: Path) -> Problem | None:
    """What stops the commands' own connections (no ``writable_schema``) from opening the
    file and reading its schema, which the lenient reader of the checks below reads past."""
    try:
        reader = ReadOnlyConnection(path, _as_bytes)
        try:
            reader.run(
                lambda c: (
                    c.execute("PRAGMA user_version").fetchone(),
                    c.execute("SELECT name, sql FROM sqlite_master").fetchall(),
                )
            )
        finally:
            reader.close()
    except sqlite3.DatabaseError as exc:
        why = page_count_problem(path)
        return _file_problem(
            f"every command fails to open it: {explain(exc)}"
            + (f"; {why}" if why else "")
            + "; repair rebuilds it from its readable pages"
        )
    return None


def _verify(conn: sqlite3.Connection, report: VerifyReport) -> VerifyReport:
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = record_tables(conn)
        missing = missing_from(conn, SCHEMA)
    except sqlite3.DatabaseError as exc:
        report.file_ok = False
        report.problems.append(_file_problem(f"unreadable: {explain(exc)}"))
        return report
    report.schema_version = version
    if missing and 0 < version < latest_version():
        # Not damage: the next command that writes upgrades the file and adds them.
        report.notes.append(
            f"schema v{version} has no table {', '.join(missing)} yet; the next command "
            "that writes adds it"
        )
    elif missing:
        report.problems.append(
            Problem(
                "(schema)",
                f"v{version}",
                f"not a swarm store: no table {', '.join(missing)}",
                "schema",
            )
        )
    if version > latest_version():
        report.problems.append(
            Problem(
                "(schema)",
                f"v{version}",
                f"newer than this swarm understands (v{latest_version()}); upgrade swarm",
                "schema",
            )
        )
    try:
        findings = [
            line
            for row in conn.execute("PRAGMA integrity_check(100)")
            for line in _text(row[0]).splitlines()
            if line and not line.startswith("*** in database")
        ]
    except sqlite3.DatabaseError as exc:
        findings = [f"integrity_check failed: {explain(exc)}"]
    if findings != ["ok"]:
        report.file_ok = False
        report.problems.extend(Problem("(file)", "-", f, "file") for f in findings)
    for table, keys in tables.items():
        _verify_table(conn, report, table, keys)
    _verify_references(conn, report, set(tables))
    for name in _quarantine_tables(conn):
        try:
            report.quarantined[name[len(QUARANTINE_PREFIX) :]] = int(
                conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
            )
        except sqlite3.DatabaseError as exc:
            report.notes.append(f"{name}: unreadable: {explain(exc)}")
    return report


def _verify_table(
    conn: sqlite3.Connection, report: VerifyReport, table: str, keys: list[str]
) -> None:
    columns = ", ".join(f'"{k}"' for k in [*keys, "data", "checksum"])

    def unreadable(after: int, message: str) -> None:
        report.file_ok = False
        where = "from its first row" if after < -(2**62) else f"after rowid {after}"
        report.problems.append(
            Problem(table, where, f"rows cannot be read: {message}", "unreadable", None)
        )

    count = 0
    for row in scan(conn, table, columns, unreadable):
        count += 1
        rowid, *values = row
        key_values = {k: _text(v) for k, v in zip(keys, values, strict=False)}
        problem = check_record(table, key_values, values[-2], values[-1])
        if problem is not None:
            key = "/".join(str(v) for v in key_values.values()) or f"rowid {rowid}"
            report.problems.append(Problem(table, key, problem, "record", rowid))
    report.counts[table] = count


def _verify_references(conn: sqlite3.Connection, report: VerifyReport, tables: set[str]) -> None:
    for reference in REFERENCES:
        if reference.child not in tables or reference.parent not in tables:
            continue
        try:
            groups = orphan_groups(conn, reference)
        except sqlite3.DatabaseError as exc:
            report.notes.append(f"{reference.child}: references not checked: {explain(exc)}")
            continue
        for group in groups:
            if group.held:
                report.notes.append(group.note)
            else:
                report.problems.append(Problem(reference.child, group.key, group.found, "orphan"))


def _quarantine_tables(conn: sqlite3.Connection) -> list[str]:
    try:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'quarantine!_%'"
            " ESCAPE '!' ORDER BY name"
        ).fetchall()
    except sqlite3.DatabaseError:
        return []
    return [_text(row[0]) for row in rows]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def run_ids_in_file(path: Path) -> list[str]:
    """Every readable run id of a store file, newest first, read without decoding records
    (what still names a run when its record is damaged)."""
    reader = read_damaged(path)
    try:
        rows = reader.run(
            lambda conn: list(
                scan(conn, "runs", '"run_id", "created_at"', lambda _after, _why: None)
            )
        )
    finally:
        reader.close()
    text = [(_text(created), _text(run_id)) for _rowid, run_id, created in rows]
    return [run_id for _created, run_id in sorted(text, reverse=True)]
