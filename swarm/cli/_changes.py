"""``swarm changes``, ``swarm merge`` and ``swarm worktrees list|prune``: what agents in
worktrees of their own changed, bringing it together, and cleaning up after."""

from __future__ import annotations

import os
import shlex
from collections import Counter
from typing import Annotated, Any

import trio
import typer
from rich.console import Console

from ..errors import NotFoundError, UsageError
from ..plan import Priority
from ..records import AgentResult, AgentStatus, RunRecord
from ..stores import Store
from ..timeline import check_run_ref
from ..workspaces import (
    STRATEGIES,
    Candidate,
    MergeReport,
    PruneReport,
    WorkspaceChange,
    WorktreeEntry,
    list_worktrees,
    merge_agents,
    prune,
    repository_root,
)
from ._common import existing_store, listing, lookup_run, plural, print_json
from ._display import print_prune
from ._errors import EXIT_FAILED, EXIT_OK
from ._options import JsonOption, StoreOption

RunArgument = Annotated[
    str, typer.Argument(metavar="RUN", help="Run id, unique prefix or 'latest'.")
]


async def _run_changes(
    db: Store, ref: str, only: list[str] | None
) -> tuple[RunRecord, list[tuple[AgentResult, WorkspaceChange]]]:
    """The run and, in priority order, each agent's change (agents in worktrees only)."""
    run = await lookup_run(db, ref)
    if not run.workspace:
        raise UsageError(
            f"run {run.run_id} had no agent in a worktree of its own (workspace: worktree), "
            "so it left no changes to show or merge"
        )
    agents = {a.agent_id: a for a in await db.list_agents(run.run_id)}
    unknown = [a for a in only or () if a not in agents]
    if unknown:
        raise NotFoundError(
            f"run {run.run_id} has no agent {unknown[0]!r} (agents: {', '.join(agents)})"
        )
    changes = [
        (agents[agent_id], WorkspaceChange.from_dict(workspace))
        for agent_id in _priority_order(run)
        if agent_id in agents
        and (workspace := agents[agent_id].workspace)
        and (only is None or agent_id in only)
    ]
    return run, changes


def _priority_order(run: RunRecord) -> list[str]:
    """The plan's agents, critical first, in plan order within a priority."""
    specs = [a for a in run.plan.get("agents") or () if isinstance(a, dict)]

    def rank(item: tuple[int, dict[str, Any]]) -> tuple[int, int]:
        try:
            return Priority(item[1].get("priority") or "medium").rank, item[0]
        except ValueError:
            return Priority.MEDIUM.rank, item[0]

    return [str(spec.get("id")) for _, spec in sorted(enumerate(specs), key=rank)]


def _overlaps(changes: list[tuple[AgentResult, WorkspaceChange]]) -> dict[str, list[str]]:
    """Files changed by more than one agent: the likely conflicts."""
    count = Counter(f for _, change in changes for f in change.files)
    return {
        f: [a.agent_id for a, change in changes if f in change.files]
        for f, n in sorted(count.items())
        if n > 1
    }


async def _stored_patch(db: Store, agent: AgentResult) -> dict[str, Any] | None:
    """The change the agent's final checkpoint keeps (with its patch)."""
    if agent.session_id is None:
        return None
    for checkpoint in await db.list_checkpoints(agent.session_id):
        if checkpoint.kind == "final" and checkpoint.workspace:
            return checkpoint.workspace
    return None


def changes(
    run_id: RunArgument,
    agent_id: Annotated[
        str | None, typer.Argument(metavar="[AGENT]", help="Only this agent.")
    ] = None,
    patch: Annotated[bool, typer.Option("--patch", help="Show each agent's patch too.")] = False,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> int:
    """What each agent in a worktree changed: its branch, commit and diff stat; files
    changed by more than one agent are flagged as likely conflicts."""
    check_run_ref(run_id)

    async def main() -> tuple[RunRecord, list[dict[str, Any]], dict[str, list[str]]]:
        async with existing_store(store) as db:
            run, found = await _run_changes(db, run_id, [agent_id] if agent_id else None)
            rows = []
            for agent, change in found:
                row: dict[str, Any] = {"agent_id": agent.agent_id, "status": agent.status.value}
                row.update(change.to_dict())
                if patch and change.changed:
                    stored = await _stored_patch(db, agent)
                    row["patch"] = stored.get("patch") if stored else None
                rows.append(row)
            return run, rows, _overlaps(found)

    run, rows, overlaps = trio.run(main)
    if as_json:
        document = {
            "run_id": run.run_id,
            "repository": run.workspace and run.workspace.get("repository"),
            "base_commit": run.workspace and run.workspace.get("base_commit"),
            "agents": rows,
            "likely_conflicts": overlaps,
        }
        print_json(document)
        return EXIT_OK
    assert run.workspace is not None
    console = Console(highlight=False)
    repository, base = run.workspace.get("repository"), str(run.workspace.get("base_commit"))
    console.print(f"run {run.run_id}: agents' changes in {repository} (base {base[:12]})")
    for row in rows:
        change = WorkspaceChange.from_dict(row)
        flagged = [f for f in change.files if f in overlaps]
        console.print(
            f"\n[bold]{row['agent_id']}[/] ({row['status']}) {change.branch}: "
            + (f"commit {change.commit[:12]}" if change.commit else "no change")
        )
        if change.diff_stat:
            console.print(change.diff_stat, markup=False)
        for name in flagged:
            others = ", ".join(a for a in overlaps[name] if a != row["agent_id"])
            console.print(f"  likely conflict: {name} (also changed by {others})", markup=False)
        if patch and change.changed:
            _print_patch(console, row.get("patch"), change, str(repository))
    if not rows:
        console.print("no agent of this run worked in a worktree" if not agent_id else "")
    if overlaps and not agent_id:
        console.print(
            f"\n{plural(len(overlaps), 'file')} changed by more than one agent: "
            + ", ".join(overlaps)
        )
    return EXIT_OK


def _print_patch(console: Console, text: Any, change: WorkspaceChange, repository: str) -> None:
    whole = f"git -C {repository} diff {change.start[:12]} {change.head[:12]}"
    if not isinstance(text, str):
        console.print(f"(no patch stored; it is in git: {whole})", markup=False)
        return
    console.print(text.rstrip("\n"), markup=False)
    if change.patch_truncated:
        console.print(
            f"(patch cut at {len(text.encode())} of {change.patch_bytes} bytes; "
            f"all of it: {whole})",
            markup=False,
        )


def merge(
    run_id: RunArgument,
    into: Annotated[
        str | None,
        typer.Option(
            "--into",
            metavar="BRANCH",
            help="Merge into this existing branch (default: a new branch swarm/<run>/merged).",
        ),
    ] = None,
    agents: Annotated[
        str | None,
        typer.Option("--agents", metavar="A,B", help="Only these agents (comma-separated)."),
    ] = None,
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            metavar="merge|squash|cherry-pick",
            help="A merge commit per agent, one squashed commit per agent, or only the "
            "agent's own commits replayed (not those of the agent it forked from).",
        ),
    ] = "merge",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every merge; change nothing.")
    ] = False,
    update_checkout: Annotated[
        bool,
        typer.Option(
            "--update-checkout",
            help="With --into a branch that is checked out: fast-forward that (clean) "
            "checkout to the result too.",
        ),
    ] = False,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> int:
    """Merge the succeeded agents' branches, in priority order, each checked first: an
    agent whose change conflicts is left out and reported with its files."""
    check_run_ref(run_id)
    if strategy not in STRATEGIES:
        raise UsageError(
            f"--strategy: invalid value {strategy!r} (expected {', '.join(STRATEGIES)})"
        )
    only = [a.strip() for a in agents.split(",") if a.strip()] if agents is not None else None

    async def main() -> tuple[RunRecord, MergeReport, list[str]]:
        async with existing_store(store) as db:
            run, found = await _run_changes(db, run_id, only)
        assert run.workspace is not None
        left_out = [
            f"{a.agent_id} ({a.status.value})"
            for a, _ in found
            if a.status is not AgentStatus.SUCCEEDED
        ]
        if only is not None and left_out:
            raise UsageError(
                "--agents: only succeeded agents' branches merge; "
                f"{', '.join(left_out)} did not succeed"
            )
        candidates = [Candidate(a.agent_id, c) for a, c in found if a.succeeded]
        report = await merge_agents(
            str(run.workspace["repository"]),
            run.run_id,
            candidates,
            base_commit=str(run.workspace["base_commit"]),
            into=into,
            strategy=strategy,
            dry_run=dry_run,
            update_checkout=update_checkout,
        )
        return run, report, left_out

    run, report, left_out = trio.run(main)
    if as_json:
        print_json({"run_id": run.run_id, **report.to_dict(), "not_succeeded": left_out})
        return EXIT_OK if not report.conflicted else EXIT_FAILED
    verb = "would merge" if dry_run else "merged"
    for step in report.steps:
        if step.outcome == "merged":
            print(f"{verb} {step.agent_id} ({step.branch})")
        elif step.outcome == "conflict":
            print(
                f"left out {step.agent_id} ({step.branch}): it conflicts in "
                + ", ".join(step.conflicts)
            )
        else:
            print(f"nothing to merge from {step.agent_id} ({step.outcome})")
    for agent in left_out:
        print(f"not merged: {agent}, which did not succeed")
    made = "would be" if dry_run else "is now"
    where = "new branch" if report.created else "branch"
    if report.merged or report.created:
        print(
            f"{where} {report.target} {made} at {report.head[:12]} "
            f"({plural(len(report.merged), 'agent')} merged, {report.strategy})"
        )
    else:
        print(f"branch {report.target} unchanged")
    if report.checkout_updated:
        print(f"{report.checkout_updated} fast-forwarded to it")
    elif report.merged and not dry_run:
        repository = shlex.quote(str((run.workspace or {}).get("repository")))
        print(f"to take it into your branch: git -C {repository} merge {report.target}")
    return EXIT_OK if not report.conflicted else EXIT_FAILED


worktrees_app = typer.Typer(
    help="The git worktrees and branches agents with workspace: worktree left.",
    no_args_is_help=True,
)

RepoOption = Annotated[
    str | None,
    typer.Option("--repo", metavar="DIR", help="The repository (default: the current one)."),
]


async def _root(repo: str | None) -> str:
    where = repo or os.getcwd()
    root = await repository_root(where)
    if root is None:
        raise UsageError(f"--repo: {where} is not inside a git repository")
    return root


async def _agent_records(store: str | None, run_ids: set[str]) -> dict[str, dict[str, AgentResult]]:
    """The agents of each run id the store knows (a run it does not know is absent)."""
    found: dict[str, dict[str, AgentResult]] = {}
    async with existing_store(store, "no runs to match worktrees with") as db:
        for run_id in sorted(run_ids):
            if await db.get_run(run_id) is not None:
                found[run_id] = {a.agent_id: a for a in await db.list_agents(run_id)}
    return found


def _state_of(entry: WorktreeEntry, records: dict[str, dict[str, AgentResult]]) -> str:
    agents = records.get(entry.run_id)
    if agents is None:
        return "run not in the store"
    agent = agents.get(entry.agent_id)
    return agent.status.value if agent is not None else "agent not in its run"


@worktrees_app.command("list")
def worktrees_list(
    repo: RepoOption = None, store: StoreOption = None, as_json: JsonOption = False
) -> int:
    """swarm's worktrees in a repository, with their run's and agent's state."""

    async def main() -> tuple[str, list[WorktreeEntry], dict[str, dict[str, AgentResult]]]:
        root = await _root(repo)
        entries = await list_worktrees(root)
        return root, entries, await _agent_records(store, {e.run_id for e in entries})

    root, entries, records = trio.run(main)
    if as_json:
        print_json([{**e.to_dict(), "state": _state_of(e, records)} for e in entries])
        return EXIT_OK
    if not entries:
        print(f"no swarm worktrees in {root}")
        return EXIT_OK
    table = listing(f"swarm worktrees in {root}")
    for column in ("run", "agent", "branch", "agent state", "worktree"):
        table.add_column(column, overflow="fold")
    for e in entries:
        notes = ("folder gone; " if e.missing else "") + ("uncommitted changes" if e.dirty else "")
        table.add_row(
            e.run_id,
            e.agent_id,
            e.branch or "-",
            _state_of(e, records) + (f" ({notes.strip('; ')})" if notes else ""),
            e.path,
        )
    Console().print(table)
    return EXIT_OK


@worktrees_app.command("prune")
def worktrees_prune(
    repo: RepoOption = None,
    store: StoreOption = None,
    orphans: Annotated[
        bool,
        typer.Option(
            "--orphans",
            help="Also remove the worktrees and agent branches of runs this store does not "
            "hold (deleted runs; careful: another store's runs look the same).",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Remove worktrees with uncommitted changes too.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
    as_json: JsonOption = False,
) -> int:
    """Remove finished agents' worktrees (their changes are commits on their branches);
    keep those a resume needs, and say why each kept one stays."""

    async def main() -> PruneReport:
        root = await _root(repo)
        entries = await list_worktrees(root)
        records = await _agent_records(store, {e.run_id for e in entries})

        def keep(entry: WorktreeEntry) -> str | None:
            agents = records.get(entry.run_id)
            if agents is None:
                return None if orphans else "its run is not in this store (see --orphans)"
            agent = agents.get(entry.agent_id)
            if agent is None or agent.status.is_final:
                return None
            return f"its agent is {agent.status.value}: `swarm resume {entry.run_id}` needs it"

        doomed = {e.run_id for e in entries if e.run_id not in records} if orphans else set()
        return await prune(
            root, keep_worktree=keep, doomed_runs=doomed, force=force, dry_run=dry_run
        )

    report = trio.run(main)
    if as_json:
        print_json(report.to_dict())
        return EXIT_OK
    print_prune(report)
    return EXIT_OK
