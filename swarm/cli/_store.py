"""``swarm store verify`` and ``swarm store repair``: check the store, quarantine damage."""

from __future__ import annotations

import textwrap
from pathlib import Path

import typer

from .._redaction import mask_url
from ..errors import StoreError, UsageError
from ..stores import (
    Problem,
    RepairReport,
    VerifyReport,
    parse_store_url,
    repair,
    repair_postgres,
    sqlite_path,
    verify,
    verify_postgres,
)
from ._common import plural, print_json, store_url
from ._errors import EXIT_FAILED, EXIT_OK, exit_code_of, fail
from ._options import JsonOption, StoreOption

store_app = typer.Typer(help="Check and repair the store.", no_args_is_help=True)


def _is_postgres(store: str | None) -> bool:
    return parse_store_url(store_url(store)).is_postgres


def _path(store: str | None) -> Path:
    url = store_url(store)
    path = sqlite_path(url)
    if path is None:
        raise UsageError(f"store {mask_url(url)!r} lives in memory: there is no file to check")
    return path


@store_app.command("verify")
def store_verify(store: StoreOption = None, as_json: JsonOption = False) -> int:
    """Check every record's checksum and the file itself; exit 1 if anything is wrong."""
    report = verify_postgres(store_url(store)) if _is_postgres(store) else verify(_path(store))
    if as_json:
        print_json(report.to_dict())
    else:
        _print_verify(report)
    return EXIT_OK if report.clean else EXIT_FAILED


def _problem(problem: Problem) -> str:
    if problem.kind == "file":  # its table and key are placeholders: "(file) -"
        return f"file: {problem.problem}"
    return f"{problem.kind}: {problem!s}"


def _print_verify(report: VerifyReport) -> None:
    counts = ", ".join(f"{table} {n}" for table, n in report.counts.items()) or "no tables"
    version = "unknown" if report.schema_version is None else report.schema_version
    print(textwrap.fill(f"{report.path}: schema version {version}; {counts}", 80))
    if report.quarantined:
        held = ", ".join(f"{table} {n}" for table, n in report.quarantined.items())
        print(f"in quarantine: {held}")
    for note in report.notes:
        print(f"note: {note}")
    for problem in report.problems:
        print(_problem(problem))
    if report.clean:
        print("ok: every record verified")
    elif report.schema_version is None:  # not even its schema could be read
        print(
            f"{plural(len(report.problems), 'problem')}; the file cannot be read as a store, "
            "so `swarm store repair` has nothing to recover from it"
        )
    else:
        print(
            f"{plural(len(report.problems), 'problem')}; "
            "`swarm store repair` quarantines damaged records"
        )


@store_app.command("repair")
def store_repair(store: StoreOption = None, as_json: JsonOption = False) -> int:
    """Back up the store, move damaged records to quarantine, keep every intact one.

    Run it while no swarm process uses the store.
    """
    try:
        url = store_url(store)
        report = repair_postgres(url) if _is_postgres(store) else repair(_path(store))
    except StoreError as exc:
        raise fail(str(exc), exit_code_of(exc)) from None
    if as_json:
        print_json(report.to_dict())
    else:
        _print_repair(report)
    return EXIT_OK if report.clean else EXIT_FAILED


def _print_repair(report: RepairReport) -> None:
    for action in report.actions:
        print(action)
    for lost in report.lost:
        print(f"lost: {lost}")
    if report.after is not None:
        for problem in report.after.problems:
            print(f"still: {_problem(problem)}")
    print("ok: the store verifies clean" if report.clean else "problems remain (see above)")
