"""``swarm runs list|show`` and ``swarm history``: read the store after the run."""

from __future__ import annotations

from typing import Annotated

import trio
import typer
from rich.console import Console
from rich.table import Table

from .._redaction import mask_url
from ..errors import NotFoundError
from ..records import AgentResult, AgentStatus, RunRecord, SwarmResult
from ..stores import history as full_history
from ..timeline import check_run_ref, readable_runs
from ..workspaces import WorkspaceChange
from ._common import (
    NoStore,
    existing_store,
    listing,
    lookup_run,
    nothing_listed,
    print_json,
    store_url,
    warn_damaged_runs,
)
from ._display import summary_table
from ._errors import EXIT_OK
from ._options import JsonOption, StoreOption

runs_app = typer.Typer(help="Runs kept in the store.", no_args_is_help=True)

# The run id already says when a run started (UTC); the created column only shows
# where there is room for it beside every id and figure.
_CREATED_MIN_WIDTH = 100


@runs_app.command("list")
def runs_list(
    store: StoreOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 50,
    as_json: JsonOption = False,
) -> int:
    """Runs in the store, newest first."""

    async def main() -> tuple[list[RunRecord], list[str]]:
        async with existing_store(store) as db:
            return await readable_runs(db, limit=limit)

    try:
        runs, damaged = trio.run(main)
    except NoStore as missing:
        return nothing_listed(missing, as_json=as_json)
    warn_damaged_runs(damaged)
    if as_json:
        print_json([_run_summary(r.to_dict()) for r in runs])
        return EXIT_OK
    console = Console()
    console.print(_runs_table(runs, f"runs in {mask_url(store_url(store))}", console.width))
    return EXIT_OK


def _runs_table(runs: list[RunRecord], title: str, width: int) -> Table:
    # Ids, statuses and figures never wrap (the run id is what every other command
    # needs); the name and backend fold when the terminal is narrow.
    table = listing(title)
    table.add_column("run", no_wrap=True)
    table.add_column("name", ratio=1, min_width=8, overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("backend", overflow="fold")
    table.add_column("agents", no_wrap=True, justify="right")
    table.add_column("wall", no_wrap=True, justify="right")
    created = width >= _CREATED_MIN_WIDTH
    if created:
        table.add_column("created", no_wrap=True)
    for r in runs:
        m = r.metrics
        agents = sum(m.counts.values()) if m else len(r.plan.get("agents", []))
        cells = [
            r.run_id,
            r.name or "",
            r.status.value,
            f"{r.backend} (rehearsal)" if r.rehearsal else r.backend or "",
            str(agents),
            f"{m.wall_s:.2f}s" if m else "-",
        ]
        if created:
            cells.append(r.created_at[:19].replace("T", " "))
        table.add_row(*cells)
    return table


def _run_summary(data: dict[str, object]) -> dict[str, object]:
    data = dict(data)
    data.pop("plan", None)
    return data


@runs_app.command("show")
def runs_show(
    run_id: Annotated[
        str, typer.Argument(metavar="RUN", help="Run id, unique prefix or 'latest'.")
    ],
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> int:
    """One run: its agents, their results and the run's metrics."""
    check_run_ref(run_id)

    async def main() -> None:
        async with existing_store(store) as db:
            run = await lookup_run(db, run_id)
            agents = await db.list_agents(run.run_id)
            result = SwarmResult.from_records(run, agents)
            if as_json:
                document = result.to_dict()
                document["plan"] = run.plan
                document["created_at"], document["ended_at"] = run.created_at, run.ended_at
                print_json(document)
                return
            Console().print(summary_table(result, rehearsal=run.rehearsal is not None))
            for agent in agents:
                if agent.workspace:
                    change = WorkspaceChange.from_dict(agent.workspace)
                    print(f"{agent.agent_id}: {change.describe()}")

    trio.run(main)
    return EXIT_OK


def history(
    run_id: Annotated[
        str, typer.Argument(metavar="RUN", help="Run id, unique prefix or 'latest'.")
    ],
    agent_id: Annotated[str, typer.Argument(metavar="AGENT", help="Agent id in that run.")],
    full: Annotated[
        bool, typer.Option("--full", help="Include the history inherited from the parent session.")
    ] = False,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> int:
    """One agent's messages, with its session lineage (parent session and fork point)."""
    check_run_ref(run_id)

    async def main() -> None:
        async with existing_store(store) as db:
            run = await lookup_run(db, run_id)
            agents = {a.agent_id: a for a in await db.list_agents(run.run_id)}
            if agent_id not in agents:
                known = ", ".join(agents) or "none"
                raise NotFoundError(f"run {run.run_id} has no agent {agent_id!r} (agents: {known})")
            agent = agents[agent_id]
            if agent.session_id is None:
                messages = []
            elif full:
                messages = await full_history(db, agent.session_id)
            else:
                messages = await db.get_messages(agent.session_id)
            if as_json:
                print_json(
                    {
                        "run_id": run.run_id,
                        "agent_id": agent_id,
                        "status": agent.status.value,
                        "session_id": agent.session_id,
                        "parent_session_id": agent.parent_session_id,
                        "fork_point": agent.fork_point,
                        "error": agent.error,
                        "workspace": agent.workspace,
                        "messages": [m.to_dict() for m in messages],
                    }
                )
                return
            console = Console()
            console.print(f"[bold]{agent_id}[/] in run {run.run_id}: {agent.status.value}")
            console.print("\n".join(_about(agent)), markup=False, highlight=False)
            for m in messages:
                tokens = (
                    f" ({m.usage.input_tokens} in / {m.usage.output_tokens} out)"
                    if m.usage.total
                    else ""
                )
                console.print(f"\n[bold]{m.role}[/] {m.uuid} {m.created_at[:19]}{tokens}")
                console.print(m.content, markup=False, highlight=False)

    trio.run(main)
    return EXIT_OK


def _about(agent: AgentResult) -> list[str]:
    """Why the agent ended as it did, and where its session comes from."""
    lines = []
    if agent.error and agent.status is AgentStatus.SKIPPED:
        lines.append(f"reason: {agent.error.removeprefix('skipped: ')}")
    elif agent.error:
        lines.append(f"error: {agent.error}")
    if agent.workspace:
        lines.append(f"worktree: {WorkspaceChange.from_dict(agent.workspace).describe()}")
    if agent.session_id is None:
        lines.append("no session: the agent never started")
        return lines
    lines.append(f"session {agent.session_id}")
    if agent.parent_session_id is None:
        lines.append("not forked: a session of its own")
    else:
        at = f"message {agent.fork_point}" if agent.fork_point else "its end"
        lines.append(f"forked from session {agent.parent_session_id} at {at}")
    return lines
