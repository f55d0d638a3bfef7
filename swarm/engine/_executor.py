"""The ParallelSwarmExecutor: a trio scheduler for agents forked off one base session.

This module is the public face: ``run``, ``resume`` and ``cancel``, and the run's
lease (one process drives a run at a time). Each run or resume is one
:class:`~._execution.Execution`, made of the run state, the journal (where every
write goes, and the fence with it), the scheduler, the sink it hands backends and
the event feed; the executor builds them and drives it, and none of them knows the
executor.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

import trio

from .._log import get_logger
from ..backends import Backend
from ..errors import StoreError
from ..events import SwarmEvent
from ..plan import Plan, PlanSource
from ..records import RunStatus, SwarmResult
from ..stores import RunLease, Store, run_lease_name
from ..workspaces import RunWorkspaces, prepare_run, resumed_workspaces
from ._engines import Engine, LocalEngine
from ._execution import Execution
from ._feed import EventFeed
from ._gc import spaced_collections
from ._journal import Journal
from ._options import ExecutorOptions, Hooks, PostAgentHook, PreAgentHook
from ._preflight import store_problems
from ._resume import ResumeState, load_resume_state
from ._session_meta import SessionDescriber
from ._state import RunState

log = get_logger("swarm.executor")


def new_run_id() -> str:
    """``20261121-143012-a1b2c3``: UTC start time plus six random hex digits (sortable by
    time, readable, and safe as a file name)."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


class ParallelSwarmExecutor:
    """Runs a plan's agents in parallel, each a fork of the base session.

    >>> executor = ParallelSwarmExecutor(backend, store)
    >>> result = await executor.run(plan)          # under trio
    """

    def __init__(
        self,
        backend: Backend,
        store: Store,
        *,
        options: ExecutorOptions | None = None,
        pre_agent: Sequence[PreAgentHook] = (),
        post_agent: Sequence[PostAgentHook] = (),
    ) -> None:
        self.backend = backend
        self.store = store
        self.options = options or ExecutorOptions()
        self.hooks = Hooks(tuple(pre_agent), tuple(post_agent))
        self._current: Execution | None = None

    def _execution(
        self,
        plan: Plan,
        run_id: str,
        events: trio.MemorySendChannel[SwarmEvent] | None,
        plan_path: str | None,
        owner: str,
        engine: Engine,
        resume: ResumeState | None = None,
        workspaces: RunWorkspaces | None = None,
    ) -> Execution:
        """One execution of ``plan`` as run ``run_id``, with its own state, journal and feed."""
        describer = SessionDescriber(git=self.options.git_metadata)
        return Execution(
            backend=self.backend,
            engine=engine,
            journal=Journal(self.store, run_id, backend=self.backend.name, describer=describer),
            state=RunState(plan, run_id, resume),
            feed=EventFeed(events, run_id, self.options.observers),
            options=self.options,
            hooks=self.hooks,
            plan_path=plan_path,
            owner=owner,
            resume=resume,
            workspaces=workspaces,
        )

    async def run(
        self,
        plan: Plan,
        *,
        events: trio.MemorySendChannel[SwarmEvent] | None = None,
        run_id: str | None = None,
        plan_path: str | None = None,
    ) -> SwarmResult:
        """Run every agent of ``plan`` and return their results and the run's metrics.

        Cancelling the caller's scope cancels the agents, writes what finished
        and re-raises; :meth:`cancel` stops the run and returns its result. A base
        session, ``base.at`` or ``fork_at`` the store does not hold raises
        :class:`~swarm.errors.PlanError` before anything is written, and so does a
        repository unfit for ``workspace: worktree``
        (:class:`~swarm.errors.WorkspaceRefused`).
        """
        run_id = run_id or new_run_id()
        lease = self._lease(run_id)
        async with AsyncExitStack() as stack:
            # From the plan's first pass to the last record (a 10,000-agent plan is a few
            # hundred thousand objects to build, encode and keep), see _gc.py.
            stack.enter_context(spaced_collections(self.options.gc_threshold))
            async with _closed_on_error(events):
                # What the plan names in the store is checked before anything is written.
                problems = await store_problems(plan, self.store, backend=self.backend.name)
                if problems:
                    raise PlanSource(plan_path or "plan").error(problems)
                # Where agents run is ready before the run exists (a cluster that
                # cannot be reached fails the command, with nothing written).
                engine = await stack.enter_async_context(self._engine(plan))
                # The repository's HEAD now is the commit every agent's worktree starts at.
                workspaces = await prepare_run(plan, run_id)
                if workspaces is not None and workspaces.repo.warning():
                    log.info("workspace.uncommitted", detail=workspaces.repo.warning())
                await lease.acquire()
            run = self._execution(
                plan, run_id, events, plan_path, lease.owner, engine, workspaces=workspaces
            )
            return await self._drive(run, lease)
        raise AssertionError("unreachable: the block returns or raises")

    async def resume(
        self,
        run_id: str,
        *,
        events: trio.MemorySendChannel[SwarmEvent] | None = None,
        on_resume: str | None = None,
    ) -> SwarmResult:
        """Finish a run that crashed or was interrupted; see :mod:`swarm.engine._resume`.

        Finished agents are kept, never run again; the ones that were running
        continue their session or restart (``on_resume`` overrides the plan's
        ``execution.on_resume``); pending ones run. Raises
        :class:`~swarm.errors.LeaseHeld` while another live process drives the run.
        A run with nothing left to do is returned as stored.
        """
        with spaced_collections(self.options.gc_threshold):
            return await self._resume(run_id, events, on_resume)

    async def _resume(
        self,
        run_id: str,
        events: trio.MemorySendChannel[SwarmEvent] | None,
        on_resume: str | None,
    ) -> SwarmResult:
        lease = self._lease(run_id)
        async with _closed_on_error(events):
            await lease.acquire()
            try:
                state = await load_resume_state(self.store, run_id, on_resume=on_resume)
            except BaseException:
                with trio.CancelScope(shield=True):
                    await lease.release()
                raise
        if state.nothing_to_run and state.record.status is not RunStatus.RUNNING:
            with trio.CancelScope(shield=True):
                await lease.release()
            if events is not None:
                await events.aclose()
            return SwarmResult.from_records(state.record, list(state.agents.values()))
        plan_path = state.record.plan_path
        workspaces = resumed_workspaces(state.record.workspace, run_id)
        async with AsyncExitStack() as stack:
            async with _closed_on_error(events):
                try:
                    engine = await stack.enter_async_context(self._engine(state.plan))
                except BaseException:
                    with trio.CancelScope(shield=True):
                        await lease.release()
                    raise
            run = self._execution(
                state.plan, run_id, events, plan_path, lease.owner, engine, state, workspaces
            )
            return await self._drive(run, lease)
        raise AssertionError("unreachable: the block returns or raises")

    @asynccontextmanager
    async def _engine(self, plan: Plan) -> AsyncIterator[Engine]:
        """Where the agents of ``plan`` run: here, or on the Dask cluster it (or the
        options) name, opened for the run and closed after it."""
        options = self.options
        if options.engine is not None:
            yield options.engine
            return
        if (options.engine_name or plan.execution.engine) == "local":
            yield LocalEngine(self.backend)
            return
        from ._dask import open_dask_engine  # the distributed extra: only when asked for

        dask = plan.execution.dask
        slots = dask.slots_per_worker or math.ceil(plan.execution.max_parallel / dask.workers)
        async with open_dask_engine(
            store_url=options.store_url or plan.store.url,
            backend=plan.backend.model_dump(mode="json"),
            backend_name=self.backend.name,
            address=options.dask_address or dask.address,
            workers=dask.workers,
            slots_per_worker=slots,
            connect_timeout_s=dask.connect_timeout_s,
            git_metadata=options.git_metadata,
            cli_env=options.worker_cli_env or getattr(self.backend, "cli_env", None),
        ) as engine:
            yield engine

    def _lease(self, run_id: str) -> RunLease:
        options = self.options
        return RunLease(
            self.store,
            run_lease_name(run_id),
            ttl_s=options.lease_ttl_s,
            clock=options.lease_clock,
        )

    async def _drive(self, run: Execution, lease: RunLease) -> SwarmResult:
        """Execute a run while a task of this nursery keeps its lease renewed."""
        self._current = run
        stopped = True  # until execute returns: the run ended on an error, or was cancelled
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(lease.keep_renewed, run.lease_lost)
                try:
                    result = await run.execute()
                    stopped = False
                    return result
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            self._current = None
            with trio.CancelScope(shield=True):
                try:
                    await lease.release()
                except StoreError as exc:
                    # It expires on its own (at once for a resume on this host: its holder is
                    # gone). After a run stopped by a store error, that error is what the caller
                    # reports, once; this one follows from it, so it is no second warning.
                    say = log.info if stopped else log.warning
                    say("lease.release_failed", run_id=run.run_id, error=str(exc))

    def cancel(self, reason: str = "interrupted") -> None:
        """Stop the current run: running agents are cancelled, waiting ones marked."""
        if self._current is not None:
            self._current.interrupt(reason)


@asynccontextmanager
async def _closed_on_error(
    events: trio.MemorySendChannel[SwarmEvent] | None,
) -> AsyncIterator[None]:
    """Close the caller's event channel if the run fails before it starts, so their
    consumer ends too (once a run starts, it closes the channel itself)."""
    try:
        yield
    except BaseException:
        if events is not None:
            with trio.CancelScope(shield=True):
                await events.aclose()
        raise
