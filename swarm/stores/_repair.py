"""``swarm store repair``: quarantine damaged records, keep every intact one, say what was done.

Nothing is ever deleted:

- the store is first copied with SQLite's backup API to ``<db>.bak-repair-<time>``;
- a damaged record moves, bytes unchanged, into ``quarantine_<table>`` (the
  table's columns plus ``problem`` and ``quarantined_at``), in one transaction;
- so does an orphan: an intact record whose parent is missing and not in
  quarantine either (agents of a deleted run, messages and checkpoints of a
  deleted session), so that the store verifies clean afterwards;
- when the file itself is damaged (``integrity_check`` fails, pages cannot be
  read, or the commands cannot open it at all, as with a damaged page count in
  its header), every readable row is copied into a new file, which takes the
  store's place; the original, with its ``-wal``, is kept as ``<db>.corrupt-<time>``;
- a file that is not a SQLite database (empty, or something else) or not a swarm
  store holds nothing to recover: it is left untouched, and repair says so.

Run it while no swarm process uses the store.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, StoreError
from ..records import utc_now
from ._diagnosis import explain
from ._integrity import (
    QUARANTINE_PREFIX,
    REFERENCES,
    Problem,
    VerifyReport,
    check_record,
    orphan_groups,
    read_damaged,
    record_tables,
    scan,
    verify,
)
from ._migrations import backup, backup_path, create_private_file, latest_version, upgrade
from ._readonly import header_problem
from ._sqlite import SCHEMA


@dataclass(slots=True)
class RepairReport:
    """What ``repair`` did: ``actions`` in order, then the verification of the result."""

    path: str
    actions: list[str] = field(default_factory=list)
    quarantined: list[Problem] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    backup: str | None = None
    original_kept_as: str | None = None
    after: VerifyReport | None = None

    @property
    def clean(self) -> bool:
        return self.after is not None and self.after.clean

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "clean": self.clean,
            "actions": self.actions,
            "quarantined": [
                {"table": p.table, "key": p.key, "problem": p.problem} for p in self.quarantined
            ],
            "lost": self.lost,
            "backup": self.backup,
            "original_kept_as": self.original_kept_as,
            "after": self.after.to_dict() if self.after is not None else None,
        }


def repair(path: str | Path) -> RepairReport:
    """Repair a SQLite store file in place (see the module docstring)."""
    path = Path(path)
    report = RepairReport(str(path))
    found = verify(path)
    not_sqlite = header_problem(path)
    if not_sqlite is not None:
        raise StoreError(
            f"{path}: {not_sqlite}; there is nothing in it to recover, so it was left "
            "untouched (move it aside: the next run starts a new store there)"
        )
    schema = [p for p in found.problems if p.kind == "schema"]
    if found.schema_version is not None and found.schema_version > latest_version():
        raise IntegrityError(
            f"{path}: schema version {found.schema_version} is newer than this swarm "
            "understands; repair it with that version of swarm"
        )
    if schema:
        raise IntegrityError(
            f"{path}: {schema[0].problem}; repair moves damaged records of a swarm store, "
            "so it left this file untouched"
        )
    if found.clean:
        report.actions.append("nothing to repair: every record verified")
        report.after = found
        return report
    if found.file_ok:
        _quarantine_in_place(path, found, report)
    else:
        _salvage(path, report)
        salvaged = verify(path)
        if any(p.kind == "orphan" for p in salvaged.problems):  # parents lost with their pages
            # The damaged original is kept whole already: no second backup.
            _quarantine_in_place(path, salvaged, report, take_backup=False)
    report.after = verify(path)
    left = [p for p in report.after.problems if p.kind == "orphan"]
    if left:
        report.actions.append(
            f"left {len(left)} orphaned group(s) in place: intact records whose parent "
            "is missing (not moved; verify lists them)"
        )
    return report


# --- record-level damage: quarantine in place ------------------------------------


def _quarantine_in_place(
    path: Path, found: VerifyReport, report: RepairReport, *, take_backup: bool = True
) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    conn.text_factory = bytes
    try:
        if take_backup:
            taken = backup(conn, path, "bak-repair")
            report.backup = str(taken)
            report.actions.append(f"backed up the store to {taken}")
        bad = [p for p in found.problems if p.kind == "record" and p.rowid is not None]
        conn.execute("BEGIN IMMEDIATE")
        try:
            tables = record_tables(conn)
            for problem in bad:
                if _move(conn, problem, tables.get(problem.table, [])):
                    report.quarantined.append(problem)
                    report.actions.append(
                        f"moved {problem.table} {problem.key} to "
                        f"{QUARANTINE_PREFIX}{problem.table}: {problem.problem}"
                    )
            # After the damaged records: a parent moved just now makes its children
            # "kept, parent in quarantine", not orphans.
            _move_orphans(conn, tables, report)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: repair failed, nothing changed: {explain(exc)}") from None
    finally:
        conn.close()


def _move(conn: sqlite3.Connection, problem: Problem, keys: list[str]) -> bool:
    """Move one row to quarantine if it is still damaged (checked again under the lock)."""
    columns = ", ".join(f'"{k}"' for k in [*keys, "data", "checksum"])
    row = conn.execute(
        f'SELECT {columns} FROM "{problem.table}" WHERE rowid = ?', (problem.rowid,)
    ).fetchone()
    if row is None:
        return False
    key_values = {k: _text(v) for k, v in zip(keys, row, strict=False)}
    if check_record(problem.table, key_values, row[-2], row[-1]) is None:
        return False  # rewritten by someone since verify read it
    quarantine = _ensure_quarantine(conn, conn, problem.table)
    names = ", ".join(f'"{c}"' for c in _columns(conn, problem.table))
    conn.execute(
        f'INSERT INTO "{quarantine}" ({names}, problem, quarantined_at)'
        f' SELECT {names}, ?, ? FROM "{problem.table}" WHERE rowid = ?',
        (problem.problem, utc_now(), problem.rowid),
    )
    conn.execute(f'DELETE FROM "{problem.table}" WHERE rowid = ?', (problem.rowid,))
    return True


def _move_orphans(
    conn: sqlite3.Connection, tables: dict[str, list[str]], report: RepairReport
) -> None:
    """Move every record whose parent is neither in its table nor in quarantine, found
    as ``verify`` finds them (:func:`orphan_groups`, under the lock), to
    ``quarantine_<table>``."""
    for reference in REFERENCES:
        child, parent = reference.child, reference.parent
        if child not in tables or parent not in tables:
            continue
        groups = [g for g in orphan_groups(conn, reference) if not g.held]
        if not groups:
            continue
        quarantine = _ensure_quarantine(conn, conn, child)
        names = ", ".join(f'"{c}"' for c in _columns(conn, child))
        for group in groups:
            why = f"an orphan: its {parent[:-1]} {group.key} is missing"
            stamp = utc_now()
            conn.executemany(
                f'INSERT INTO "{quarantine}" ({names}, problem, quarantined_at)'
                f' SELECT {names}, ?, ? FROM "{child}" WHERE rowid = ?',
                [(why, stamp, rowid) for rowid in group.rowids],
            )
            conn.executemany(
                f'DELETE FROM "{child}" WHERE rowid = ?', [(rowid,) for rowid in group.rowids]
            )
            report.quarantined.append(Problem(child, group.key, group.found, "orphan"))
            report.actions.append(
                f"moved {len(group.rowids)} {reference.what} {group.key} to {quarantine}: "
                f"intact, but that {parent[:-1]} is missing"
            )


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [
        _text(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    ]


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [_text(row[1]) for row in conn.execute(f'PRAGMA table_info("{table}")')]


def _ensure_quarantine(source: sqlite3.Connection, target: sqlite3.Connection, table: str) -> str:
    """``quarantine_<table>`` in ``target``: ``table``'s columns (no constraints) + why + when."""
    name = QUARANTINE_PREFIX + table
    have = set(_columns(target, name))
    wanted = [*_columns(source, table), "problem", "quarantined_at"]
    if not have:
        target.execute(f'CREATE TABLE "{name}" ({", ".join(_quoted(c) for c in wanted)})')
    else:
        for column in wanted:
            if column not in have:
                target.execute(f'ALTER TABLE "{name}" ADD COLUMN "{column}"')
    return name


# --- file-level damage: copy what can be read into a new file ----------------------


def _salvage(path: Path, report: RepairReport) -> None:
    reader = read_damaged(path)
    try:
        target, copied = reader.run(lambda source: _copy_into_new_file(path, source))
    finally:
        reader.close()
    report.actions.extend(copied.actions)
    report.lost.extend(copied.lost)
    report.quarantined.extend(copied.quarantined)
    kept = backup_path(path, "corrupt")
    # Move the damaged file and its WAL aside first: a stale -wal beside the new
    # file would be replayed into it.
    os.replace(path, kept)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, kept.with_name(kept.name + suffix))
    os.replace(target, path)
    report.original_kept_as = str(kept)
    report.backup = str(kept)
    report.actions.insert(0, f"the file itself is damaged: kept the original as {kept}")
    report.actions.append(f"copied every readable row into a new file, now at {path}")


def _copy_into_new_file(path: Path, source: sqlite3.Connection) -> tuple[Path, RepairReport]:
    """Every readable row of ``source`` in a new file beside ``path``; what was done."""
    copied = RepairReport(str(path))
    target = backup_path(path, "recovered")
    create_private_file(target)
    dest = sqlite3.connect(target, isolation_level=None)
    dest.text_factory = bytes
    try:
        try:
            tables = _readable_tables(source)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{path}: the file is too damaged to read even its list of tables "
                f"({explain(exc)}); it was left untouched"
            ) from None
        upgrade(dest, target, SCHEMA)
        checked = record_tables(source)
        dest.execute("BEGIN")
        for table, create in tables.items():
            _copy_table(source, dest, table, create, checked.get(table), copied)
        dest.execute("COMMIT")
    except BaseException:
        dest.close()
        target.unlink(missing_ok=True)
        raise
    dest.close()
    return target, copied


def _readable_tables(conn: sqlite3.Connection) -> dict[str, str]:
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%'"
        " ESCAPE '!'"
    ).fetchall()
    return {_text(name): _text(sql) for name, sql in rows}


def _copy_table(
    source: sqlite3.Connection,
    dest: sqlite3.Connection,
    table: str,
    create: str,
    keys: list[str] | None,
    report: RepairReport,
) -> None:
    if not _columns(dest, table):
        dest.execute(create)
    columns = [c for c in _columns(source, table) if c in set(_columns(dest, table))]
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    copied = moved = 0

    def lost(after: int, message: str) -> None:
        where = "from the first row" if after < -(2**62) else f"after rowid {after}"
        report.lost.append(f"{table}: rows {where} could not be read ({message})")

    for rowid, *values in scan(source, table, names, lost):
        problem = None
        if keys is not None:
            record = dict(zip(columns, values, strict=True))
            key_values = {k: _text(record[k]) for k in keys if k in record}
            problem = check_record(table, key_values, record.get("data"), record.get("checksum"))
        if problem is None:
            dest.execute(
                f'INSERT OR IGNORE INTO "{table}" (rowid, {names}) VALUES (?, {marks})',
                (rowid, *(_as_text(v) for v in values)),
            )
            copied += 1
        else:
            quarantine = _ensure_quarantine(source, dest, table)
            dest.execute(
                f'INSERT INTO "{quarantine}" ({names}, problem, quarantined_at)'
                f" VALUES ({marks}, ?, ?)",
                (*values, problem, utc_now()),
            )
            key = "/".join(key_values.values()) or f"rowid {rowid}"
            report.quarantined.append(Problem(table, key, problem, "record", rowid))
            report.actions.append(f"moved {table} {key} to {quarantine}: {problem}")
            moved += 1
    quarantined = f", quarantined {moved}" if moved else ""
    report.actions.append(f"{table}: copied {copied} intact rows{quarantined}")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _as_text(value: Any) -> Any:
    """Text read as bytes (to survive damage) goes back as text, not as a BLOB."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return value
    return value


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)
