"""``swarm runs list|show`` and ``swarm history``: read the store after the run."""

from __future__ import annotations

from typing import Annotated

import trio
import typer
from rich.console import Console
from rich.table import Table

from ..errors import NotFoundError
from ..lineage import history as full_history
from ..records import SwarmResult
from ..stores import open_store
from .app import EXIT_OK, app, runs_app
from .common import JsonOption, StoreOption, find_run, print_json, store_url
from .display import summary_table


@runs_app.command("list")
def runs_list(
    store: StoreOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 50,
    as_json: JsonOption = False,
) -> int:
    """Runs in the store, newest first."""

    async def main() -> None:
        async with open_store(store_url(store)) as db:
            runs = await db.list_runs(limit=limit)
            if as_json:
                print_json([_run_summary(r.to_dict()) for r in runs])
                return
            table = Table(title=f"runs in {store_url(store)}", title_justify="left")
            for column in ("run", "name", "status", "backend", "agents", "wall", "created"):
                table.add_column(column)
            for r in runs:
                m = r.metrics
                agents = sum(m.counts.values()) if m else len(r.plan.get("agents", []))
                table.add_row(
                    r.run_id,
                    r.name or "",
                    r.status.value,
                    r.backend or "",
                    str(agents),
                    f"{m.wall_s:.2f}s" if m else "-",
                    r.created_at[:19].replace("T", " "),
                )
            Console().print(table)

    trio.run(main)
    return EXIT_OK


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

    async def main() -> None:
        async with open_store(store_url(store)) as db:
            run = await find_run(db, run_id)
            agents = await db.list_agents(run.run_id)
            result = SwarmResult.from_records(run, agents)
            if as_json:
                document = result.to_dict()
                document["plan"] = run.plan
                document["created_at"], document["ended_at"] = run.created_at, run.ended_at
                print_json(document)
                return
            Console().print(summary_table(result))

    trio.run(main)
    return EXIT_OK


@app.command()
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

    async def main() -> None:
        async with open_store(store_url(store)) as db:
            run = await find_run(db, run_id)
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
                        "messages": [m.to_dict() for m in messages],
                    }
                )
                return
            console = Console()
            console.print(
                f"[bold]{agent_id}[/] in run {run.run_id}: {agent.status.value}\n"
                f"session {agent.session_id or '-'}\n"
                f"forked from {agent.parent_session_id or '-'} at {agent.fork_point or 'its end'}"
            )
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
