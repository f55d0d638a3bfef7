"""The ParallelSwarmExecutor: a trio scheduler for agents forked off one base session.

One nursery owns every agent task. A ``trio.CapacityLimiter`` is the window:
in ``window`` mode a slot freed by any agent goes at once to the
highest-priority agent waiting; in ``batch`` mode (claude-flow's, kept for
comparison) fixed batches wait for their slowest agent. Time belongs to the
executor: each agent runs under its own ``move_on_after``; backends take no
timeout. Every state change is persisted before it is acted on, and final
records are written under a shield so a cancelled run still keeps them.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
import trio

from .backends.base import AgentRequest, Backend, BaseRequest, BaseSession
from .errors import BackendError, StoreError, SwarmError
from .events import EventKind, SwarmEvent
from .plan import AgentSpec, Plan
from .records import (
    AgentResult,
    AgentStatus,
    Checkpoint,
    Message,
    RunRecord,
    RunStatus,
    SessionRecord,
    SwarmMetrics,
    SwarmResult,
    Usage,
    new_uuid,
    utc_now,
)
from .runids import new_run_id
from .scheduling import AIMDWindow, ReadyQueue
from .stores.base import Store

log = structlog.get_logger("swarm.executor")

PreAgentHook = Callable[[AgentRequest], Awaitable[None]]
PostAgentHook = Callable[[AgentResult], Awaitable[None]]


class SkipAgent(SwarmError):
    """Raised by a pre-agent hook to skip that agent; the message becomes its reason."""


@dataclass(frozen=True, slots=True)
class ExecutorOptions:
    """Tuning that is not part of a plan.

    ``expected_durations`` (agent id -> seconds, e.g. from earlier runs in the
    store) turns on longest-first ordering within a priority class.
    ``final_write_grace_s`` bounds the shielded writes of a cancelled run.
    """

    expected_durations: Mapping[str, float] = field(default_factory=dict)
    final_write_grace_s: float = 15.0
    rate_limit_cooldown_s: float = 1.0


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
        self._current: _Run | None = None

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
        and re-raises; :meth:`cancel` stops the run and returns its result.
        """
        run = _Run(self, plan, run_id or new_run_id(), events, plan_path)
        self._current = run
        try:
            return await run.execute()
        finally:
            self._current = None

    def cancel(self, reason: str = "interrupted") -> None:
        """Stop the current run: running agents are cancelled, waiting ones marked."""
        if self._current is not None:
            self._current.interrupt(reason)


class _Sink:
    """Persists what a backend reports about one session, then tells the run."""

    def __init__(self, run: _Run, agent_id: str | None, parent: str | None, fork: str | None):
        self.run = run
        self.agent_id = agent_id
        self.parent_session_id = parent
        self.fork_point = fork
        self.session_id: str | None = None
        self.last_message: str | None = None
        self.message_count = 0
        self.turns = 0
        self.usage = Usage()
        self.retries = 0

    async def session_started(self, session_id: str, *, metadata: Mapping[str, Any]) -> None:
        self.session_id = session_id
        await self.run.store.save_session(
            SessionRecord(
                session_id=session_id,
                backend=self.run.executor.backend.name,
                run_id=self.run.run_id,
                agent_id=self.agent_id,
                parent_session_id=self.parent_session_id,
                fork_point=self.fork_point,
                model=self.run.model_of(self.agent_id),
                metadata=dict(metadata),
            )
        )
        if self.agent_id is not None:
            await self.run.update_agent(self.agent_id, session_id=session_id)

    async def message(self, message: Message) -> None:
        await self.run.store.append_messages(message.session_id, [message])
        self.last_message = message.uuid
        self.message_count += 1
        self.turns += message.role == "assistant"
        self.usage = self.usage + message.usage
        await self.run.emit(EventKind.MESSAGE, self.agent_id, message=message)

    async def retry(self, *, status: int | None, reason: str, delay_s: float) -> None:
        self.retries += 1
        self.run.on_retry(status)
        await self.run.emit(
            EventKind.RETRY,
            self.agent_id,
            detail=reason,
            data={"status": status, "delay_s": delay_s, "attempt": self.retries},
        )

    async def succeeded_call(self) -> None:
        self.run.on_call_succeeded()


class _Run:
    """The state of one execution of a plan."""

    def __init__(
        self,
        executor: ParallelSwarmExecutor,
        plan: Plan,
        run_id: str,
        events: trio.MemorySendChannel[SwarmEvent] | None,
        plan_path: str | None,
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
        self.spent = Usage()
        self.spent_usd = 0.0
        self.t0 = 0.0
        self.log = log.bind(run_id=run_id)

    # --- helpers ---------------------------------------------------------------

    def elapsed(self) -> float:
        return trio.current_time() - self.t0

    def model_of(self, agent_id: str | None) -> str | None:
        spec = self.specs.get(agent_id) if agent_id else None
        return spec.model if spec is not None else self.plan.defaults.model

    async def emit(self, kind: EventKind, agent_id: str | None = None, **fields: Any) -> None:
        if self.events is None:
            return
        event = SwarmEvent(kind, self.run_id, self.elapsed(), agent_id, **fields)
        try:
            await self.events.send(event)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.events = None  # nobody listens any more; the run goes on

    async def update_agent(self, agent_id: str, **changes: Any) -> AgentResult:
        result = self.results[agent_id].evolve(**changes)
        self.results[agent_id] = result
        await self.store.save_agents(self.run_id, [result])
        return result

    def on_retry(self, status: int | None) -> None:
        if status in (429, 529) and self.window.on_rate_limited(trio.current_time()):
            self.limiter.total_tokens = self.window.size
            self.log.warning("window.narrowed", size=self.window.size, status=status)

    def on_call_succeeded(self) -> None:
        if self.window.on_success():
            self.limiter.total_tokens = self.window.size

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
            plan=self.plan.model_dump(mode="json"),
            name=self.plan.name,
            plan_path=self.plan_path,
            backend=self.executor.backend.name,
        )
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
                    self.ready.extend(s for s in self.specs.values() if s.fork_from is None)
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
                error = _first_leaf(store_errors)
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
                    self.log.error("run.finalize_failed", error=str(exc))
                finally:
                    if self.events is not None:
                        await self.events.aclose()
        if result is None:
            raise StoreError(
                f"run {self.run_id}: the final records could not be written within "
                f"{self.executor.options.final_write_grace_s} s"
            )
        return result

    def _cancelled_by_caller(self) -> None:
        if self.stop_reason is None:
            self.stop_reason, self.stop_status = "cancelled by the caller", RunStatus.INTERRUPTED

    async def _open_base(self) -> BaseSession | None:
        base = self.plan.base
        sink = _Sink(self, None, None, None)
        request = BaseRequest(
            run_id=self.run_id,
            prompt=base.prompt,
            session_id=base.session,
            at=base.at,
            model=self.plan.defaults.model,
            system_prompt=self.plan.defaults.system_prompt,
            cwd=self.plan.defaults.cwd,
            env=self.plan.defaults.env or {},
        )
        await self.emit(EventKind.BASE_STARTED)
        started = trio.current_time()
        try:
            session = await self.executor.backend.open_base(request, sink)
        except BackendError as exc:
            self.log.error("base.failed", error=str(exc))
            reason = f"the base session could not be built: {exc}"
            for agent_id in self.specs:
                await self.update_agent(agent_id, status=AgentStatus.SKIPPED, error=reason)
            self.stop(reason, RunStatus.FAILED, cancel_running=False)
            return None
        self.base_s = trio.current_time() - started
        self.spent, self.spent_usd = session.usage, session.cost_usd
        await self.store.save_run((await self._record()).evolve(base_session_id=session.session_id))
        self.log.info("base.ready", session_id=session.session_id, seconds=self.base_s)
        await self.emit(EventKind.BASE_READY, detail=session.session_id)
        return session

    async def _record(self) -> RunRecord:
        record = await self.store.get_run(self.run_id)
        if record is None:
            raise StoreError(f"run {self.run_id} vanished from the store")
        return record

    # --- scheduling --------------------------------------------------------------

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

    async def _request(self, spec: AgentSpec) -> AgentRequest:
        """The backend request of an agent: which session it forks, and at which message."""
        assert self.base is not None
        parent, fork_point = self.base.session_id, spec.fork_at or self.base.fork_point
        if spec.fork_from is not None:
            forked = self.results[spec.fork_from.agent].session_id
            assert forked is not None  # it succeeded before this agent became ready
            parent, fork_point = forked, spec.fork_at
        if spec.fork_from is not None and spec.fork_from.checkpoint != "latest":
            checkpoints = await self.store.list_checkpoints(parent)
            match = [c for c in checkpoints if c.checkpoint_id == spec.fork_from.checkpoint]
            if not match:
                raise BackendError(
                    f"fork_from: checkpoint {spec.fork_from.checkpoint!r} is not a checkpoint "
                    f"of agent {spec.fork_from.agent!r} (session {parent})"
                )
            fork_point = match[0].message_uuid
        options: dict[str, Any] = dict(self.plan.backend.options)
        if spec.simulated is not None:
            options["simulated"] = spec.simulated.model_dump(exclude_none=True)
        return AgentRequest(
            run_id=self.run_id,
            agent_id=spec.id,
            prompt=spec.prompt,
            parent_session_id=parent,
            fork_point=fork_point,
            model=spec.model,
            max_turns=spec.max_turns,
            system_prompt=spec.system_prompt,
            allowed_tools=tuple(spec.allowed_tools) if spec.allowed_tools is not None else None,
            permission_mode=spec.permission_mode,
            cwd=spec.cwd,
            env=spec.env or {},
            options=options,
        )

    async def _run_agent(self, spec: AgentSpec) -> None:
        started = trio.current_time()
        sink: _Sink | None = None
        final: AgentResult | None = None
        try:
            request = await self._request(spec)
            sink = _Sink(self, spec.id, request.parent_session_id, request.fork_point)
            result = await self.update_agent(
                spec.id,
                status=AgentStatus.RUNNING,
                started_at=utc_now(),
                parent_session_id=request.parent_session_id,
                fork_point=request.fork_point,
            )
            self.log.debug("agent.started")
            await self.emit(EventKind.STARTED, spec.id, result=result)
            for hook in self.executor.pre_agent:
                await hook(request)
            timeout = spec.timeout_s if spec.timeout_s is not None else math.inf
            with trio.move_on_after(timeout) as timeout_scope:
                outcome = await self.executor.backend.run_agent(request, sink)
            if timeout_scope.cancelled_caught:
                final = self._ended(
                    spec, sink, AgentStatus.TIMED_OUT, f"timed out after {timeout}s"
                )
            else:
                final = self._ended(spec, sink, AgentStatus.SUCCEEDED, None).evolve(
                    output=outcome.output,
                    session_id=outcome.session_id,
                    turns=outcome.turns,
                    usage=outcome.usage,
                    cost_usd=outcome.cost_usd,
                    output_is_simulated=outcome.output_is_simulated,
                )
        except trio.Cancelled:
            final = self._ended(spec, sink, AgentStatus.CANCELLED, self.stop_reason or "cancelled")
            raise
        except SkipAgent as exc:
            final = self._ended(spec, sink, AgentStatus.SKIPPED, f"skipped by a hook: {exc}")
        except StoreError:
            raise
        except Exception as exc:  # one agent's failure is its own record, not the run's crash
            reason = str(exc) if isinstance(exc, SwarmError) else f"{type(exc).__name__}: {exc}"
            final = self._ended(spec, sink, AgentStatus.FAILED, reason)
        finally:
            if final is not None:
                self.times[spec.id] = (started, trio.current_time())
                final = final.evolve(duration_s=trio.current_time() - started)
                with trio.move_on_after(self.executor.options.final_write_grace_s) as scope:
                    scope.shield = True
                    await self._finish(final, sink)

    def _ended(
        self, spec: AgentSpec, sink: _Sink | None, status: AgentStatus, error: str | None
    ) -> AgentResult:
        result = self.results[spec.id].evolve(status=status, error=error, ended_at=utc_now())
        if sink is not None:
            result = result.evolve(
                session_id=sink.session_id or result.session_id,
                turns=sink.turns,
                usage=sink.usage,
                retries=sink.retries,
            )
        return result

    async def _finish(self, result: AgentResult, sink: _Sink | None) -> None:
        if sink is not None:
            result = result.evolve(retries=sink.retries)
            if sink.session_id is not None and sink.last_message is not None:
                await self.store.save_checkpoint(
                    Checkpoint(
                        checkpoint_id=new_uuid(),
                        session_id=sink.session_id,
                        message_uuid=sink.last_message,
                        message_count=sink.message_count,
                        usage=result.usage,
                        cost_usd=result.cost_usd,
                        description=f"{result.agent_id} {result.status.value}",
                        kind="final",
                    )
                )
        self.results[result.agent_id] = result
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
            if result.succeeded and not self.starting_closed:
                self.ready.push(self.specs[child])
            elif result.succeeded:
                continue
            else:
                await self._skip_tree(child, f"{result.agent_id} {result.status.value}")
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
        self.wakeup.unpark_all()

    async def _skip_tree(self, agent_id: str, why: str) -> None:
        result = await self.update_agent(
            agent_id,
            status=AgentStatus.SKIPPED,
            error=f"skipped: the agent it forks from ended as {why}",
        )
        await self.emit(EventKind.FINISHED, agent_id, result=result)
        for child in self.children.get(agent_id, ()):
            await self._skip_tree(child, f"{agent_id} skipped")

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
                leftover.append(result.evolve(status=status, error=reason))
        for result in leftover:
            self.results[result.agent_id] = result
        if leftover:
            await self.store.save_agents(self.run_id, leftover)
        metrics = self._metrics()
        run_status = self._status(error)
        final = (await self._record()).evolve(
            status=run_status,
            ended_at=utc_now(),
            metrics=metrics,
            error=error or self.stop_reason,
        )
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

    def _metrics(self) -> SwarmMetrics:
        durations = [end - start for start, end in self.times.values()]
        total = sum(durations)
        longest = max(durations, default=0.0)
        if self.times:
            first = min(start for start, _ in self.times.values())
            last = max(end for _, end in self.times.values())
            agents_wall = last - first
        else:
            agents_wall = 0.0
        bound = max(longest, total / self.max_parallel)
        counts: dict[str, int] = {}
        for result in self.results.values():
            counts[result.status.value] = counts.get(result.status.value, 0) + 1
        usage = self.spent
        return SwarmMetrics(
            wall_s=self.elapsed(),
            base_s=self.base_s,
            agents_wall_s=agents_wall,
            total_agent_s=total,
            longest_agent_s=longest,
            speedup=total / agents_wall if agents_wall > 0 else 0.0,
            peak_concurrency=self.peak,
            max_parallel=self.max_parallel,
            makespan_lower_bound_s=bound,
            efficiency=bound / agents_wall if agents_wall > 0 else 0.0,
            usage=usage,
            cost_usd=self.spent_usd,
            retries=sum(r.retries for r in self.results.values()),
            counts=counts,
        )


def _first_leaf(group: BaseExceptionGroup[StoreError]) -> StoreError:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first
