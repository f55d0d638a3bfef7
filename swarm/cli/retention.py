"""``swarm gc``: drop inactive runs, keep what forks still need."""

from __future__ import annotations

from typing import Annotated

import trio
import typer
from rich.console import Console
from rich.table import Table

from ..browse import parse_duration
from ..retention import DEFAULT_MAX_RUNS, GcReport, collect_garbage
from ..stores import open_store
from .app import EXIT_OK, app
from .common import JsonOption, StoreOption, print_json, store_url


@app.command()
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
    lifetime = parse_duration(ttl)

    async def main() -> GcReport:
        async with open_store(store_url(store)) as db:
            return await collect_garbage(db, ttl=lifetime, max_runs=max_runs, dry_run=dry_run)

    report = trio.run(main)
    if as_json:
        print_json(report.to_dict())
        return EXIT_OK
    verb = "would delete" if dry_run else "deleted"
    table = Table(title=f"{verb} {len(report.delete)} runs", title_justify="left")
    for column in ("run", "last activity", "why"):
        table.add_column(column)
    for verdict in report.delete:
        table.add_row(verdict.run_id, verdict.last_activity[:19].replace("T", " "), verdict.reason)
    for verdict in report.protected:
        table.add_row(verdict.run_id, verdict.last_activity[:19].replace("T", " "), verdict.reason)
    console = Console()
    console.print(table)
    console.print(
        f"{report.kept} runs kept ({len(report.protected)} of them because forks need them)"
    )
    return EXIT_OK
