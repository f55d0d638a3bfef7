"""``swarm store verify`` and ``repair`` on a PostgreSQL store.

The server keeps its own pages whole (a damaged page is the server's to report, and
its backups are ``pg_dump``'s), so what is checked here is swarm's part: the schema
version and tables, then every row of every record table as the SQLite verifier
checks it (:func:`~swarm.stores._integrity.check_record`: the checksum, JSON, the
record type, key columns agreeing with the data), then orphans
(:data:`~swarm.stores._integrity.REFERENCES`). Verifying writes nothing (a read-only
transaction). Repair moves each damaged record and each orphan, unchanged, into
``quarantine_<table>`` (the table's columns plus ``problem`` and ``quarantined_at``),
all in one transaction: it either happens whole or not at all, and nothing is deleted
that is not kept in quarantine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import IntegrityError
from ..records import utc_now
from ._integrity import QUARANTINE_PREFIX, REFERENCES, Problem, VerifyReport, check_record
from ._postgres_db import PostgresDatabase
from ._postgres_schema import PG_SCHEMA_VERSION, missing_tables, schema_version
from ._repair import RepairReport
from ._urls import StoreURLError, parse_store_url

if TYPE_CHECKING:
    from psycopg import Connection

__all__ = ["repair_postgres", "verify_postgres"]

# table -> its key columns, in primary-key order (what names a row in a finding)
KEYS: dict[str, tuple[str, ...]] = {
    "runs": ("run_id",),
    "agents": ("run_id", "agent_id"),
    "sessions": ("session_id",),
    "messages": ("session_id", "seq"),
    "checkpoints": ("checkpoint_id",),
    "transcript_entries": ("project_key", "session_id", "subpath", "seq"),
    "leases": ("name",),
}
# columns the data must agree with, beside the key (check_record compares them)
_ALSO: dict[str, tuple[str, ...]] = {"messages": ("uuid",)}


@dataclass(frozen=True, slots=True)
class _Finding:
    problem: Problem
    table: str
    key: tuple[Any, ...]


@contextmanager
def _database(url: str, *, read_only: bool) -> Iterator[PostgresDatabase]:
    parsed = parse_store_url(url)
    if parsed.conninfo is None:
        raise StoreURLError(url, "is not a postgresql:// URL")
    db = PostgresDatabase(
        url, parsed.conninfo, pool_size=1, retry_s=min(parsed.retry_s, 10.0), read_only=read_only
    )
    db._open_sync(lambda c: None)
    try:
        yield db
    finally:
        db.close_sync()


def _key_text(key: tuple[Any, ...]) -> str:
    return "/".join(str(part) for part in key)


def _findings(conn: Connection[Any], report: VerifyReport) -> list[_Finding]:
    findings: list[_Finding] = []
    version = schema_version(conn)
    report.schema_version = version
    if version > PG_SCHEMA_VERSION:
        report.problems.append(
            Problem(
                "(schema)",
                "-",
                f"schema version {version} is newer than this swarm understands "
                f"({PG_SCHEMA_VERSION})",
                "schema",
            )
        )
        return findings
    missing = missing_tables(conn)
    if missing:
        report.problems.append(
            Problem("(schema)", "-", f"not a swarm store: no table {', '.join(missing)}", "schema")
        )
        return findings
    for table, keys in KEYS.items():
        columns = (*keys, *_ALSO.get(table, ()))
        names = ", ".join(columns)
        count = 0
        for row in conn.execute(
            f"SELECT {names}, data, checksum FROM {table} ORDER BY {', '.join(keys)}"
        ):
            count += 1
            values = dict(zip(columns, row[: len(columns)], strict=True))
            wrong = check_record(table, values, row[-2], row[-1])
            if wrong is not None:
                key = tuple(row[: len(keys)])
                findings.append(_Finding(Problem(table, _key_text(key), wrong), table, key))
        report.counts[table] = count
    for name in _quarantine_tables(conn):
        found = conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()
        report.quarantined[name.removeprefix(QUARANTINE_PREFIX)] = int(found[0]) if found else 0
    return findings


def _orphans(conn: Connection[Any]) -> Iterator[tuple[_Finding, str]]:
    """Rows whose parent is missing and not in quarantine, as findings (parent key beside)."""
    quarantine = set(_quarantine_tables(conn))
    for ref in REFERENCES:
        held = ""
        if QUARANTINE_PREFIX + ref.parent in quarantine:
            held = (
                f' AND c."{ref.column}" NOT IN'
                f' (SELECT "{ref.parent_column}" FROM "{QUARANTINE_PREFIX}{ref.parent}")'
            )
        keys = KEYS[ref.child]
        rows = conn.execute(
            f'SELECT c."{ref.column}", {", ".join("c." + k for k in keys)} FROM {ref.child} c'
            f' WHERE c."{ref.column}" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {ref.parent} p'
            f' WHERE p."{ref.parent_column}" = c."{ref.column}"){held}'
            f" ORDER BY {', '.join('c.' + k for k in keys)}"
        ).fetchall()
        for parent, *key in rows:
            problem = Problem(
                ref.child, _key_text(tuple(key)), f"{ref.what} {parent}, which is missing", "orphan"
            )
            yield _Finding(problem, ref.child, tuple(key)), str(parent)


def _quarantine_tables(conn: Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        " AND tablename LIKE 'quarantine\\_%' ORDER BY tablename"
    ).fetchall()
    return [str(name) for (name,) in rows]


def verify_postgres(url: str) -> VerifyReport:
    """Check every record of a PostgreSQL store; writes nothing."""
    with _database(url, read_only=True) as db:

        def check(conn: Connection[Any]) -> VerifyReport:
            report = VerifyReport(db.where)
            report.problems.extend(f.problem for f in _findings(conn, report))
            if report.schema_version is not None and not any(
                p.kind == "schema" for p in report.problems
            ):
                report.problems.extend(f.problem for f, _ in _orphans(conn))
            return report

        return db.run_sync(check, "verify failed")


def _quarantine(conn: Connection[Any], finding: _Finding, at: str) -> None:
    table, keys = finding.table, KEYS[finding.table]
    target = QUARANTINE_PREFIX + table
    conn.execute(
        f'CREATE TABLE IF NOT EXISTS "{target}" AS SELECT *, NULL::text AS problem,'
        f" NULL::text AS quarantined_at FROM {table} WITH NO DATA"
    )
    where = " AND ".join(f"{k} = %s" for k in keys)
    conn.execute(
        f'INSERT INTO "{target}" SELECT *, %s, %s FROM {table} WHERE {where}',
        (finding.problem.problem, at, *finding.key),
    )
    conn.execute(f"DELETE FROM {table} WHERE {where}", finding.key)


def repair_postgres(url: str) -> RepairReport:
    """Move the damaged records and orphans of a PostgreSQL store into quarantine tables,
    in one transaction (see the module doc)."""
    found = verify_postgres(url)
    report = RepairReport(found.path)
    schema = [p for p in found.problems if p.kind == "schema"]
    if schema:
        raise IntegrityError(
            f"{found.path}: {schema[0].problem}; repair moves damaged records of a swarm store, "
            "so it left this database untouched"
        )
    if found.clean:
        report.actions.append("nothing to repair: every record verified")
        report.after = found
        return report
    with _database(url, read_only=False) as db:

        def move(conn: Connection[Any]) -> None:
            at = utc_now()
            report.actions.clear()
            report.quarantined.clear()
            for finding in _findings(conn, VerifyReport(db.where)):
                _quarantine(conn, finding, at)
                report.quarantined.append(finding.problem)
                report.actions.append(
                    f"quarantined {finding.table} {finding.problem.key}: {finding.problem.problem}"
                )
            # Orphans after the damaged records (their children are held, not orphans);
            # one reference at a time, asked again after each move, as the SQLite repair does.
            while True:
                orphans = list(_orphans(conn))
                if not orphans:
                    break
                for finding, _parent in orphans:
                    _quarantine(conn, finding, at)
                    report.quarantined.append(finding.problem)
                    report.actions.append(
                        f"quarantined orphan {finding.table} {finding.problem.key}: "
                        f"{finding.problem.problem}"
                    )

        db.run_sync(move, "repair failed (nothing was changed: it is one transaction)")
    report.after = verify_postgres(url)
    return report
