"""``swarm sessions list|tree|show`` and ``swarm export``: browse what the store keeps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import trio
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from ..records import AgentStatus, RunRecord
from ..stores import sqlite_path
from ..timeline import (
    EXPORT_FORMATS,
    SessionView,
    check_run_ref,
    export_run,
    find_session,
    list_session_views,
    parse_since,
    session_detail,
    session_tree,
)
from ._common import (
    NoStore,
    check_choice,
    existing_store,
    listing,
    lookup_run,
    nothing_listed,
    plural,
    print_json,
    store_url,
    unique_prefixes,
)
from ._errors import EXIT_OK
from ._options import JsonOption, StoreOption
from ._output_files import check_output, write_output

sessions_app = typer.Typer(help="Sessions: the base, its forks and forks of forks.")

RunArg = Annotated[str, typer.Argument(metavar="RUN", help="Run id, unique prefix or 'latest'.")]
# What --status can match: an agent's status, "base", or "unknown" (no agent record).
SESSION_STATUSES = ("base", *(s.value for s in AgentStatus), "unknown")


def _short(value: str | None, width: int = 8) -> str:
    return value[:width] if value else "-"


@sessions_app.command("list")
def sessions_list(
    run: Annotated[str | None, typer.Option("--run", help="Only this run (id or prefix).")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent id.")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help=f"{', '.join(SESSION_STATUSES[:-1])} or {SESSION_STATUSES[-1]}."
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Started since: 2h, 7d or 2026-01-31.")
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> int:
    """Sessions in the store, oldest first, with their status and lineage, one table a run."""
    check_choice("--status", status, SESSION_STATUSES)
    check_run_ref(run)
    moment = parse_since(since, what="--since") if since is not None else None

    async def main() -> tuple[list[SessionView], dict[str, str]]:
        async with existing_store(store) as db:
            run_id = (await lookup_run(db, run)).run_id if run is not None else None
            views = await list_session_views(
                db, run_id=run_id, agent_id=agent, status=status, since=moment
            )
            # Short ids stay unique among every session, so each one works as a prefix.
            return views, unique_prefixes(s.session_id for s in await db.list_sessions())

    try:
        views, short = trio.run(main)
    except NoStore as missing:
        return nothing_listed(missing, as_json=as_json)
    if as_json:
        print_json([v.to_dict() for v in views])
        return EXIT_OK
    console = Console()
    by_run: dict[str | None, list[SessionView]] = {}
    for v in views:
        by_run.setdefault(v.session.run_id, []).append(v)
    if not by_run:
        console.print("0 sessions")
    for run_id, group in by_run.items():
        title = f"{'run ' + run_id if run_id else 'no run'}: {plural(len(group), 'session')}"
        console.print(_sessions_table(group, title, short))
    return EXIT_OK


def _sessions_table(views: list[SessionView], title: str, short: dict[str, str]) -> Table:
    # One table a run, so the run id is in its title, in full, and not squeezed into
    # a column; ids and statuses never wrap, agent ids fold.
    table = listing(title)
    table.add_column("session", no_wrap=True)
    table.add_column("agent", ratio=1, min_width=8, overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("parent", no_wrap=True)
    table.add_column("msgs", no_wrap=True, justify="right")
    table.add_column("created", no_wrap=True)
    for v in views:
        s = v.session
        parent = s.parent_session_id
        table.add_row(
            short.get(s.session_id, s.session_id),
            s.agent_id or "(base)",
            v.status,
            short.get(parent, parent) if parent else "-",
            "-" if v.message_count is None else str(v.message_count),
            s.created_at[:19].replace("T", " "),
        )
    return table


def _label(view: SessionView, run: RunRecord) -> str:
    s = view.session
    parts = [f"[bold]{escape(s.agent_id or 'base')}[/]", f"({view.status})", _short(s.session_id)]
    if view.message_count is not None:
        parts.append(f"{view.message_count} msgs")
    if s.parent_session_id is not None:
        parts.append(f"forked at {_short(s.fork_point) if s.fork_point else 'end'}")
    if s.run_id != run.run_id:
        parts.append(f"(run {s.run_id or '-'})")
    return " · ".join([parts[0], " ".join(parts[1:3]), *parts[3:]])


def _grow(tree: Tree, view: SessionView, run: RunRecord) -> None:
    branch = tree.add(_label(view, run))
    for child in view.children:
        _grow(branch, child, run)


@sessions_app.command("tree")
def sessions_tree(run: RunArg, store: StoreOption = None, as_json: JsonOption = False) -> int:
    """The lineage tree of a run: base, forks, forks of forks (and later `swarm fork`s)."""
    check_run_ref(run)

    async def main() -> tuple[RunRecord, list[SessionView]]:
        async with existing_store(store) as db:
            record = await lookup_run(db, run)
            return record, await session_tree(db, record)

    record, roots = trio.run(main)
    if as_json:
        print_json({"run_id": record.run_id, "roots": [r.to_dict(tree=True) for r in roots]})
        return EXIT_OK
    tree = Tree(f"run {record.run_id} ({record.status.value})")
    for root in roots:
        _grow(tree, root, record)
    Console().print(tree)
    return EXIT_OK


@sessions_app.command("show")
def sessions_show(
    session: Annotated[str, typer.Argument(metavar="ID", help="Session id or unique prefix.")],
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> int:
    """One session: metadata, lineage from its root, checkpoints and the forks made from it."""

    async def main() -> dict[str, Any]:
        async with existing_store(store) as db:
            return await session_detail(db, await find_session(db, session))

    data = trio.run(main)
    if as_json:
        print_json(data)
        return EXIT_OK
    meta = data["metadata"]
    print(
        f"session  {data['session_id']} ({data['status']})\n"
        f"run      {data['run_id'] or '-'}, agent {data['agent_id'] or '(base)'}, "
        f"backend {data['backend']}, model {data['model'] or meta.get('model') or '-'}\n"
        f"messages {data['own_message_count']} of its own, "
        f"{data['message_count'] if data['message_count'] is not None else '?'} in its history\n"
        f"created  {data['created_at']}"
    )
    for key in sorted(meta):
        print(f"  {key}: {meta[key]}")
    print("lineage:")
    for link in data["lineage"]:
        at = f" at {_short(link['fork_point'])}" if link["fork_point"] else ""
        print(f"  {link['session_id']} ({link['agent_id'] or 'base'}{at})")
    print(f"checkpoints: {len(data['checkpoints'])}")
    for c in data["checkpoints"]:
        print(
            f"  {c['checkpoint_id'][:12]} {c['kind']:<6} #{c['message_count']} {c['description']}"
        )
    print(f"forks made from it: {len(data['children'])}")
    for link in data["children"]:
        print(f"  {link['session_id']} (run {link['run_id'] or '-'}, {link['agent_id'] or '-'})")
    return EXIT_OK


def export(
    run: RunArg,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="json, jsonl, csv (messages) or md.")
    ] = "json",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write here instead of stdout (never over the store or any SQLite file).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace --output if it exists (never a database).")
    ] = False,
    store: StoreOption = None,
) -> int:
    """Export a run with its agents, sessions, messages and checkpoints."""
    check_choice("--format", fmt, EXPORT_FORMATS)
    check_run_ref(run)
    in_use = sqlite_path(store_url(store))
    if output is not None:  # refused before the store is read, not after
        check_output(output, option="--output", force=force, store=in_use)

    async def main() -> str:
        async with existing_store(store) as db:
            return await export_run(db, await lookup_run(db, run), fmt)

    text = trio.run(main)
    if output is None:
        typer.echo(text, nl=False)
        return EXIT_OK
    write_output(output, text, option="--output", force=force, store=in_use)
    typer.echo(f"wrote {len(text.encode())} bytes to {output}", err=True)
    return EXIT_OK
