"""``swarm resume RUN``: finish a run after a crash, a kill -9 or Ctrl-C."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Annotated

import trio
import typer
from rich.console import Console

from ..backends import Backend, IdleBackend, RehearsalSetup, open_backend
from ..engine import ExecutorOptions, ParallelSwarmExecutor, load_resume_state
from ..errors import SwarmError, leaves
from ..events import RunObserver
from ..plan import ON_RESUME_POLICIES, Plan
from ..records import RunRecord, RunStatus, SwarmResult
from ..timeline import check_run_ref
from ._common import existing_store, lookup_run, print_json, store_url
from ._display import since_process_start, summary_table
from ._driver import drive_with_progress, print_see_again
from ._errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from ._options import (
    DaskAddressOption,
    EngineOption,
    JsonOption,
    RehearseConfigOption,
    StoreOption,
    engine_choice,
)
from ._rehearse import rehearsal_again, rehearsal_backend, require_credentials
from ._telemetry import OtelContentOption, OtelOption, run_observers


@contextmanager
def _plain_swarm_errors() -> Iterator[None]:
    """Unwrap a nursery's group holding one SwarmError (e.g. LeaseHeld) so the CLI
    prints it as one `swarm: error:` line with its exit code."""
    try:
        yield
    except BaseExceptionGroup as group:
        errors = leaves(group)
        if len(errors) == 1 and isinstance(errors[0], SwarmError):
            raise errors[0] from None
        raise


def resume_rehearsal(
    record: RunRecord, plan: Plan, *, rehearse: bool | None, config_file: Path | None
) -> RehearsalSetup | None:
    """Whether resuming ``record`` rehearses (a rehearsed run does unless --no-rehearse),
    checked before anything runs: a claude run that would call the real API without
    credentials is refused, as its agents would all end ``failed`` for good."""
    what = f"run {record.run_id}"
    setup, note = rehearsal_again(
        record.rehearsal,
        rehearse=rehearse,
        config_file=config_file,
        plan_options=plan.backend.options,
        what=what,
    )
    if setup is not None:
        rehearsal_backend(record.backend)
    else:
        require_credentials(
            record.backend or plan.backend.name, rehearsed=record.rehearsal is not None, what=what
        )
    if note is not None:
        print(f"swarm: {note}", file=sys.stderr)
    return setup


async def resume_run(
    ref: str,
    *,
    store: str | None,
    on_resume: str | None,
    progress: str,
    rehearse: bool | None = None,
    rehearse_config: Path | None = None,
    engine: str | None = None,
    dask_address: str | None = None,
    observers: Sequence[RunObserver] = (),
) -> tuple[SwarmResult, bool, bool]:
    """Resume run ``ref`` in the store; returns its result, whether anything ran, and
    whether the run is a rehearsal (recorded as one, or rehearsed now)."""
    check_run_ref(ref)  # a bad id is refused as one, store or no store
    # With no store there is no run: say so, and create nothing.
    async with existing_store(store, "nothing to resume; run a plan first", writes=True) as db:
        record = await lookup_run(db, ref)
        plan = Plan.model_validate(record.plan)
        state = await load_resume_state(db, record.run_id, on_resume=on_resume)
        rehearsed = record.rehearsal is not None
        # What the store alone decides comes first: a run with nothing left to run needs
        # no backend, no fake API and no credentials.
        if state.nothing_to_run and record.status is not RunStatus.RUNNING:
            return SwarmResult.from_records(record, list(state.agents.values())), False, rehearsed
        setup: RehearsalSetup | None = None
        backend_cm: AbstractAsyncContextManager[Backend]
        if state.nothing_to_run:  # killed after its last agent, before the close: close it
            backend_cm = nullcontext(IdleBackend(record.backend or plan.backend.name or "claude"))
        else:
            setup = resume_rehearsal(record, plan, rehearse=rehearse, config_file=rehearse_config)
            # Continued sessions load from the store (the session-store mirror): a
            # rehearsal's config dir is a new temporary one, the killed run's is gone.
            backend_cm = open_backend(plan.backend, db, record.backend, setup)
        async with backend_cm as backend:
            options = ExecutorOptions(
                git_metadata=True,
                rehearsal=setup.record() if setup is not None else None,
                engine_name=engine,
                dask_address=dask_address,
                # the stored plan masks the URL's password; workers need the real one
                store_url=store_url(store),
                observers=observers,
            )
            executor = ParallelSwarmExecutor(backend, db, options=options)
            with _plain_swarm_errors():
                result = await drive_with_progress(
                    executor,
                    lambda events: executor.resume(
                        record.run_id, events=events, on_resume=on_resume
                    ),
                    progress,
                )
            after = await db.get_run(record.run_id)
            ran = after is not None and len(after.attempts) > len(record.attempts)
            return result, ran, setup is not None or rehearsed


def resume(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="Run id, a unique prefix of one, or `latest`.")
    ],
    on_resume: Annotated[
        str | None,
        typer.Option(
            "--on-resume",
            help="Agents that were running: continue their session or restart them "
            "(default: the plan's execution.on_resume).",
        ),
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress, one summary line.")
    ] = False,
    rehearse: Annotated[
        bool | None,
        typer.Option(
            "--rehearse/--no-rehearse",
            help="Resume against the bundled fake Messages API (default: when the run was "
            "a rehearsal, with the script it recorded); --no-rehearse calls the real API.",
        ),
    ] = None,
    rehearse_config: RehearseConfigOption = None,
    engine: EngineOption = None,
    dask_address: DaskAddressOption = None,
    otel: OtelOption = False,
    otel_content: OtelContentOption = False,
) -> int:
    """Finish a crashed or interrupted run: finished agents are kept, the rest run.

    Agents that succeeded, failed or timed out are never run again; agents that
    were running continue their session (or restart, per --on-resume); pending
    ones run. Fails with exit 2 while another live process holds the run. A run
    made with --rehearse is rehearsed again unless --no-rehearse.
    """
    if on_resume is not None and on_resume not in ON_RESUME_POLICIES:
        raise typer.BadParameter("expected continue or restart", param_hint="--on-resume")
    engine = engine_choice(engine, dask_address)
    progress = "none" if (as_json or quiet) else ("live" if sys.stderr.isatty() else "plain")
    with run_observers(otel, otel_content, to_stderr=as_json) as observers:
        result, ran, rehearsal = trio.run(
            lambda: resume_run(
                run_ref,
                store=store,
                on_resume=on_resume,
                progress=progress,
                rehearse=rehearse,
                rehearse_config=rehearse_config,
                observers=observers,
                engine=engine,
                dask_address=dask_address,
            )
        )
    if not ran:
        print(
            f"swarm: run {result.run_id} already ended ({result.status.value}); nothing to resume",
            file=sys.stderr,
        )
    if as_json:
        print_json(result.to_dict())
    elif quiet:
        m = result.metrics
        print(
            f"run {result.run_id}: {result.status.value}; wall {m.wall_s:.2f}s, "
            f"agents {sum(m.counts.values())} {m.counts}"
        )
    else:
        Console().print(summary_table(result, rehearsal=rehearsal, waited_s=since_process_start()))
        print_see_again(result.run_id, store_url(store))
    if result.status is RunStatus.INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.succeeded else EXIT_FAILED
