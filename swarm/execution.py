"""One execution of a plan: the first run, or one ``swarm resume`` of it.

:class:`Execution` holds a run's state and drives it. One nursery owns every
agent task; a ``trio.CapacityLimiter`` is the window: in ``window`` mode a slot
freed by any agent goes at once to the highest-priority agent waiting; in
``batch`` mode (claude-flow's, kept for comparison) fixed batches wait for their
slowest agent. Each agent runs under its own ``move_on_after``; backends take no
timeout. Every state change is persisted before it is acted on, and final
records are written under a shield so a cancelled run still keeps them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog
import trio

from ._log import get_logger
from ._redaction import redact, redact_plan, redact_record, redact_text
from .backends import AgentRequest, BaseSession
from .errors import SkipAgent, StoreError, failure_reason, first_leaf, format_traceback
from .events import EventKind, SwarmEvent
from .forking import agent_request, base_request, recorded_base_retries
from .metrics import run_metrics
from .plan import AgentSpec, Plan
from .records import (
    AgentResult,
    AgentStatus,
    Lease,
    RunRecord,
    RunStatus,
    SwarmResult,
    Usage,
    utc_now,
)
from .resume import ResumeState, base_entry, merge_metrics, new_attempt, update_last
from .scheduling import AIMDWindow, ReadyQueue
from .session_meta import SessionDescriber
from .sink import PersistingSink, ending
from .timeline import CheckpointPolicy, RunCheckpoints

if TYPE_CHECKING:
    from .executor import ParallelSwarmExecutor

log = get_logger("swarm.executor")


class Execution:
    """The state of one execution of a plan: the first run, or one `swarm resume` of it."""

    def __init__(
        self,
        executor: ParallelSwarmExecutor,
        plan: Plan,
        run_id: str,
        events: trio.MemorySendChannel[SwarmEvent] | None,
        plan_path: str | None,
        *,
        owner: str = "",
        resume: ResumeState | None = None,
    ) -> None:
        self.executor = executor
        self.store = executor.store
        self.plan = plan
        self.run_id = run_id
        self.events = events
        self.plan_path = plan_path
        self.specs = {a.id: plan.resolved(a) for a in plan.agents}
        self.order = {a.id: i for i, a in enumerate(plan.agents)}
        self.children: dict[str, list[str]] = {}
        for spec in self.specs.values():
            if spec.fork_from is not None:
                self.children.setdefault(spec.fork_from.agent, []).append(spec.id)
        self.results = {
            a.id: AgentResult(agent_id=a.id, priority=a.priority.value) for a in plan.agents
        }
        self.ready = ReadyQueue(self.order, executor.options.expected_durations)
        self.max_parallel = plan.execution.max_parallel
        self.limiter = trio.CapacityLimiter(self.max_parallel)
        self.window = AIMDWindow(self.max_parallel, executor.options.rate_limit_cooldown_s)
        self.wakeup = trio.lowlevel.ParkingLot()
        self.stop_scope = trio.CancelScope()
        self.stop_reason: str | None = None
        self.stop_status: RunStatus | None = None
        self.starting_closed = False
        self.running = 0
        self.peak = 0
        self.times: dict[str, tuple[float, float]] = {}
        self.base: BaseSession | None = None
        self.base_s = 0.0
        self.base_retries = 0  # API retries while the base was built (counted with the agents')
        self.spent = Usage()
        self.spent_usd = 0.0
        self.t0 = 0.0
        self.log = log.bind(run_id=run_id)
        self.owner = owner
        self.fenced = False  # set when another process took the lease: write nothing more
        self.resume = resume
        self.kept: frozenset[str] = frozenset()
        if resume is not None:
            self.results = dict(resume.agents)
            self.kept = resume.kept
            for agent_id in self.kept:
                self.spent = self.spent + self.results[agent_id].usage
                self.spent_usd += self.results[agent_id].cost_usd
        self.checkpoints = RunCheckpoints(self.store, CheckpointPolicy.from_spec(plan.checkpoints))
        self.describer = SessionDescriber(git=executor.options.git_metadata)

    # --- helpers ---------------------------------------------------------------

    def elapsed(self) -> float:
        return trio.current_time() - self.t0

    async def describe_session(
        self, agent_id: str | None, reported: Mapping[str, Any]
    ) -> dict[str, Any]:
        spec = self.specs.get(agent_id) if agent_id else None
        cwd = spec.cwd if spec is not None else self.plan.defaults.cwd
        return await self.describer.describe(
            cwd=cwd, model=self.model_of(agent_id), reported=reported
        )

    def model_of(self, agent_id: str | None) -> str | None:
        spec = self.specs.get(agent_id) if agent_id else None
        return spec.model if spec is not None else self.plan.defaults.model

    async def emit(self, kind: EventKind, agent_id: str | None = None, **fields: Any) -> None:
        if self.events is None:
            return
        if fields.get("detail"):  # a retry's reason: the API's words (records come redacted)
            fields["detail"] = redact_text(fields["detail"])
        event = SwarmEvent(kind, self.run_id, self.elapsed(), agent_id, **fields)
        try:
            await self.events.send(event)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.events = None  # nobody listens any more; the run goes on

    async def update_agent(self, agent_id: str, **changes: Any) -> AgentResult:
        result = self.results[agent_id].evolve(**changes)
        if changes.get("output") or changes.get("error"):
            # Secrets go where a result enters the run: the store, the events, the hooks and
            # the returned result all hold this one record (swarm.redaction.redact_record).
            result = redact_record(result)
        self.results[agent_id] = result
        if not self.fenced:
            await self.store.save_agents(self.run_id, [result])
        return result

    def lease_lost(self, lease: Lease) -> None:
        """Another process took the run's lease (this one was paused past its expiry)."""
        self.fenced = True
        self.stop(
            f"the run's lease was taken over by {lease.owner}; this process stopped writing",
            RunStatus.INTERRUPTED,
            cancel_running=True,
        )

    def on_retry(self, status: int | None) -> bool:
        """Narrow the window on a rate limit; True if it changed."""
        if status in (429, 529) and self.window.on_rate_limited(trio.current_time()):
            self.limiter.total_tokens = self.window.size
            self.log.warning("window.narrowed", size=self.window.size, status=status)
            return True
        return False

    def on_call_succeeded(self) -> bool:
        """Count a successful call toward widening the window; True if it widened."""
        if self.window.on_success():
            self.limiter.total_tokens = self.window.size
            self.log.info("window.widened", size=self.window.size)
            return True
        return False

    def interrupt(self, reason: str) -> None:
        self.stop(reason, RunStatus.INTERRUPTED, cancel_running=True)

    def stop(self, reason: str, status: RunStatus, *, cancel_running: bool) -> None:
        """Start no more agents; optionally cancel the running ones."""
        if self.stop_reason is None:
            self.stop_reason, self.stop_status = reason, status
        self.starting_closed = True
        if cancel_running:
            self.stop_scope.cancel()
        self.wakeup.unpark_all()

    # --- the run ---------------------------------------------------------------

    async def execute(self) -> SwarmResult:
        self.t0 = trio.current_time()
        record = RunRecord(
            run_id=self.run_id,
            plan=redact_plan(self.plan.model_dump(mode="json")),
            name=self.plan.name,
            plan_path=self.plan_path,
            backend=self.executor.backend.name,
            attempts=new_attempt([], "run", self.owner),
            rehearsal=self._rehearsal(),
        )
        record = redact_record(record)  # the rehearsal's script may quote a key in a reply
        if self.resume is not None:
            old = self.resume.record
            record = old.evolve(
                status=RunStatus.RUNNING,
                ended_at=None,
                error=None,
                # a resume against the real API keeps the mark: part of the run was rehearsed
                rehearsal=self._rehearsal() or old.rehearsal,
                attempts=new_attempt(old.attempts, "resume", self.owner, **self.resume.summary()),
            )
            self.log.info("run.resumed", **{k: len(v) for k, v in self.resume.summary().items()})
        # Journal first: the plan and every agent exist in the store before anything runs.
        await self.store.save_run(record)
        await self.store.save_agents(self.run_id, list(self.results.values()))
        self.log.info("run.started", agents=len(self.specs), max_parallel=self.max_parallel)
        await self.emit(EventKind.RUN_STARTED, data={"agents": len(self.specs)})
        for spec in sorted(self.specs.values(), key=self.ready.key):
            await self.emit(EventKind.QUEUED, spec.id, result=self.results[spec.id])
        error: StoreError | None = None
        result: SwarmResult | None = None
        try:
            with self.stop_scope:
                self.base = await self._open_base()
                if self.base is not None:
                    await self._release_first()
                    async with trio.open_nursery() as nursery:
                        if self.plan.execution.mode == "batch":
                            await self._schedule_batches(nursery)
                        else:
                            await self._schedule_window(nursery)
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
            with trio.move_on_after(self.executor.options.final_write_grace_s) as scope:
                scope.shield = True
                try:
                    result = await self._finalize(record, str(error) if error else None)
                except StoreError as exc:
                    if error is None:
                        raise
                    # the first store error is what the caller reports, once
                    self.log.info("run.finalize_failed", error=str(exc))
                finally:
                    if self.events is not None:
                        await self.events.aclose()
        if result is None:
            raise StoreError(
                f"run {self.run_id}: the final records could not be written within "
                f"{self.executor.options.final_write_grace_s} s"
            )
        return result

    def _rehearsal(self) -> dict[str, Any] | None:
        rehearsal = self.executor.options.rehearsal
        return dict(rehearsal) if rehearsal is not None else None

    def _cancelled_by_caller(self) -> None:
        if self.stop_reason is None:
            self.stop_reason, self.stop_status = "cancelled by the caller", RunStatus.INTERRUPTED

    async def _open_base(self) -> BaseSession | None:
        if self.resume is not None and self.resume.base is not None:
            # Reused, never rebuilt: its usage is already in self.spent's accounts.
            self.base_s = self.resume.base_s
            self.base_retries = recorded_base_retries(self.resume.record)
            self.spent = self.spent + self.resume.base.usage
            self.spent_usd += self.resume.base.cost_usd
            await self.emit(EventKind.BASE_READY, detail=self.resume.base.session_id)
            return self.resume.base
        sink = PersistingSink(self, None, None, None)
        request = base_request(self.plan, self.run_id)
        await self.emit(EventKind.BASE_STARTED)
        started = trio.current_time()
        try:
            session = await self.executor.backend.open_base(request, sink)
        except StoreError:
            raise
        except Exception as exc:  # any backend failure, foreseen or not, ends the run plainly
            self.base_retries = sink.retries
            reason = f"the base session could not be built: {failure_reason(exc)}"
            self.log.error("base.failed", error=failure_reason(exc))
            self.log.debug("base.failed.traceback", exception=format_traceback(exc))
            for agent_id in self.specs:
                if agent_id not in self.kept:
                    await self.update_agent(agent_id, status=AgentStatus.SKIPPED, error=reason)
            self.stop(reason, RunStatus.FAILED, cancel_running=False)
            return None
        self.base_s = trio.current_time() - started
        self.base_retries = sink.retries
        self.spent, self.spent_usd = self.spent + session.usage, self.spent_usd + session.cost_usd
        record = await self._record()
        entry = base_entry(session, self.base_s, self.base_retries)
        await self.store.save_run(
            record.evolve(
                base_session_id=session.session_id,
                attempts=update_last(record.attempts, base=entry),
            )
        )
        self.log.info("base.ready", session_id=session.session_id, seconds=self.base_s)
        await self.emit(EventKind.BASE_READY, detail=session.session_id)
        return session

    async def _record(self) -> RunRecord:
        record = await self.store.get_run(self.run_id)
        if record is None:
            raise StoreError(f"run {self.run_id} vanished from the store")
        return record

    # --- scheduling --------------------------------------------------------------

    async def _release_first(self) -> None:
        """Queue the agents that can start now; on a resume, from the kept records."""
        if self.resume is None:
            self.ready.extend(s for s in self.specs.values() if s.fork_from is None)
            return
        for spec in self.specs.values():
            parent = spec.fork_from.agent if spec.fork_from is not None else None
            if spec.id in self.kept or (parent is not None and parent not in self.kept):
                continue  # kept, or released when its parent finishes in this attempt
            if parent is None or self.results[parent].succeeded:
                self.ready.push(spec)
            else:
                parent_result = self.results[parent]
                why = f"agent {parent!r}, which ended {parent_result.status.value}"
                await self._skip_tree(spec.id, why)
        failed = [
            self.results[i]
            for i in self.kept
            if self.results[i].status in (AgentStatus.FAILED, AgentStatus.TIMED_OUT)
        ]
        if self.plan.execution.fail_fast and failed:
            first = min(failed, key=lambda r: self.order[r.agent_id])
            reason = f"fail_fast: agent {first.agent_id} {first.status.value}"
            self.stop(reason, RunStatus.FAILED, cancel_running=True)
        self._check_budget()

    async def _schedule_window(self, nursery: trio.Nursery) -> None:
        while True:
            while not self.ready or self.starting_closed:
                if self.running == 0 and (not self.ready or self.starting_closed):
                    return
                await self.wakeup.park()
            token = object()
            await self.limiter.acquire_on_behalf_of(token)
            if not self.ready or self.starting_closed:
                self.limiter.release_on_behalf_of(token)
                continue
            self._start(nursery, self.ready.pop(), token)

    async def _schedule_batches(self, nursery: trio.Nursery) -> None:
        while not self.starting_closed:
            if not self.ready:
                if self.running == 0:
                    return
                await self.wakeup.park()
                continue
            batch = [self.ready.pop() for _ in range(min(len(self.ready), self.max_parallel))]
            for spec in batch:
                token = object()
                await self.limiter.acquire_on_behalf_of(token)
                self._start(nursery, spec, token)
            while self.running:
                await self.wakeup.park()

    def _start(self, nursery: trio.Nursery, spec: AgentSpec, token: object) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        nursery.start_soon(self._agent_task, spec, token, name=f"agent:{spec.id}")

    async def _agent_task(self, spec: AgentSpec, token: object) -> None:
        try:
            with structlog.contextvars.bound_contextvars(run_id=self.run_id, agent_id=spec.id):
                await self._run_agent(spec)
        finally:
            self.running -= 1
            self.limiter.release_on_behalf_of(token)
            self.wakeup.unpark_all()

    async def _run_agent(self, spec: AgentSpec) -> None:
        started = trio.current_time()
        sink: PersistingSink | None = None
        ended: dict[str, Any] | None = None  # how the agent ended: the final record's changes
        try:
            assert self.base is not None  # agents start once the base is ready
            request = await agent_request(
                self.plan,
                self.run_id,
                spec,
                base=self.base,
                results=self.results,
                store=self.store,
                continued=self.resume.continued if self.resume is not None else frozenset(),
            )
            sink = PersistingSink(
                self,
                spec.id,
                request.parent_session_id,
                request.fork_point,
                request.resume_session_id,
            )
            result = await self.update_agent(
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
            await self.emit(EventKind.STARTED, spec.id, result=result)
            if self.executor.pre_agent:
                seen = _as_stored(request)
                for hook in self.executor.pre_agent:
                    await hook(seen)
            timeout = spec.timeout_s if spec.timeout_s is not None else math.inf
            with trio.move_on_after(timeout) as timeout_scope:
                outcome = await self.executor.backend.run_agent(request, sink)
            if timeout_scope.cancelled_caught:
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
            ended = ending(sink, AgentStatus.CANCELLED, self.stop_reason or "cancelled")
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
                self.times[spec.id] = (started, now)
                if ended.get("session_id") is None:
                    ended["session_id"] = self.results[spec.id].session_id
                final = redact_record(
                    self.results[spec.id].evolve(
                        ended_at=utc_now(), duration_s=now - started, **ended
                    )
                )
                with trio.move_on_after(self.executor.options.final_write_grace_s) as scope:
                    scope.shield = True
                    await self._finish(final, sink)

    async def _finish(self, result: AgentResult, sink: PersistingSink | None) -> None:
        self.results[result.agent_id] = result
        # The final checkpoint first: once the record says final, its checkpoint exists.
        checkpoints = sink.checkpoints if sink is not None else None
        if checkpoints is not None and sink is not None and sink.last_message is not None:
            description = f"{result.agent_id} {result.status.value}"
            await checkpoints.take("final", description, cost_usd=result.cost_usd)
        if not self.fenced:
            await self.store.save_agents(self.run_id, [result])
        self.spent = self.spent + result.usage
        self.spent_usd += result.cost_usd
        self.log.info(
            "agent.finished",
            agent_id=result.agent_id,
            status=result.status.value,
            seconds=round(result.duration_s or 0.0, 3),
            error=result.error,
        )
        await self.emit(EventKind.FINISHED, result.agent_id, result=result)
        for hook in self.executor.post_agent:
            try:
                await hook(result)
            except Exception as exc:
                self.log.warning("hook.failed", agent_id=result.agent_id, error=repr(exc))
        await self._after(result)

    async def _after(self, result: AgentResult) -> None:
        """Release or skip dependants, then apply fail_fast and the budget."""
        for child in self.children.get(result.agent_id, ()):
            if child in self.kept:
                continue
            if result.succeeded and not self.starting_closed:
                self.ready.push(self.specs[child])
            elif result.succeeded:
                continue
            else:
                why = f"agent {result.agent_id!r}, which ended {result.status.value}"
                await self._skip_tree(child, why)
        if (
            self.plan.execution.fail_fast
            and result.status in (AgentStatus.FAILED, AgentStatus.TIMED_OUT)
            and self.stop_reason is None
        ):
            self.stop(
                f"fail_fast: agent {result.agent_id} {result.status.value}",
                RunStatus.FAILED,
                cancel_running=True,
            )
        self._check_budget()
        self.wakeup.unpark_all()

    def _check_budget(self) -> None:
        budget = self.plan.execution.budget
        if budget is not None and self.stop_reason is None:
            over_cost = budget.max_cost_usd is not None and self.spent_usd >= budget.max_cost_usd
            over_tokens = budget.max_tokens is not None and self.spent.total >= budget.max_tokens
            if over_cost or over_tokens:
                spent = f"${self.spent_usd:.4f}, {self.spent.total} tokens"
                self.log.warning("budget.exhausted", spent=spent)
                self.stop(
                    f"budget exhausted ({spent})",
                    RunStatus.BUDGET_EXHAUSTED,
                    cancel_running=budget.on_exhausted == "cancel",
                )

    async def _skip_tree(self, agent_id: str, why: str) -> None:
        result = await self.update_agent(
            agent_id, status=AgentStatus.SKIPPED, error=f"skipped: it forks from {why}"
        )
        await self.emit(EventKind.FINISHED, agent_id, result=result)
        for child in self.children.get(agent_id, ()):
            await self._skip_tree(child, f"agent {agent_id!r}, which was skipped")

    # --- the end -----------------------------------------------------------------

    async def _finalize(self, record: RunRecord, error: str | None) -> SwarmResult:
        leftover = []
        for result in self.results.values():
            if not result.status.is_final:
                status = (
                    AgentStatus.CANCELLED
                    if self.stop_status is RunStatus.INTERRUPTED
                    else AgentStatus.SKIPPED
                )
                reason = self.stop_reason or error or "the run ended before it started"
                if result.status is AgentStatus.RUNNING:
                    status = AgentStatus.CANCELLED
                leftover.append(redact_record(result.evolve(status=status, error=reason)))
        for result in leftover:
            self.results[result.agent_id] = result
        if leftover and not self.fenced:
            await self.store.save_agents(self.run_id, leftover)
        metrics = run_metrics(
            self.times,
            self.results.values(),
            wall_s=self.elapsed(),
            base_s=self.base_s,
            max_parallel=self.max_parallel,
            peak_concurrency=self.peak,
            usage=self.spent,
            cost_usd=self.spent_usd,
            extra_retries=self.base_retries,
            forks_from={
                spec.id: spec.fork_from.agent
                for spec in self.specs.values()
                if spec.fork_from is not None
            },
        )
        run_status = self._status(error)
        stored = await self._record()
        attempts = update_last(
            stored.attempts,
            ended_at=utc_now(),
            status=run_status.value,
            wall_s=metrics.wall_s,
            agents_wall_s=metrics.agents_wall_s,
            peak_concurrency=metrics.peak_concurrency,
        )
        if self.resume is not None:
            kept = [self.results[i] for i in self.kept]
            metrics = merge_metrics(metrics, attempts[:-1], kept, base_s=self.base_s)
        final = redact_record(
            stored.evolve(
                status=run_status,
                ended_at=utc_now(),
                metrics=metrics,
                error=error or self.stop_reason,
                attempts=attempts,
            )
        )
        if not self.fenced:
            await self.store.save_run(final)
        swarm = SwarmResult.from_records(final, list(self.results.values()))
        self.log.info(
            "run.finished",
            status=run_status.value,
            wall_s=round(metrics.wall_s, 3),
            speedup=round(metrics.speedup, 2),
        )
        await self.emit(EventKind.RUN_FINISHED, swarm=swarm)
        return swarm

    def _status(self, error: str | None) -> RunStatus:
        if error is not None:
            return RunStatus.FAILED
        if self.stop_status is not None:
            return self.stop_status
        if all(r.succeeded for r in self.results.values()):
            return RunStatus.SUCCEEDED
        return RunStatus.FAILED


def _as_stored(request: AgentRequest) -> AgentRequest:
    """What a pre-agent hook is shown of a request: its prompts as the store keeps them,
    the values of its secret-named env entries and options blanked (the backend gets the
    request itself)."""
    return dataclasses.replace(
        request,
        prompt=redact_text(request.prompt),
        system_prompt=None if request.system_prompt is None else redact_text(request.system_prompt),
        env=redact(dict(request.env)),
        options=redact(dict(request.options)),
    )
