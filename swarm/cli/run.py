"""``swarm run`` and ``swarm validate`` / ``swarm schema``."""

from __future__ import annotations

import json
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import trio
import typer
from rich.console import Console

from .._redaction import mask_url, redact_plan
from ..backends import RehearsalSetup, open_backend
from ..engine import ExecutorOptions, ParallelSwarmExecutor, needs_store, store_problems
from ..errors import PlanError, StoreError
from ..events import SwarmEvent
from ..plan import Plan, PlanSource, plan_json_schema, read_plan
from ..records import RunStatus, SwarmResult
from ..stores import MemoryStore, SQLiteStore, open_store, parse_store_url
from ..timeline import expected_durations_from_store
from ._rehearse import rehearsal_backend
from .app import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, app
from .common import JsonOption, RehearseConfigOption, StoreOption, print_json, store_url
from .display import show_progress, summary_table

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Configuration merged under the plan (default: ./configs/default.yaml, "
        "else the one packaged with swarm).",
    ),
]


def _load(plan_path: Path, config: Path | None) -> tuple[Plan, PlanSource]:
    return read_plan(plan_path, config_path=config)


def apply_overrides(
    plan: Plan,
    *,
    max_parallel: int | None = None,
    mode: str | None = None,
    backend: str | None = None,
    store: str | None = None,
) -> Plan:
    """The plan with command-line overrides applied (validated like the plan itself)."""
    given = {
        ("execution", "max_parallel", "--max-parallel"): max_parallel,
        ("execution", "mode", "--mode"): mode,
        ("backend", "name", "--backend"): backend,
        ("store", "url", "--store"): store,
    }
    sections: dict[str, dict[str, Any]] = {}
    flags: dict[str, str] = {}  # errors name the flag, not the plan field it set
    for (section, field, flag), value in given.items():
        if value is not None:
            sections.setdefault(section, {})[field] = value
            flags[f"{section}.{field}"] = flag
    return plan.with_overrides(flags=flags, **sections) if sections else plan


async def _watch_interrupts(executor: ParallelSwarmExecutor, hard: trio.CancelScope) -> None:
    """First Ctrl-C stops the run gracefully; a second cancels at once (records still kept)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        count = 0
        async for _ in signals:
            count += 1
            if count == 1:
                print("swarm: stopping (Ctrl-C again to cancel at once)", file=sys.stderr)
                executor.cancel("interrupted by the user")
            else:
                hard.cancel()


async def execute_plan(
    plan: Plan,
    *,
    plan_path: str | None,
    progress: str,
    backend_name: str | None = None,
    history_order: bool = True,
    rehearsal: RehearsalSetup | None = None,
    source: PlanSource | None = None,
) -> SwarmResult:
    """Open the store and backend a plan names, and run it with progress display.

    What the plan names in the store (a base session, fork points) is checked first,
    and reported at its line of ``source``, the file the plan was read from.

    With ``history_order``, agents whose durations are known from earlier runs of
    the same plan start longest-first within their priority (see swarm.durations).
    With ``rehearsal``, the fake Messages API serves every Claude Code CLI and the run is
    recorded as a rehearsal (swarm.rehearsal).
    """
    async with (
        open_store(plan.store.url) as store,
        open_backend(plan.backend, store, backend_name, rehearsal) as backend,
    ):
        problems = await store_problems(plan, store, backend=backend.name)
        if problems:
            raise (source or PlanSource(plan_path or "plan")).error(problems)
        durations = (
            await expected_durations_from_store(
                store, plan, plan_path=plan_path, backend=backend.name
            )
            if history_order
            else {}
        )
        executor = ParallelSwarmExecutor(
            backend,
            store,
            options=ExecutorOptions(
                git_metadata=True,
                expected_durations=durations,
                rehearsal=rehearsal.record() if rehearsal is not None else None,
            ),
        )
        return await drive_with_progress(
            executor,
            lambda events: executor.run(plan, events=events, plan_path=plan_path),
            progress,
        )


async def drive_with_progress(
    executor: ParallelSwarmExecutor,
    start: Callable[[trio.MemorySendChannel[SwarmEvent]], Awaitable[SwarmResult]],
    progress: str,
) -> SwarmResult:
    """Drive a run (``start(events)``: ``executor.run`` or ``executor.resume``) while its
    events are shown (``progress``: live, plain or none) and Ctrl-C is watched: the first
    one cancels the run (what finished is kept), a second stops at once."""
    send, receive = trio.open_memory_channel[SwarmEvent](256)
    result: SwarmResult | None = None
    with trio.CancelScope() as hard:
        async with trio.open_nursery() as nursery:
            if progress == "none":
                nursery.start_soon(_drain, receive)
            else:
                nursery.start_soon(lambda: show_progress(receive, live=progress == "live"))
            watcher = trio.CancelScope()

            async def watch() -> None:
                with watcher:
                    await _watch_interrupts(executor, hard)

            nursery.start_soon(watch)
            try:
                result = await start(send)
            finally:
                watcher.cancel()
    if result is None:
        raise KeyboardInterrupt
    return result


def see_again(run_id: str, url: str) -> str | None:
    """The hint that shows a finished run again, naming the store unless it is the one
    ``swarm runs show`` reads by default; none for a memory store (gone on exit)."""
    if url.startswith("memory:"):
        return None
    where = "" if url == store_url(None) else f" --store {shlex.quote(mask_url(url))}"
    return f"see it again: swarm runs show {run_id}{where}"


def print_see_again(run_id: str, url: str) -> None:
    hint = see_again(run_id, url)
    if hint is not None:
        print(hint)


async def _drain(receive: trio.MemoryReceiveChannel[SwarmEvent]) -> None:
    async with receive:
        async for _ in receive:
            pass


@app.command()
def run(
    plan_file: Annotated[Path, typer.Argument(metavar="PLAN", help="The plan YAML file.")],
    max_parallel: Annotated[
        int | None, typer.Option("--max-parallel", min=1, help="Override execution.max_parallel.")
    ] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="window (default) or batch.")] = None,
    backend: Annotated[
        str | None, typer.Option("--backend", help="simulated, claude or anthropic.")
    ] = None,
    store: StoreOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress, one summary line.")
    ] = False,
    no_history_order: Annotated[
        bool,
        typer.Option(
            "--no-history-order",
            help="Start agents in plan order within a priority, not longest-first "
            "from the durations of earlier runs of the same plan.",
        ),
    ] = False,
    rehearse: Annotated[
        bool,
        typer.Option(
            "--rehearse",
            help="Run real Claude Code sessions against the bundled fake Messages API "
            "(free, offline; implies --backend claude).",
        ),
    ] = False,
    rehearse_config: RehearseConfigOption = None,
) -> int:
    """Run a plan: fork every agent off the base session, in parallel."""
    if mode is not None and mode not in ("window", "batch"):
        raise typer.BadParameter("expected window or batch", param_hint="--mode")
    rehearse = rehearse or rehearse_config is not None  # a script for the fake API is a rehearsal
    if rehearse:
        backend = rehearsal_backend(backend)
    loaded, source = _load(plan_file, config)
    plan = apply_overrides(
        loaded, max_parallel=max_parallel, mode=mode, backend=backend, store=store
    )
    progress = "none" if (as_json or quiet) else ("live" if sys.stderr.isatty() else "plain")
    rehearsal = RehearsalSetup.of_plan(plan.backend.options, rehearse_config) if rehearse else None
    result = trio.run(
        lambda: execute_plan(
            plan,
            plan_path=str(plan_file),
            progress=progress,
            history_order=not no_history_order,
            rehearsal=rehearsal,
            source=source,
        )
    )
    if as_json:
        print_json(result.to_dict())
    elif quiet:
        m = result.metrics
        print(
            f"run {result.run_id}: {result.status.value}; wall {m.wall_s:.2f}s, "
            f"speedup {m.speedup:.2f}x, efficiency {m.efficiency:.0%}"
        )
    else:
        Console().print(summary_table(result, rehearsal=rehearsal is not None))
        print_see_again(result.run_id, plan.store.url)
    if result.status is RunStatus.INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.succeeded else EXIT_FAILED


@app.command()
def validate(
    plan_file: Annotated[Path, typer.Argument(metavar="PLAN", help="The plan YAML file.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> int:
    """Check a plan and print what would run; exit 2 with file:line: field errors if bad."""
    try:
        plan, source = _load(plan_file, config)
        trio.run(_check_against_store, plan, source)
    except PlanError as exc:
        if as_json:
            issues = [
                {"file": i.file, "line": i.line, "field": i.field, "message": i.message}
                for i in exc.issues
            ]
            print_json({"valid": False, "issues": issues})
        raise  # and the same issues as error lines on stderr, exit 2
    if as_json:
        # The plan as it will run, without the secrets of its env (as the store keeps it).
        print_json(redact_plan(plan.model_dump(mode="json")))
        return EXIT_OK
    e = plan.execution
    print(
        f"{plan_file}: ok: {len(plan.agents)} agents, max_parallel {e.max_parallel}, "
        f"mode {e.mode}, backend {plan.backend.name or '(auto)'}, store {mask_url(plan.store.url)}"
    )
    return EXIT_OK


async def _check_against_store(plan: Plan, source: PlanSource) -> None:
    """What `swarm run` checks in the store before building the base, without creating
    a store: one that does not exist yet holds nothing, like the one run would create."""
    if not needs_store(plan):
        return
    path = parse_store_url(plan.store.url).path
    backend = plan.backend.name
    if path is None or not path.exists():
        problems = await store_problems(plan, MemoryStore(), backend=backend)
    else:
        try:
            store = await SQLiteStore.open(path, read_only=True)
        except StoreError as exc:
            raise source.error([(("store", "url"), f"cannot check base.session: {exc}")]) from None
        try:
            problems = await store_problems(plan, store, backend=backend)
        finally:
            await store.aclose()
    if problems:
        raise source.error(problems)


@app.command()
def schema() -> int:
    """Print the JSON Schema of the plan format (for editors)."""
    print(json.dumps(plan_json_schema(), indent=2))
    return EXIT_OK
