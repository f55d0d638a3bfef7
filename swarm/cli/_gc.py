"""``swarm gc``: drop inactive runs, keep what forks still need."""

from __future__ import annotations

from typing import Annotated

import trio
import typer
from rich.console import Console
from rich.table import Table

from ..timeline import DEFAULT_MAX_RUNS, GcReport, RunVerdict, collect_garbage, parse_duration
from ..workspaces import PruneReport, RepoState, prune, repository_root
from ._common import NoStore, existing_store, listing, plural, print_json
from ._display import print_prune
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

    async def main() -> tuple[GcReport, list[PruneReport]]:
        # No store, nothing to collect: never create an empty one (folders and all) to say
        # so; a dry run only reads, and writes nothing at all.
        async with existing_store(store, "nothing to collect", writes=not dry_run) as db:
            # The repositories of runs about to go, read while their records exist.
            plan = await collect_garbage(db, ttl=lifetime, max_runs=max_runs, dry_run=True)
            repos: dict[str, dict[str, str]] = {}
            for verdict in plan.delete:
                record = await db.get_run(verdict.run_id)
                if record is not None and record.workspace:
                    repo = RepoState.from_dict(record.workspace)
                    repos.setdefault(repo.root, {})[record.run_id] = repo.base_commit
            report = plan if dry_run else await collect_garbage(db, ttl=lifetime, max_runs=max_runs)
        gone = {v.run_id for v in report.delete}
        pruned = []
        for root, runs in sorted(repos.items()):
            doomed = {run: base for run, base in runs.items() if run in gone}
            if doomed and await repository_root(root) is not None:
                pruned.append(
                    await prune(
                        root,
                        keep_worktree=lambda _: None,
                        doomed_runs=set(doomed),
                        base_commits=doomed,
                        only_runs=set(doomed),
                        dry_run=dry_run,
                    )
                )
        return report, pruned

    try:
        report, pruned = trio.run(main)
    except NoStore as missing:
        if as_json:
            print_json(GcReport(dry_run=dry_run, ttl=lifetime, max_runs=max_runs).to_dict())
        else:
            print(missing)
        return EXIT_OK
    if as_json:
        print_json({**report.to_dict(), "workspaces": [p.to_dict() for p in pruned]})
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
    for workspaces in pruned:  # the worktrees and branches of the runs that went
        print_prune(workspaces)
    return EXIT_OK


def _verdicts(title: str, verdicts: list[RunVerdict]) -> Table:
    table = listing(title)
    table.add_column("run", no_wrap=True)
    table.add_column("last activity", no_wrap=True)
    table.add_column("why", ratio=1, min_width=16, overflow="fold")
    for verdict in verdicts:
        table.add_row(verdict.run_id, verdict.last_activity[:19].replace("T", " "), verdict.reason)
    return table
