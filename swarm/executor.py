"""The ParallelSwarmExecutor: a trio scheduler for agents forked off one base session.

This module is the public face: options, hooks, ``run``, ``resume`` and
``cancel``, and the run's lease (one process drives a run at a time). The
scheduling itself, the window, timeouts and the journal, is in
:mod:`swarm.execution`; what a backend reports is persisted by
:mod:`swarm.sink`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from ._log import get_logger
from .backends import AgentRequest, Backend
from .errors import StoreError
from .events import SwarmEvent
from .execution import Execution
from .plan import Plan, PlanSource
from .preflight import store_problems
from .records import AgentResult, RunStatus, SwarmResult
from .resume import load_resume_state
from .runids import new_run_id
from .stores import Clock, RunLease, Store, run_lease_name

log = get_logger("swarm.executor")

PreAgentHook = Callable[[AgentRequest], Awaitable[None]]
PostAgentHook = Callable[[AgentResult], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ExecutorOptions:
    """Tuning that is not part of a plan.

    ``expected_durations`` (agent id -> seconds, e.g. from earlier runs in the
    store) turns on longest-first ordering within a priority class.
    ``final_write_grace_s`` bounds the shielded writes of a cancelled run.
    ``git_metadata`` records the git branch and commit with each session (a
    subprocess per working directory; the CLI turns it on).
    """

    expected_durations: Mapping[str, float] = field(default_factory=dict)
    final_write_grace_s: float = 15.0
    rate_limit_cooldown_s: float = 1.0
    # The run's lease (one process drives a run at a time): renewed every third of
    # its ttl; the clock is wall time because other processes read the expiry.
    lease_ttl_s: float = 30.0
    lease_clock: Clock = time.time
    git_metadata: bool = False
    # A rehearsal (the fake API's script): recorded with the run at its first write, so
    # `swarm resume` and `swarm fork` rehearse it again and listings never bill it.
    rehearsal: Mapping[str, Any] | None = None


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
        self.pre_agent = list(pre_agent)
        self.post_agent = list(post_agent)
        self._current: Execution | None = None

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
        :class:`~swarm.errors.PlanError` before anything is written.
        """
        run_id = run_id or new_run_id()
        lease = self._lease(run_id)
        async with _closed_on_error(events):
            # What the plan names in the store is checked before anything is written.
            problems = await store_problems(plan, self.store, backend=self.backend.name)
            if problems:
                raise PlanSource(plan_path or "plan").error(problems)
            await lease.acquire()
        run = Execution(self, plan, run_id, events, plan_path, owner=lease.owner)
        return await self._drive(run, lease)

    async def resume(
        self,
        run_id: str,
        *,
        events: trio.MemorySendChannel[SwarmEvent] | None = None,
        on_resume: str | None = None,
    ) -> SwarmResult:
        """Finish a run that crashed or was interrupted; see :mod:`swarm.resume`.

        Finished agents are kept, never run again; the ones that were running
        continue their session or restart (``on_resume`` overrides the plan's
        ``execution.on_resume``); pending ones run. Raises
        :class:`~swarm.errors.LeaseHeld` while another live process drives the run.
        A run with nothing left to do is returned as stored.
        """
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
        run = Execution(
            self, state.plan, run_id, events, plan_path, owner=lease.owner, resume=state
        )
        return await self._drive(run, lease)

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
