"""``swarm store verify`` and ``swarm store repair``: check the store, quarantine damage."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import UsageError
from ..stores import sqlite_path
from ..stores.integrity import VerifyReport, verify
from ..stores.repair import repair
from .app import EXIT_FAILED, EXIT_OK, app
from .common import JsonOption, StoreOption, print_json, store_url

store_app = typer.Typer(help="Check and repair the store.", no_args_is_help=True)
app.add_typer(store_app, name="store")


def _path(store: str | None) -> Path:
    url = store_url(store)
    path = sqlite_path(url)
    if path is None:
        raise UsageError(f"store {url!r} lives in memory: there is no file to check")
    return path


@store_app.command("verify")
def store_verify(store: StoreOption = None, as_json: JsonOption = False) -> int:
    """Check every record's checksum and the file itself; exit 1 if anything is wrong."""
    report = verify(_path(store))
    if as_json:
        print_json(report.to_dict())
    else:
        _print_verify(report)
    return EXIT_OK if report.clean else EXIT_FAILED


def _print_verify(report: VerifyReport) -> None:
    counts = ", ".join(f"{table} {n}" for table, n in report.counts.items()) or "no tables"
    print(f"{report.path}: schema v{report.schema_version}; {counts}")
    if report.quarantined:
        held = ", ".join(f"{table} {n}" for table, n in report.quarantined.items())
        print(f"in quarantine: {held}")
    for note in report.notes:
        print(f"note: {note}")
    for problem in report.problems:
        print(f"{problem.kind}: {problem}")
    if report.clean:
        print("ok: every record verified")
    else:
        print(
            f"{len(report.problems)} problem(s); `swarm store repair` quarantines damaged records"
        )


@store_app.command("repair")
def store_repair(store: StoreOption = None, as_json: JsonOption = False) -> int:
    """Back up the store, move damaged records to quarantine, keep every intact one.

    Run it while no swarm process uses the store.
    """
    report = repair(_path(store))
    if as_json:
        print_json(report.to_dict())
    else:
        for action in report.actions:
            print(action)
        for lost in report.lost:
            print(f"lost: {lost}")
        if report.after is not None:
            for problem in report.after.problems:
                print(f"still: {problem.kind}: {problem}")
        print("ok: the store verifies clean" if report.clean else "problems remain (see above)")
    return EXIT_OK if report.clean else EXIT_FAILED
