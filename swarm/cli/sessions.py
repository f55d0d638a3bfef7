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

from ..browse import (
    SessionView,
    find_session,
    list_session_views,
    parse_since,
    session_detail,
    session_tree,
)
from ..export import EXPORT_FORMATS, export_run
from ..records import RunRecord
from ..stores import open_store
from .app import EXIT_OK, app
from .common import JsonOption, StoreOption, find_run, print_json, store_url

sessions_app = typer.Typer(help="Sessions: the base, its forks and forks of forks.")
app.add_typer(sessions_app, name="sessions", no_args_is_help=True)

RunArg = Annotated[str, typer.Argument(metavar="RUN", help="Run id, unique prefix or 'latest'.")]


def _short(value: str | None, width: int = 8) -> str:
    return value[:width] if value else "-"


@sessions_app.command("list")
def sessions_list(
    run: Annotated[str | None, typer.Option("--run", help="Only this run (id or prefix).")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent id.")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Agent status (succeeded, failed, ...) or 'base'."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Started since: 2h, 7d or 2026-01-31.")
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> int:
    """Sessions in the store, oldest first, with their status and lineage."""
    moment = parse_since(since) if since is not None else None

    async def main() -> list[SessionView]:
        async with open_store(store_url(store)) as db:
            run_id = (await find_run(db, run)).run_id if run is not None else None
            return await list_session_views(
                db, run_id=run_id, agent_id=agent, status=status, since=moment
            )

    views = trio.run(main)
    if as_json:
        print_json([v.to_dict() for v in views])
        return EXIT_OK
    table = Table(title=f"{len(views)} sessions", title_justify="left")
    for column in ("session", "run", "agent", "status", "parent", "msgs", "created"):
        table.add_column(column, no_wrap=column != "agent")
    for v in views:
        s = v.session
        table.add_row(
            _short(s.session_id),
            s.run_id or "-",
            s.agent_id or "(base)",
            v.status,
            _short(s.parent_session_id),
            "-" if v.message_count is None else str(v.message_count),
            s.created_at[:19].replace("T", " "),
        )
    Console().print(table)
    return EXIT_OK


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

    async def main() -> tuple[RunRecord, list[SessionView]]:
        async with open_store(store_url(store)) as db:
            record = await find_run(db, run)
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
        async with open_store(store_url(store)) as db:
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


@app.command("export")
def export(
    run: RunArg,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="json, jsonl, csv (messages) or md.")
    ] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    store: StoreOption = None,
) -> int:
    """Export a run with its agents, sessions, messages and checkpoints."""
    if fmt not in EXPORT_FORMATS:
        raise typer.BadParameter(
            f"expected one of {', '.join(EXPORT_FORMATS)}", param_hint="--format"
        )

    async def main() -> str:
        async with open_store(store_url(store)) as db:
            return await export_run(db, await find_run(db, run), fmt)

    text = trio.run(main)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {len(text.encode())} bytes to {output}", err=True)
    return EXIT_OK
