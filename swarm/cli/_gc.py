"""``swarm gc``: drop inactive runs, keep what forks still need."""

from __future__ import annotations

from typing import Annotated

import trio
import typer
from rich.console import Console
from rich.table import Table

from ..timeline import DEFAULT_MAX_RUNS, GcReport, RunVerdict, collect_garbage, parse_duration
from ._common import NoStore, existing_store, listing, plural, print_json
from ._errors import EXIT_OK
from ._options import JsonOption, StoreOption


def gc(
    ttl: Annotated[
        str, typer.Option("--ttl", help="Drop runs inactive for longer than this (7d, 12h).")
    ] = "7d",
    max_runs: Annotated[
        int,
        typer.Option("--max-runs", min=0, help="Keep at most this many most recently active runs."),
    ] = DEFAULT_MAX_RUNS,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be deleted.")
    ] = False,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> int:
    """Delete old runs (activity-based TTL, LRU cap); never a parent of a kept fork."""
    lifetime = parse_duration(ttl, "--ttl")

    async def main() -> GcReport:
        # No store, nothing to collect: never create an empty one (folders and all) to say
        # so; a dry run only reads, and writes nothing at all.
        async with existing_store(store, "nothing to collect", writes=not dry_run) as db:
            return await collect_garbage(db, ttl=lifetime, max_runs=max_runs, dry_run=dry_run)

    try:
        report = trio.run(main)
    except NoStore as missing:
        if as_json:
            print_json(GcReport(dry_run=dry_run, ttl=lifetime, max_runs=max_runs).to_dict())
        else:
            print(missing)
        return EXIT_OK
    if as_json:
        print_json(report.to_dict())
        return EXIT_OK
    console = Console()
    verb, keep = ("would delete", "would keep") if dry_run else ("deleted", "kept")
    if report.delete:
        console.print(_verdicts(f"{verb} {plural(len(report.delete), 'run')}", report.delete))
    else:
        console.print(f"{verb} no runs")
    # What stays is listed apart from what goes, each under a title that says why.
    if report.protected:
        title = f"{keep} {plural(len(report.protected), 'run')} that forks still need"
        console.print(_verdicts(title, report.protected))
    if report.running:
        title = f"{keep} {plural(len(report.running), 'run')} running in another process"
        console.print(_verdicts(title, report.running))
    console.print(f"{keep} {plural(report.kept, 'run')} in all")
    return EXIT_OK


def _verdicts(title: str, verdicts: list[RunVerdict]) -> Table:
    table = listing(title)
    table.add_column("run", no_wrap=True)
    table.add_column("last activity", no_wrap=True)
    table.add_column("why", ratio=1, min_width=16, overflow="fold")
    for verdict in verdicts:
        table.add_row(verdict.run_id, verdict.last_activity[:19].replace("T", " "), verdict.reason)
    return table
