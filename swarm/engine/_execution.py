"""One execution of a plan: the first run, or one resume of it.

:class:`Execution` drives a run from its first record to its last: it builds (or
reuses) the base session, lets the scheduler start agents, runs each under its own
``move_on_after`` (backends take no timeout), and ends the run. It decides with the
run state (:mod:`._state`, no I/O), writes through the journal (:mod:`._journal`,
where the fence is), hands backends a sink (:mod:`._sink`) and tells the event feed
(:mod:`._feed`). Every state change is persisted before it is acted on, and final
records are written under a shield so a cancelled run still keeps them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import structlog
import trio

from .._log import get_logger
from .._redaction import redact_plan, redact_record
from ..backends import Backend, BaseSession
from ..errors import (
    SkipAgent,
    StoreError,
    failure_reason,
    first_leaf,
    format_traceback,
)
from ..events import EventKind
from ..plan import AgentSpec
from ..records import AgentResult, AgentStatus, Lease, RunRecord, RunStatus, SwarmResult, utc_now
from ..timeline import CheckpointPolicy, RunCheckpoints
from ..workspaces import RunWorkspaces, WorkspaceChange
from ._engines import Engine
from ._feed import EventFeed
from ._journal import Journal
from ._metrics import run_metrics
from ._options import ExecutorOptions, Hooks
from ._requests import agent_request, as_stored, base_request, worktree_start_commit
from ._resume import ResumeState, base_entry, merge_metrics, new_attempt, update_last
from ._scheduling import Scheduler
from ._sink import PersistingSink, ending
from ._state import FAILED_STATUSES, RunState
from ._worktree_end import commit_worktree, task_of

log = get_logger("swarm.executor")


class Execution:
    """Drives one execution of a plan (see the module doc)."""

    def __init__(
        self,
        *,
        backend: Backend,
        engine: Engine,
        journal: Journal,
        state: RunState,
        feed: EventFeed,
        options: ExecutorOptions,
        hooks: Hooks,
        plan_path: str | None,
        owner: str,
        resume: ResumeState | None = None,
        workspaces: RunWorkspaces | None = None,
    ) -> None:
        self.backend = backend
        self.workspaces = workspaces
        self.engine = engine
        self.journal = journal
        self.state = state
        self.feed = feed
        self.options = options
        self.hooks = hooks
        self.plan = state.plan
        self.run_id = state.run_id
        self.plan_path = plan_path
        self.owner = owner
        self.resume = resume
        execution = self.plan.execution
        self.scheduler = Scheduler(
            state.order,
            options.expected_durations,
            max_parallel=execution.max_parallel,
            cooldown_s=options.rate_limit_cooldown_s,
            mode=execution.mode,
        )
        self.stop_scope = trio.CancelScope()
        self.checkpoints = RunCheckpoints(
            journal, CheckpointPolicy.from_spec(self.plan.checkpoints)
        )
        self.log = log.bind(run_id=self.run_id)

    # --- stopping ----------------------------------------------------------------

    def lease_lost(self, lease: Lease) -> None:
        """Another process took the run's lease (this one was paused past its expiry)."""
        self.journal.fence()
        self.stop(
            f"the run's lease was taken over by {lease.owner}; this process stopped writing",
            RunStatus.INTERRUPTED,
            cancel_running=True,
        )

    def interrupt(self, reason: str) -> None:
        self.stop(reason, RunStatus.INTERRUPTED, cancel_running=True)

    def stop(self, reason: str, status: RunStatus, *, cancel_running: bool) -> None:
        """Start no more agents; optionally cancel the running ones."""
        self.state.stop(reason, status)
        self.scheduler.close()
        if cancel_running:
            self.stop_scope.cancel()

    def _cancelled_by_caller(self) -> None:
        self.state.stop("cancelled by the caller", RunStatus.INTERRUPTED)

    # --- the run ---------------------------------------------------------------

    async def execute(self) -> SwarmResult:
        self.feed.start_clock()
        record = self._first_record()
        # Journal first: the plan and every agent exist in the store before anything runs.
        await self.journal.save_start(record, list(self.state.results.values()))
        specs = self.state.specs
        self.log.info("run.started", agents=len(specs), max_parallel=self.scheduler.max_parallel)
        await self.feed.emit(
            EventKind.RUN_STARTED,
            data={
                "agents": len(specs),
                "name": self.plan.name,
                "backend": self.backend.name,
                "max_parallel": self.scheduler.max_parallel,
            },
        )
        if self.feed.listened:
            for spec in sorted(specs.values(), key=self.scheduler.ready.key):
                await self.feed.emit(EventKind.QUEUED, spec.id, result=self.state.results[spec.id])
        error: StoreError | None = None
        result: SwarmResult | None = None
        try:
            with self.stop_scope:
                self.state.base = await self._open_base()
                if self.state.base is not None:
                    await self._release_first()
                    try:
                        async with trio.open_nursery() as nursery:
                            self.journal.write_behind(nursery)
                            await self.scheduler.run(nursery, self._starter(nursery))
                    finally:
                        self.journal.write_behind(None)  # its flush tasks are done
        except trio.Cancelled:
            self._cancelled_by_caller()
            raise
        except StoreError as exc:
            error = exc
            raise
        except BaseExceptionGroup as group:
            # A store failure in any agent task stops the run; report it once, plainly.
            store_errors, rest = group.split(StoreError)
            if store_errors is not None and rest is None:
                error = first_leaf(store_errors)
                raise error from None
            if group.subgroup(trio.Cancelled) is not None:
                self._cancelled_by_caller()
            raise
        finally:
            with trio.move_on_after(self.options.final_write_grace_s) as scope:
                scope.shield = True
                try:
                    result = await self._finalize(str(error) if error else None)
                except StoreError as exc:
                    if error is None:
                        raise
                    # the first store error is what the caller reports, once
                    self.log.info("run.finalize_failed", error=str(exc))
                finally:
                    await self.feed.aclose()
        if result is None:
            raise StoreError(
                f"run {self.run_id}: the final records could not be written within "
                f"{self.options.final_write_grace_s} s"
            )
        return result

    def _first_record(self) -> RunRecord:
        """The run record this execution starts from: a new run's, or the resumed one's."""
        rehearsal = dict(self.options.rehearsal) if self.options.rehearsal is not None else None
        if self.resume is None:
            record = RunRecord(
                run_id=self.run_id,
                plan=redact_plan(self.plan.model_dump(mode="json")),
                name=self.plan.name,
                plan_path=self.plan_path,
                backend=self.backend.name,
                attempts=new_attempt([], "run", self.owner),
                rehearsal=rehearsal,
                workspace=self.workspaces.repo.to_dict() if self.workspaces else None,
            )
            return redact_record(record)  # the rehearsal's script may quote a key in a reply
        summary = self.resume.summary()
        self.log.info("run.resumed", **{k: len(v) for k, v in summary.items()})
        old = self.resume.record
        return redact_record(
            old.evolve(
                status=RunStatus.RUNNING,
                ended_at=None,
                error=None,
                # a resume against the real API keeps the mark: part of the run was rehearsed
                rehearsal=rehearsal or old.rehearsal,
                attempts=new_attempt(old.attempts, "resume", self.owner, **summary),
            )
        )

    def _sink(
        self,
        agent_id: str | None,
        parent: str | None,
        fork: str | None,
        resume_session_id: str | None = None,
    ) -> PersistingSink:
        return PersistingSink(
            journal=self.journal,
            state=self.state,
            scheduler=self.scheduler,
            feed=self.feed,
            checkpoints=self.checkpoints,
            agent_id=agent_id,
            parent=parent,
            fork=fork,
            resume_session_id=resume_session_id,
            persisted_elsewhere=self.engine.persists_reports,
            log=self.log,
        )

    async def _open_base(self) -> BaseSession | None:
        state = self.state
        if self.resume is not None and self.resume.base is not None:
            # Reused, never rebuilt: its usage is already in the run's accounts.
            state.base_s = self.resume.base_s
            state.base_retries = self.resume.base_retries
            state.spend(self.resume.base.usage, self.resume.base.cost_usd)
            await self.feed.emit(
                EventKind.BASE_READY, detail=self.resume.base.session_id, data={"reused": True}
            )
            return self.resume.base
        sink = self._sink(None, None, None)
        request = base_request(self.plan, self.run_id)
        await self.feed.emit(EventKind.BASE_STARTED, data={"model": request.model})
        started = trio.current_time()
        try:
            session = await self.engine.open_base(request, sink)
        except StoreError:
            raise
        except Exception as exc:  # any backend failure, foreseen or not, ends the run plainly
            state.base_retries = sink.retries
            reason = f"the base session could not be built: {failure_reason(exc)}"
            self.log.error("base.failed", error=failure_reason(exc))
            self.log.debug("base.failed.traceback", exception=format_traceback(exc))
            for agent_id in state.specs:
                if agent_id not in state.kept:
                    await self._update(agent_id, status=AgentStatus.SKIPPED, error=reason)
            self.stop(reason, RunStatus.FAILED, cancel_running=False)
            return None
        state.base_s = trio.current_time() - started
        state.base_retries = sink.retries
        state.spend(session.usage, session.cost_usd)
        record = await self.journal.run_record()
        entry = base_entry(session, state.base_s, state.base_retries)
        await self.journal.save_run(
            record.evolve(
                base_session_id=session.session_id,
                attempts=update_last(record.attempts, base=entry),
            )
        )
        self.log.info("base.ready", session_id=session.session_id, seconds=state.base_s)
        await self.feed.emit(
            EventKind.BASE_READY,
            detail=session.session_id,
            data={
                "usage": session.usage.to_dict(),
                "cost_usd": session.cost_usd,
                "retries": state.base_retries,
            },
        )
        return session

    async def _update(self, agent_id: str, **changes: Any) -> AgentResult:
        """Change an agent's record, in memory and in the store."""
        result = self.state.evolve(agent_id, **changes)
        await self.journal.save_agent(result)
        return result

    # --- scheduling --------------------------------------------------------------

    async def _release_first(self) -> None:
        """Queue the agents that can start now; on a resume, from the kept records."""
        state, ready = self.state, self.scheduler.ready
        if self.resume is None:
            ready.extend(state.ready_at_start())
            return
        for spec in state.specs.values():
            parent = spec.fork_from.agent if spec.fork_from is not None else None
            if spec.id in state.kept or (parent is not None and parent not in state.kept):
                continue  # kept, or released when its parent finishes in this attempt
            if parent is None or state.results[parent].succeeded:
                ready.push(spec)
            else:
                parent_result = state.results[parent]
                why = f"agent {parent!r}, which ended {parent_result.status.value}"
                await self._skip_tree(spec.id, why)
        failed = state.first_failed_kept()
        if self.plan.execution.fail_fast and failed is not None:
            reason = f"fail_fast: agent {failed.agent_id} {failed.status.value}"
            self.stop(reason, RunStatus.FAILED, cancel_running=True)
        self._check_budget()

    def _starter(self, nursery: trio.Nursery) -> Callable[[AgentSpec, object], None]:
        def start(spec: AgentSpec, token: object) -> None:
            nursery.start_soon(self._agent_task, spec, token, name=f"agent:{spec.id}")

        return start

    async def _agent_task(self, spec: AgentSpec, token: object) -> None:
        try:
            # Bound for this task's log lines: a trio task runs in a context of its own,
            # so nothing needs resetting when it ends.
            structlog.contextvars.bind_contextvars(run_id=self.run_id, agent_id=spec.id)
            await self._run_agent(spec, token)
        finally:
            self.scheduler.finished(token)

    async def _run_agent(self, spec: AgentSpec, token: object) -> None:
        state = self.state
        started = trio.current_time()
        sink: PersistingSink | None = None
        ended: dict[str, Any] | None = None  # how the agent ended: the final record's changes
        worktree_start: str | None = None  # set once the agent has a worktree of its own
        try:
            assert state.base is not None  # agents start once the base is ready
            request = await agent_request(
                self.plan,
                self.run_id,
                spec,
                base=state.base,
                results=state.results,
                store=self.journal,
                continued=state.continued,
            )
            if self.workspaces is not None and spec.workspace == "worktree":
                start = worktree_start_commit(spec, state.results, self.workspaces.repo.base_commit)
                cwd = await self.workspaces.open(spec.id, start, request.cwd)
                worktree_start = start
                request = dataclasses.replace(request, cwd=cwd, own_worktree=True)
            sink = self._sink(
                spec.id, request.parent_session_id, request.fork_point, request.resume_session_id
            )
            result = await self._update(
                spec.id,
                status=AgentStatus.RUNNING,
                started_at=utc_now(),
                parent_session_id=request.parent_session_id,
                fork_point=request.fork_point,
                # a resumed agent starts clean; it keeps its session only to continue it
                session_id=request.resume_session_id,
                error=None,
                ended_at=None,
                duration_s=None,
                output=None,
            )
            self.log.debug("agent.started")
            if self.feed.listened:
                await self.feed.emit(
                    EventKind.STARTED,
                    spec.id,
                    result=result,
                    data={
                        "model": request.model,
                        "fork_from": spec.fork_from.agent if spec.fork_from is not None else None,
                    },
                )
            trace_context = self.feed.trace_context(spec.id)
            if trace_context:
                request = dataclasses.replace(request, trace_context=trace_context)
            if self.hooks.pre_agent:
                seen = as_stored(request)
                for hook in self.hooks.pre_agent:
                    await hook(seen)
            timeout = spec.timeout_s
            if timeout is None:
                outcome = await self.engine.run_agent(request, sink)
                timed_out = False
            else:
                with trio.move_on_after(timeout) as timeout_scope:
                    outcome = await self.engine.run_agent(request, sink)
                timed_out = timeout_scope.cancelled_caught
            if timed_out:
                ended = ending(sink, AgentStatus.TIMED_OUT, f"timed out after {timeout}s")
            else:
                ended = ending(sink, AgentStatus.SUCCEEDED, None)
                ended.update(
                    output=outcome.output,
                    session_id=outcome.session_id,
                    turns=outcome.turns,
                    usage=outcome.usage,
                    cost_usd=outcome.cost_usd,
                    output_is_simulated=outcome.output_is_simulated,
                )
        except trio.Cancelled:
            ended = ending(sink, AgentStatus.CANCELLED, state.stop_reason or "cancelled")
            raise
        except SkipAgent as exc:
            ended = ending(sink, AgentStatus.SKIPPED, f"skipped by a hook: {exc}")
        except StoreError:
            raise
        except Exception as exc:  # one agent's failure is its own record, not the run's crash
            self.log.debug("agent.failed.traceback", exception=format_traceback(exc))
            ended = ending(sink, AgentStatus.FAILED, failure_reason(exc))
        finally:
            if ended is not None:
                now = trio.current_time()
                state.times[spec.id] = (started, now)
                if ended.get("session_id") is None:
                    ended["session_id"] = state.results[spec.id].session_id
                grace = now + self.options.final_write_grace_s  # shielded, but bounded
                with trio.CancelScope(deadline=grace, shield=True):
                    change = None
                    if worktree_start is not None:
                        assert self.workspaces is not None
                        task = task_of(spec, self.resume, state.continued)
                        change = await commit_worktree(
                            self.workspaces, spec, worktree_start, ended, task=task, log=self.log
                        )
                    final = redact_record(
                        state.results[spec.id].evolve(
                            ended_at=utc_now(), duration_s=now - started, **ended
                        )
                    )
                    await self._finish(final, sink, change, token)

    async def _finish(
        self,
        result: AgentResult,
        sink: PersistingSink | None,
        change: WorkspaceChange | None = None,
        token: object | None = None,
    ) -> None:
        self.state.results[result.agent_id] = result
        # The final checkpoint first: once the record says final, its checkpoint exists.
        checkpoints = sink.checkpoints if sink is not None else None
        if checkpoints is not None and sink is not None and sink.last_message is not None:
            description = f"{result.agent_id} {result.status.value}"
            checkpoint = await checkpoints.take(
                "final",
                description,
                cost_usd=result.cost_usd,
                workspace=change.to_dict() if change is not None else None,
            )
            if self.feed.listened:
                data = checkpoint.to_dict()
                await self.feed.emit(EventKind.CHECKPOINT, result.agent_id, data=data)
        await self.journal.save_agent(result)
        if token is not None and result.succeeded and self.plan.execution.budget is None:
            # The next agent need not wait for this commit. Not after a failure or with a
            # budget: fail_fast and the budget act on this agent's end before anything
            # else starts.
            self.scheduler.settle(token)
        # Durable before anything learns the agent ended (an event, a hook, a fork of it):
        # a finished agent is never run again, even after a power cut.
        await self.journal.commit()
        self.state.ended(result)
        self.log.info(
            "agent.finished",
            agent_id=result.agent_id,
            status=result.status.value,
            seconds=round(result.duration_s or 0.0, 3),
            error=result.error,
        )
        if self.feed.listened:
            await self.feed.emit(EventKind.FINISHED, result.agent_id, result=result)
        for hook in self.hooks.post_agent:
            try:
                await hook(result)
            except Exception as exc:
                self.log.warning("hook.failed", agent_id=result.agent_id, error=repr(exc))
        await self._after(result)

    async def _after(self, result: AgentResult) -> None:
        """Release or skip dependants, then apply fail_fast and the budget."""
        state = self.state
        for child in state.children.get(result.agent_id, ()):
            if child in state.kept:
                continue
            if result.succeeded and not self.scheduler.closed:
                self.scheduler.ready.push(state.specs[child])
            elif result.succeeded:
                continue
            else:
                why = f"agent {result.agent_id!r}, which ended {result.status.value}"
                await self._skip_tree(child, why)
        if (
            self.plan.execution.fail_fast
            and result.status in FAILED_STATUSES
            and state.stop_reason is None
        ):
            self.stop(
                f"fail_fast: agent {result.agent_id} {result.status.value}",
                RunStatus.FAILED,
                cancel_running=True,
            )
        self._check_budget()
        self.scheduler.wake()

    def _check_budget(self) -> None:
        spent = self.state.budget_exhausted()
        if spent is not None:
            budget = self.plan.execution.budget
            assert budget is not None
            self.log.warning("budget.exhausted", spent=spent)
            self.stop(
                f"budget exhausted ({spent})",
                RunStatus.BUDGET_EXHAUSTED,
                cancel_running=budget.on_exhausted == "cancel",
            )

    async def _skip_tree(self, agent_id: str, why: str) -> None:
        result = await self._update(
            agent_id, status=AgentStatus.SKIPPED, error=f"skipped: it forks from {why}"
        )
        await self.feed.emit(EventKind.FINISHED, agent_id, result=result)
        for child in self.state.children.get(agent_id, ()):
            await self._skip_tree(child, f"agent {agent_id!r}, which was skipped")

    # --- the end -----------------------------------------------------------------

    async def _finalize(self, error: str | None) -> SwarmResult:
        state = self.state
        leftover = state.leftovers(error)
        if leftover:
            await self.journal.save_agents(self.run_id, leftover)
        metrics = run_metrics(
            state.times,
            state.results.values(),
            wall_s=self.feed.elapsed(),
            base_s=state.base_s,
            max_parallel=self.scheduler.max_parallel,
            peak_concurrency=self.scheduler.peak,
            usage=state.spent,
            cost_usd=state.spent_usd,
            extra_retries=state.base_retries,
            forks_from=state.forks_from(),
        )
        run_status = state.status(error)
        stored = await self.journal.run_record()
        attempts = update_last(
            stored.attempts,
            ended_at=utc_now(),
            status=run_status.value,
            wall_s=metrics.wall_s,
            agents_wall_s=metrics.agents_wall_s,
            peak_concurrency=metrics.peak_concurrency,
        )
        if self.resume is not None:
            kept = [state.results[i] for i in state.kept]
            metrics = merge_metrics(metrics, attempts[:-1], kept, base_s=state.base_s)
        final = redact_record(
            stored.evolve(
                status=run_status,
                ended_at=utc_now(),
                metrics=metrics,
                error=error or state.stop_reason,
                attempts=attempts,
            )
        )
        await self.journal.save_run(final)
        swarm = SwarmResult.from_records(final, list(state.results.values()))
        self.log.info(
            "run.finished",
            status=run_status.value,
            wall_s=round(metrics.wall_s, 3),
            speedup=round(metrics.speedup, 2),
        )
        await self.feed.emit(EventKind.RUN_FINISHED, swarm=swarm)
        return swarm
