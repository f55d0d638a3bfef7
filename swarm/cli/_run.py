"""``swarm run``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import trio
import typer
from rich.console import Console

from .._redaction import mask_url
from ..backends import RehearsalSetup
from ..plan import Plan, PlanSource, read_plan
from ..records import RunStatus
from ._common import print_json, store_url
from ._display import since_process_start, summary_table
from ._driver import execute_plan, print_see_again
from ._errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from ._options import (
    ConfigOption,
    DaskAddressOption,
    EngineOption,
    JsonOption,
    RehearseConfigOption,
    StoreOption,
    engine_choice,
)
from ._rehearse import rehearsal_backend
from ._telemetry import OtelContentOption, OtelOption, run_observers


def _load(plan_path: Path, config: Path | None) -> tuple[Plan, PlanSource]:
    return read_plan(plan_path, config_path=config)


def apply_overrides(
    plan: Plan,
    *,
    max_parallel: int | None = None,
    mode: str | None = None,
    backend: str | None = None,
    store: str | None = None,
    require_clean: bool | None = None,
) -> Plan:
    """The plan with command-line overrides applied (validated like the plan itself)."""
    given: dict[tuple[str, str, str], object] = {
        ("execution", "max_parallel", "--max-parallel"): max_parallel,
        ("execution", "mode", "--mode"): mode,
        ("backend", "name", "--backend"): backend,
        ("store", "url", "--store"): store,
        ("execution", "require_clean", "--require-clean"): require_clean,
    }
    sections: dict[str, dict[str, Any]] = {}
    flags: dict[str, str] = {}  # errors name the flag, not the plan field it set
    for (section, field, flag), value in given.items():
        if value is not None:
            sections.setdefault(section, {})[field] = value
            flags[f"{section}.{field}"] = flag
    return plan.with_overrides(flags=flags, **sections) if sections else plan


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
    engine: EngineOption = None,
    dask_address: DaskAddressOption = None,
    require_clean: Annotated[
        bool,
        typer.Option(
            "--require-clean",
            help="With workspace: worktree, refuse to start while the repository has "
            "uncommitted changes (sets execution.require_clean).",
        ),
    ] = False,
    otel: OtelOption = False,
    otel_content: OtelContentOption = False,
) -> int:
    """Run a plan: fork every agent off the base session, in parallel."""
    if mode is not None and mode not in ("window", "batch"):
        raise typer.BadParameter("expected window or batch", param_hint="--mode")
    engine = engine_choice(engine, dask_address)
    rehearse = rehearse or rehearse_config is not None  # a script for the fake API is a rehearsal
    if rehearse:
        backend = rehearsal_backend(backend)
    loaded, source = _load(plan_file, config)
    plan = apply_overrides(
        loaded,
        max_parallel=max_parallel,
        mode=mode,
        backend=backend,
        store=store,
        require_clean=True if require_clean else None,
    )
    progress = "none" if (as_json or quiet) else ("live" if sys.stderr.isatty() else "plain")
    rehearsal = RehearsalSetup.of_plan(plan.backend.options, rehearse_config) if rehearse else None
    warnings: list[str] = []
    with run_observers(otel, otel_content, to_stderr=as_json) as observers:
        result = trio.run(
            lambda: execute_plan(
                plan,
                plan_path=str(plan_file),
                progress=progress,
                history_order=not no_history_order,
                rehearsal=rehearsal,
                source=source,
                observers=observers,
                warnings=warnings,
                engine=engine,
                dask_address=dask_address,
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
        Console().print(
            summary_table(result, rehearsal=rehearsal is not None, waited_s=since_process_start())
        )
        print_see_again(result.run_id, plan.store.url)
        if any(agent.workspace for agent in result.agents.values()):
            url = plan.store.url
            where = "" if url == store_url(None) else f" --store {shlex.quote(mask_url(url))}"
            print(
                f"agents' changes: swarm changes {result.run_id}{where}; "
                f"merge them: swarm merge {result.run_id}{where}"
            )
    for line in warnings:
        print(line, file=sys.stderr)
    if result.status is RunStatus.INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.succeeded else EXIT_FAILED
