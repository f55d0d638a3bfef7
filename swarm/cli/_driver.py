"""Running a plan from the command line: the store and backend it names, its progress
shown as it goes, Ctrl-C watched (once: stop and keep what finished; twice: at once),
and the hint that shows the run again. ``run``, ``resume`` and ``fork`` all drive a
run through here.
"""

from __future__ import annotations

import shlex
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence

import trio

from .._redaction import mask_url
from ..backends import RehearsalSetup, open_backend, preload_backend
from ..engine import ExecutorOptions, ParallelSwarmExecutor, store_problems
from ..events import RunObserver, SwarmEvent
from ..plan import Plan, PlanSource
from ..records import SwarmResult
from ..stores import open_store, parse_store_url
from ..timeline import CacheMiss, cache_misses, expected_durations_from_store
from ..workspaces import check_plan
from ._common import store_url, warn
from ._display import show_progress


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
    observers: Sequence[RunObserver] = (),
    warnings: list[str] | None = None,
    engine: str | None = None,
    dask_address: str | None = None,
) -> SwarmResult:
    """Open the store and backend a plan names, and run it with progress display.

    ``warnings`` receives the lines the summary should end with (forks that missed the
    prompt cache, see :func:`cache_warning`), found while the store is still open.

    What the plan names in the store (a base session, fork points) is checked first,
    and reported at its line of ``source``, the file the plan was read from.

    With ``history_order``, agents whose durations are known from earlier runs of
    the same plan start longest-first within their priority (see swarm.timeline._durations).
    With ``rehearsal``, the fake Messages API serves every Claude Code CLI and the run is
    recorded as a rehearsal (swarm.backends._rehearsal). ``observers`` (a tracer) see
    every event of the run.
    """
    # The SDK's import (~1 s for claude-agent-sdk) overlaps opening the store (and the
    # fake API of a rehearsal) instead of following it.
    preload_backend(backend_name or plan.backend.name)
    async with (
        open_store(plan.store.url) as store,
        open_backend(plan.backend, store, backend_name, rehearsal) as backend,
    ):
        problems = await store_problems(plan, store, backend=backend.name)
        if problems:
            raise (source or PlanSource(plan_path or "plan")).error(problems)
        # Said once, here (the run records it too, in its record's workspace); what it
        # would refuse, the run refuses before writing anything.
        repo = await check_plan(plan)
        if repo is not None and repo.warning():
            warn(str(repo.warning()))
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
                engine_name=engine,
                dask_address=dask_address,
                store_url=plan.store.url,
                observers=observers,
            ),
        )
        result = await drive_with_progress(
            executor,
            lambda events: executor.run(plan, events=events, plan_path=plan_path),
            progress,
        )
        if warnings is not None:
            line = cache_warning(await cache_misses(store, result), len(result.agents))
            warnings.extend([line] if line else [])
        return result


def cache_warning(misses: list[CacheMiss], agents: int) -> str | None:
    """One line for the forks that paid their inherited history again, or None."""
    if not misses:
        return None
    names = ", ".join(m.agent_id for m in misses[:4]) + (", ..." if len(misses) > 4 else "")
    low, high = min(m.share for m in misses), max(m.share for m in misses)
    shares = f"{low:.0%}" if f"{low:.0%}" == f"{high:.0%}" else f"{low:.0%}-{high:.0%}"
    return (
        f"swarm: warning: {len(misses)} of {agents} forks missed the prompt cache ({names}): "
        f"each wrote {shares} of the {misses[0].inherited_tokens:,} tokens it inherited from "
        "the base to the cache instead of reading them (a system prompt that differs per "
        "directory, an expired cache or another model); see benchmarks/README.md, claude-tokens"
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
    if parse_store_url(url).is_memory:
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
