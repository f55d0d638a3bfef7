"""The worker side of the Dask engine (:mod:`swarm.engine._dask`): what a worker runs for
one agent's call.

A sink cannot cross machines, so the worker persists what it produces itself: it opens
the run's store (its URL: a memory store cannot be shared), builds the backend from the
registry, and runs the call with a :class:`_WorkerSink` that writes the agent's session
and messages through a :class:`~swarm.engine._journal.Journal` of its own, in the same
order as the local sink, and streams each report back through the run's
``distributed.Queue``. Each worker process runs its calls in one trio run of its own
(:class:`_WorkerRuntime`), with its own HOME for the CLIs it starts.

A worker lost mid-agent: Dask runs the call again on another worker. The session the
lost attempt started carries the call's id (``dask_call`` in its metadata), so the new
attempt finds it in the store and continues it.
"""

from __future__ import annotations

import contextlib
import importlib
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import trio

from .._log import get_logger
from ..backends import AgentRequest, BaseRequest, create_backend
from ..errors import UsageError
from ..plan import BackendSpec
from ..records import Message
from ..stores import Store, open_store
from ._journal import Journal
from ._session_meta import SessionDescriber

log = get_logger("swarm.engine.dask")

#: The extra that brings Dask, named in the error when it is missing.
DISTRIBUTED_EXTRA = "swarm[distributed]"
#: How often a worker looks whether its call was cancelled.
CANCEL_POLL_S = 0.2


def import_distributed() -> ModuleType:
    """``distributed``, or one :class:`UsageError` naming the extra to install."""
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise UsageError(
            f"execution.engine: dask needs Dask, which is not installed ({exc.name}); "
            f"install the {DISTRIBUTED_EXTRA} extra: pip install '{DISTRIBUTED_EXTRA}'"
        ) from None


@dataclass(frozen=True, slots=True)
class DaskCall:
    """Everything a worker needs to run one agent's call (pickled to the worker)."""

    call_id: str
    store_url: str  # the real URL, password and all: it travels to the worker, never stored
    backend: Mapping[str, Any]  # the plan's backend section, as JSON
    backend_name: str
    request: AgentRequest | BaseRequest  # an agent's call, or the base's
    queue: str
    cancel_variable: str
    git_metadata: bool = False
    cli_env: Mapping[str, str] = field(default_factory=dict)


# --- the worker side -------------------------------------------------------------------


class _WorkerSink:
    """Persists one agent's reports on the worker, then streams them to the executor."""

    def __init__(self, call: DaskCall, journal: Journal, runtime: _WorkerRuntime, worker: str):
        self.call = call
        self.journal = journal
        self.runtime = runtime
        self.worker = worker

    async def _report(self, kind: str, **data: Any) -> None:
        # Persisted already (the journal's write came first); the report is posted and
        # sent on, in order, with the other agents' of this worker (see _WorkerRuntime).
        self.runtime.post(self.call.queue, {"call": self.call.call_id, "kind": kind, **data})

    async def session_started(self, session_id: str, *, metadata: Mapping[str, Any]) -> None:
        request = self.call.request
        worker = self.worker
        reported = {**metadata, "dask_call": self.call.call_id, "dask_worker": worker}
        agent = request if isinstance(request, AgentRequest) else None
        await self.journal.start_session(
            session_id,
            agent_id=agent.agent_id if agent else None,
            parent_session_id=agent.parent_session_id if agent else None,
            fork_point=agent.fork_point if agent else None,
            model=request.model,
            cwd=request.cwd,
            reported=reported,
        )
        await self._report("session", session_id=session_id, metadata=dict(metadata))

    async def message(self, message: Message) -> None:
        await self.journal.append_messages(message.session_id, [message])
        await self._report("message", message=message.to_dict())

    async def retry(self, *, status: int | None, reason: str, delay_s: float) -> None:
        await self._report("retry", status=status, reason=reason, delay_s=delay_s)

    async def succeeded_call(self) -> None:
        await self._report("succeeded_call")


async def _lost_attempt_session(journal: Journal, call: DaskCall) -> str | None:
    """The session an earlier attempt of this call started (its worker was lost), if any."""
    for session in await journal.list_sessions(call.request.run_id):
        if session.metadata.get("dask_call") == call.call_id:
            return session.session_id
    return None


def _worker_deaths(key: str, dask_scheduler: Any = None) -> int:
    """Run on the scheduler: how many workers died while running task ``key``."""
    task = dask_scheduler.tasks.get(key) if dask_scheduler is not None else None
    return int(getattr(task, "suspicious", 1)) if task is not None else 1


def _ran_before(client: Any, key: str) -> bool:
    """Whether an earlier attempt of this call ran on a worker that was lost (then the
    store is asked what it left); one question to the scheduler, not a scan of the run."""
    try:
        return bool(client.run_on_scheduler(_worker_deaths, key))
    except Exception:  # the scheduler cannot say: look in the store, to be sure
        return True


class _WorkerRuntime:
    """One trio run per worker process, in a thread of its own, that every call of that
    process runs in: its stores are opened once and shared (one pool, one group commit
    for all the agents of a worker), and one task there watches for cancelled calls."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self.token: trio.lowlevel.TrioToken | None = None
        self._stores: dict[str, Store] = {}
        self._scopes: dict[str, tuple[str, trio.CancelScope]] = {}  # call -> (variable, scope)
        # This worker's own home for the Claude Code CLIs it starts: machines share no
        # files, only the store (sessions come back through its SessionStore adapter).
        self.home = Path(tempfile.mkdtemp(prefix="swarm-worker-home-"))
        thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)
        thread.name = "swarm-dask-worker"
        thread.start()
        self._ready.wait()

    async def _main(self) -> None:
        self.token = trio.lowlevel.current_trio_token()
        self._lock = trio.Lock()
        self._outbox: list[tuple[str, dict[str, Any]]] = []
        self._posted = trio.Event()
        async with contextlib.AsyncExitStack() as stack:
            self._stack = stack
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._ready.set()
                await trio.sleep_forever()

    def post(self, queue: str, item: dict[str, Any]) -> None:
        """Queue a report for the executor (sent by :meth:`send_reports`, in order)."""
        self._outbox.append((queue, item))
        self._posted.set()

    async def send_reports(self, client: Any, distributed: ModuleType) -> None:
        """The one sender of this worker's reports: whatever has been posted goes in one
        ``Queue.put`` per run, so fifty agents' reports cost one round trip, not fifty,
        and no agent waits for the scheduler."""
        queues: dict[str, Any] = {}
        while True:
            await self._posted.wait()
            self._posted = trio.Event()
            batch, self._outbox = self._outbox, []
            by_queue: dict[str, list[dict[str, Any]]] = {}
            for name, item in batch:
                by_queue.setdefault(name, []).append(item)
            for name, items in by_queue.items():
                if name not in queues:
                    queues[name] = distributed.Queue(name, client=client)
                try:
                    await trio.to_thread.run_sync(queues[name].put, items)
                except Exception as exc:  # that run's executor is gone: its reports too
                    log.warning("dask.reports.lost", queue=name, error=repr(exc))

    async def store(self, url: str) -> Store:
        async with self._lock:
            if url not in self._stores:
                self._stores[url] = await self._stack.enter_async_context(open_store(url))
            return self._stores[url]

    async def watch_cancellations(self, client: Any, distributed: ModuleType) -> None:
        """Cancel the calls the executor cancelled (it lists them in a Dask Variable)."""
        while self._scopes:
            names = {name for name, _ in self._scopes.values()}
            for name in names:
                cancelled = await trio.to_thread.run_sync(
                    _cancelled_calls, distributed, client, name
                )
                for call_id in cancelled:
                    held = self._scopes.get(call_id)
                    if held is not None:
                        held[1].cancel()
            await trio.sleep(CANCEL_POLL_S)
        self._watching = False

    async def run(
        self, call: DaskCall, client: Any, distributed: ModuleType, worker: str
    ) -> dict[str, Any]:
        scope = trio.CancelScope()
        self._scopes[call.call_id] = (call.cancel_variable, scope)
        if not getattr(self, "_sending", False):
            self._sending = True
            self._nursery.start_soon(self.send_reports, client, distributed)
        if not getattr(self, "_watching", False):
            self._watching = True
            self._nursery.start_soon(self.watch_cancellations, client, distributed)
        try:
            with scope:
                return await _run_call(self, call, client, distributed, worker)
            return {"cancelled": True}
        finally:
            del self._scopes[call.call_id]


def _cancelled_calls(distributed: ModuleType, client: Any, name: str) -> list[str]:
    try:
        value = distributed.Variable(name, client=client).get(timeout=0)
    except Exception:  # not set yet: nothing cancelled
        return []
    return list(value) if isinstance(value, list | tuple) else []  # msgpack: a tuple


_runtime: _WorkerRuntime | None = None
_runtime_lock = threading.Lock()


def _worker_runtime() -> _WorkerRuntime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = _WorkerRuntime()
        return _runtime


async def _run_call(
    runtime: _WorkerRuntime, call: DaskCall, client: Any, distributed: ModuleType, worker: str
) -> dict[str, Any]:
    request = call.request
    store = await runtime.store(call.store_url)
    describer = SessionDescriber(git=call.git_metadata)
    journal = Journal(store, request.run_id, backend=call.backend_name, describer=describer)
    if isinstance(request, AgentRequest) and await trio.to_thread.run_sync(
        _ran_before, client, call.call_id
    ):
        continued = await _lost_attempt_session(journal, call)
        if continued is not None:
            log.info("dask.attempt.continues", agent_id=request.agent_id, session_id=continued)
            request = replace(request, resume_session_id=continued)
    spec = BackendSpec.model_validate(call.backend)
    backend = create_backend(spec, journal, call.backend_name, cli_env=_worker_env(call, runtime))
    sink = _WorkerSink(call, journal, runtime, worker)
    ended = False
    try:
        if isinstance(request, AgentRequest):
            outcome = await backend.run_agent(request, sink)
            result: dict[str, Any] = {
                "session_id": outcome.session_id,
                "output": outcome.output,
                "turns": outcome.turns,
                "usage": outcome.usage.to_dict(),
                "cost_usd": outcome.cost_usd,
                "output_is_simulated": outcome.output_is_simulated,
            }
        else:
            base = await backend.open_base(request, sink)
            result = {
                "session_id": base.session_id,
                "fork_point": base.fork_point,
                "usage": base.usage.to_dict(),
                "cost_usd": base.cost_usd,
            }
        ended = True
    finally:
        with trio.CancelScope(shield=True):
            with contextlib.suppress(Exception):
                await sink._report("end", cancelled=not ended)
            await backend.aclose()
    return result


def _worker_env(call: DaskCall, runtime: _WorkerRuntime) -> dict[str, str] | None:
    """The executor's CLI environment with this worker's own HOME and config dir."""
    if not call.cli_env:
        return None
    env = dict(call.cli_env)
    if "HOME" in env:
        env["HOME"] = str(runtime.home)
    if "CLAUDE_CONFIG_DIR" in env:
        env["CLAUDE_CONFIG_DIR"] = str(runtime.home / ".claude")
    return env


def run_on_worker(call: DaskCall) -> dict[str, Any]:
    """What a Dask worker runs for one agent: the call, in the worker process's trio run."""
    distributed = import_distributed()
    client = distributed.get_client()
    worker = distributed.get_worker().address
    runtime = _worker_runtime()
    result: dict[str, Any] = trio.from_thread.run(
        runtime.run, call, client, distributed, worker, trio_token=runtime.token
    )
    return result


def calls_in_flight() -> int:
    """How many agents' calls this worker process runs now (``client.run`` it to see)."""
    return 0 if _runtime is None else len(_runtime._scopes)
