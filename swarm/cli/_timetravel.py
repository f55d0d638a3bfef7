"""``swarm checkpoints list|show|create|diff`` and ``swarm fork``: time travel from the CLI."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Any

import trio
import typer
from rich.console import Console
from rich.table import Table

from .._names import secret_id_problem
from ..backends import RehearsalSetup
from ..errors import UsageError
from ..plan import DEFAULT_MAX_CHECKPOINTS, Plan
from ..records import Checkpoint, RunStatus, SwarmResult
from ..timeline import (
    CheckpointDiff,
    check_run_ref,
    checkpoint_origin,
    create_checkpoint,
    diff_checkpoints,
    find_checkpoint,
    find_session,
    fork_plan,
)
from ..workspaces import WorkspaceChange
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
from ._display import since_process_start, summary_table
from ._driver import execute_plan, print_see_again
from ._errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from ._options import JsonOption, RehearseConfigOption, StoreOption
from ._rehearse import rehearsal_again, rehearsal_backend, require_credentials
from ._telemetry import OtelContentOption, OtelOption, run_observers

checkpoints_app = typer.Typer(help="Checkpoints: points in a session to diff and fork from.")

CheckpointArg = Annotated[
    str, typer.Argument(metavar="CHECKPOINT", help="Checkpoint id, unique prefix or name.")
]


CHECKPOINT_KINDS = ("auto", "final", "fork", "named")


def _short(value: str | None, width: int = 8) -> str:
    return value[:width] if value else "-"


@dataclass(frozen=True, slots=True)
class _Prefixes:
    checkpoints: dict[str, str]
    sessions: dict[str, str]


def _checkpoints_table(checkpoints: list[Checkpoint], title: str, short: _Prefixes) -> Table:
    # Ids are the shortest prefixes that stay unique (what `show`/`diff`/`fork` accept);
    # ids and figures never wrap, the note folds.
    table = listing(title)
    table.add_column("checkpoint", no_wrap=True)
    table.add_column("session", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    for column in ("msgs", "tokens", "cost", "files"):
        table.add_column(column, no_wrap=True, justify="right")
    table.add_column("note", ratio=1, min_width=12, overflow="fold")
    for c in checkpoints:
        table.add_row(
            short.checkpoints.get(c.checkpoint_id, c.checkpoint_id),
            short.sessions.get(c.session_id, c.session_id),
            c.kind,
            str(c.message_count),
            str(c.usage.total),
            f"${c.cost_usd:.4f}",
            str(len(c.files_modified)),
            c.description,
        )
    return table


@checkpoints_app.command("list")
def checkpoints_list(
    session: Annotated[
        str | None, typer.Argument(metavar="[SESSION]", help="Session id or unique prefix.")
    ] = None,
    run: Annotated[str | None, typer.Option("--run", help="Only this run's sessions.")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent's session.")] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help=f"{', '.join(CHECKPOINT_KINDS)} (one of them).")
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> int:
    """Checkpoints, oldest first: of one session, of a run, or all of them."""
    check_choice("--kind", kind, CHECKPOINT_KINDS)
    check_run_ref(run)

    async def main() -> tuple[list[Checkpoint], _Prefixes]:
        async with existing_store(store) as db:
            every = await db.list_checkpoints()
            sessions = await db.list_sessions()
            # Short ids are unique among the whole store, so each works as a prefix.
            short = _Prefixes(
                unique_prefixes(c.checkpoint_id for c in every),
                unique_prefixes(s.session_id for s in sessions),
            )
            if session is not None:
                found = await find_session(db, session)
                return [c for c in every if c.session_id == found.session_id], short
            if run is None and agent is None:
                return every, short
            run_id = (await lookup_run(db, run)).run_id if run is not None else None
            wanted = {
                s.session_id
                for s in sessions
                if (run_id is None or s.run_id == run_id) and (agent is None or s.agent_id == agent)
            }
            return [c for c in every if c.session_id in wanted], short

    try:
        checkpoints, short = trio.run(main)
    except NoStore as missing:
        return nothing_listed(missing, as_json=as_json)
    if kind is not None:
        checkpoints = [c for c in checkpoints if c.kind == kind]
    if as_json:
        print_json([c.to_dict() for c in checkpoints])
    else:
        title = plural(len(checkpoints), "checkpoint")
        Console().print(_checkpoints_table(checkpoints, title, short))
    return EXIT_OK


@checkpoints_app.command("show")
def checkpoints_show(
    checkpoint: CheckpointArg, store: StoreOption = None, as_json: JsonOption = False
) -> int:
    """One checkpoint: where it is, what it cost to get there, the files touched."""

    async def main() -> dict[str, Any]:
        async with existing_store(store) as db:
            found = await find_checkpoint(db, checkpoint)
            session, _ = await checkpoint_origin(db, found)
            return {
                **found.to_dict(),
                "run_id": session.run_id,
                "agent_id": session.agent_id,
                "parent_session_id": session.parent_session_id,
            }

    document = trio.run(main)
    if as_json:
        print_json(document)
        return EXIT_OK
    u = document["usage"]
    files = "\n  ".join(document["files_modified"]) or "(none)"
    print(
        f"checkpoint {document['checkpoint_id']} ({document['kind']}) {document['description']}\n"
        f"session    {document['session_id']} (run {document['run_id'] or '-'}, "
        f"agent {document['agent_id'] or 'base'})\n"
        f"message    {document['message_uuid']} (#{document['message_count']} of the history)\n"
        f"tokens     {u['input_tokens']} in / {u['output_tokens']} out / "
        f"{u['cache_creation_tokens'] + u['cache_read_tokens']} cache\n"
        f"cost       ${document['cost_usd']:.4f}\n"
        f"created    {document['created_at']}\n"
        f"files\n  {files}\n"
        + (
            f"git        {WorkspaceChange.from_dict(document['workspace']).describe()}\n"
            if document.get("workspace")
            else ""
        )
        + f"fork it:   swarm fork {document['checkpoint_id'][:12]} --prompt '...'"
    )
    return EXIT_OK


@checkpoints_app.command("create")
def checkpoints_create(
    session: Annotated[str, typer.Argument(metavar="SESSION", help="Session id or prefix.")],
    name: Annotated[str, typer.Option("--name", help="Name of the checkpoint (kept forever).")],
    message: Annotated[
        str | None, typer.Option("--message", help="Message uuid (default: the latest).")
    ] = None,
    max_per_session: Annotated[
        int, typer.Option("--max-per-session", min=1, help="Retention cap of the session.")
    ] = DEFAULT_MAX_CHECKPOINTS,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> int:
    """Take a named checkpoint of a session (retention never drops named ones)."""

    async def main() -> Checkpoint:
        async with existing_store(
            store, "no session to checkpoint; run a plan first", writes=True
        ) as db:
            found = await find_session(db, session)
            return await create_checkpoint(
                db, found.session_id, name, message_uuid=message, max_per_session=max_per_session
            )

    checkpoint = trio.run(main)
    if as_json:
        print_json(checkpoint.to_dict())
    else:
        print(
            f"checkpoint {checkpoint.checkpoint_id} {name!r} at message "
            f"#{checkpoint.message_count} of session {checkpoint.session_id}"
        )
    return EXIT_OK


def _print_diff(diff: CheckpointDiff, show_messages: bool) -> None:
    a, b, u = diff.a, diff.b, diff.usage
    relation = diff.relation
    print(f"a  {a.checkpoint_id} ({a.kind}) #{a.message_count} of session {_short(a.session_id)}")
    print(f"b  {b.checkpoint_id} ({b.kind}) #{b.message_count} of session {_short(b.session_id)}")
    print(f"{relation}; shared history up to message {diff.common_message or '(none)'}")
    print(
        f"messages {diff.messages:+d} (only in a: {len(diff.only_in_a)}, "
        f"only in b: {len(diff.only_in_b)})"
    )
    print(
        f"tokens   {u.total:+d} (in {u.input_tokens:+d}, out {u.output_tokens:+d}, "
        f"cache {u.cache_creation_tokens + u.cache_read_tokens:+d})"
    )
    print(f"cost     {diff.cost_usd:+.4f} USD")
    for label, files in (
        ("added", diff.files_added),
        ("removed", diff.files_removed),
        ("modified", diff.files_modified),
    ):
        print(f"files {label:<9}" + (", ".join(files) if files else "-"))
    for side, checkpoint in (("a", a), ("b", b)):
        if checkpoint.workspace:  # an agent's final checkpoint, made in a worktree
            print(f"git {side}    " + WorkspaceChange.from_dict(checkpoint.workspace).describe())
    if show_messages:
        for side, messages in (("a", diff.only_in_a), ("b", diff.only_in_b)):
            for m in messages:
                print(f"  {side} {m.role:<9} {m.uuid}  {m.content[:70]!r}")


@checkpoints_app.command("diff")
def checkpoints_diff(
    a: Annotated[str, typer.Argument(metavar="A", help="Checkpoint id, prefix or name.")],
    b: Annotated[str, typer.Argument(metavar="B", help="Checkpoint id, prefix or name.")],
    messages: Annotated[
        bool, typer.Option("--messages", help="List the messages only one side has.")
    ] = False,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> int:
    """What changed from A to B: messages, tokens, cost, files added/removed/modified."""

    async def main() -> CheckpointDiff:
        async with existing_store(store) as db:
            first = await find_checkpoint(db, a)
            second = await find_checkpoint(db, b)
            return await diff_checkpoints(db, first, second)

    diff = trio.run(main)
    if as_json:
        document = diff.to_dict()
        if messages:
            document["messages_only_in_a"] = [m.to_dict() for m in diff.only_in_a]
            document["messages_only_in_b"] = [m.to_dict() for m in diff.only_in_b]
        print_json(document)
    else:
        _print_diff(diff, messages)
    return EXIT_OK


def fork(
    checkpoint: CheckpointArg,
    prompt: Annotated[str, typer.Option("--prompt", help="What the new branch should do.")],
    backend: Annotated[
        str | None,
        typer.Option("--backend", help="simulated, claude or anthropic (default: the run's)."),
    ] = None,
    agent_id: Annotated[
        str | None, typer.Option("--agent-id", help="Id of the new agent (default: <agent>-fork).")
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="One summary line.")] = False,
    rehearse: Annotated[
        bool | None,
        typer.Option(
            "--rehearse/--no-rehearse",
            help="Run the fork against the bundled fake Messages API (default: when the "
            "checkpoint's run was a rehearsal); --no-rehearse calls the real API.",
        ),
    ] = None,
    rehearse_config: RehearseConfigOption = None,
    otel: OtelOption = False,
    otel_content: OtelContentOption = False,
) -> int:
    """Branch a new session at a checkpoint and run it; the original stays intact."""
    # What the library would refuse too, refused here in terms of the flags.
    if not prompt.strip():
        raise UsageError("the fork needs a prompt (--prompt TEXT)")
    problem = secret_id_problem(agent_id) if agent_id is not None else None
    if problem is not None:
        raise UsageError(f"--agent-id: {problem}")
    url = store_url(store)

    async def prepare() -> tuple[Checkpoint, Plan, RehearsalSetup | None]:
        # Only reads: with no store there is no checkpoint, and nothing is created.
        async with existing_store(store, "no checkpoint to fork; run a plan first") as db:
            found = await find_checkpoint(db, checkpoint)
            session, plan_data = await checkpoint_origin(db, found)
            plan = fork_plan(
                found,
                prompt,
                like=plan_data,
                like_agent=session.agent_id,
                agent_id=agent_id,
                backend=backend,
                store_url=url,
            )
            origin = await db.get_run(session.run_id) if session.run_id else None
            recorded = origin.rehearsal if origin is not None else None
            what = f"the checkpoint's run {origin.run_id}" if origin else "the fork"
            # Naming another backend is a choice against rehearsing; only --rehearse insists.
            setup, note = rehearsal_again(
                recorded if backend in (None, "claude") else None,
                rehearse=rehearse,
                config_file=rehearse_config,
                plan_options=plan.backend.options,
                what=what,
            )
            if setup is not None:
                plan = plan.with_overrides(backend={"name": rehearsal_backend(backend)})
            else:
                require_credentials(plan.backend.name, rehearsed=recorded is not None, what=what)
            if note is not None:
                print(f"swarm: {note}", file=sys.stderr)
            return found, plan, setup

    found, plan, setup = trio.run(prepare)
    progress = "none" if (as_json or quiet) else ("live" if sys.stderr.isatty() else "plain")
    with run_observers(otel, otel_content, to_stderr=as_json) as observers:
        result: SwarmResult = trio.run(
            lambda: execute_plan(
                plan, plan_path=None, progress=progress, rehearsal=setup, observers=observers
            )
        )
    (agent,) = result.agents.values()
    failure = None
    if not agent.succeeded:
        failure = (
            f"the fork failed: agent {agent.agent_id} {agent.status.value}"
            f"{f' ({agent.error})' if agent.error else ''}; checkpoint "
            f"{found.checkpoint_id[:12]} and its session are unchanged"
        )
    if as_json:
        document = result.to_dict()
        document["checkpoint"] = found.to_dict()
        document["session_id"] = agent.session_id
        print_json(document)
    elif quiet:
        outcome = failure or f"new session {agent.session_id}"
        print(f"run {result.run_id}: {result.status.value}; {outcome}")
    else:
        Console().print(
            summary_table(result, rehearsal=setup is not None, waited_s=since_process_start())
        )
        if failure is None:
            print(
                f"new session {agent.session_id} branches from session {found.session_id} "
                f"at message {found.message_uuid} (checkpoint {found.checkpoint_id[:12]}); "
                "the original is unchanged"
            )
        else:
            print(f"swarm: {failure}", file=sys.stderr)
            print_see_again(result.run_id, url)
    if result.status is RunStatus.INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.succeeded else EXIT_FAILED
