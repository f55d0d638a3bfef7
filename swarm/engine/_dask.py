"""The Dask engine: each agent's backend call runs on a worker of a Dask cluster.

trio stays the one scheduler. The executor's window, priorities, timeouts, retries,
AIMD window, budget and fail_fast are all around :meth:`DaskEngine.run_agent`, which
only decides *where* the call runs: it submits :func:`run_on_worker` with Dask's
synchronous client (``client.submit``), and a done-callback wakes trio through its
token, so no thread waits per agent. Cancelling the agent's scope (a timeout,
fail_fast, Ctrl-C) sets a ``distributed.Event`` the worker watches: the worker cancels
the call there (the claude backend kills its CLI) and Dask's future is cancelled too.

What a worker runs for the call (it persists the session and messages itself and
streams its reports back; the executor's sink replays them without writing again, so
checkpoints, the progress table and events tick as with the local engine) is
:mod:`swarm.engine._dask_worker`. A worker lost mid-agent: Dask runs the call again on
another worker, which continues the session the lost attempt started; the future
resolves once, so the agent is counted once.

``dask.distributed`` is the ``distributed`` extra, imported only when this engine is.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import trio

from .._log import get_logger
from ..backends import (
    AgentOutcome,
    AgentRequest,
    AgentSink,
    BaseRequest,
    BaseSession,
)
from ..errors import BackendError, UsageError
from ..records import Message, Usage
from ..stores import parse_store_url
from ._dask_worker import DaskCall, import_distributed, run_on_worker

log = get_logger("swarm.engine.dask")

#: The longest the executor waits between two looks at the workers' reports.
REPORT_POLL_MAX_S = 0.05


# --- the executor side ---------------------------------------------------------------


@dataclass
class _Call:
    """One agent's call as the executor follows it."""

    sink: AgentSink
    reports: trio.MemorySendChannel[dict[str, Any]]
    ended: trio.Event = field(default_factory=trio.Event)


class DaskEngine:
    """Runs each agent's call on a worker of a Dask cluster (see the module doc)."""

    #: The worker writes the agent's session and messages itself; the executor's sink
    #: replays its reports without writing them again.
    persists_reports = True

    def __init__(
        self,
        client: Any,
        *,
        store_url: str,
        backend: Mapping[str, Any],
        backend_name: str,
        git_metadata: bool = False,
        cli_env: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.store_url = store_url
        self.backend = dict(backend)
        self.backend_name = backend_name
        self.git_metadata = git_metadata
        self.cli_env = dict(cli_env or {})
        self._distributed = import_distributed()
        self.queue_name = f"swarm-progress-{secrets.token_hex(6)}"
        self.cancel_variable = f"swarm-cancelled-{secrets.token_hex(6)}"
        self._cancelled: list[str] = []
        self._calls: dict[str, _Call] = {}
        self._stop_reading = threading.Event()

    async def open_base(self, request: BaseRequest, sink: AgentSink) -> BaseSession:
        result = await self._call(request, sink, f"swarm-{request.run_id}-base")
        return BaseSession(
            session_id=result["session_id"],
            fork_point=result["fork_point"],
            usage=Usage.from_dict(result["usage"]),
            cost_usd=result["cost_usd"],
        )

    async def run_agent(self, request: AgentRequest, sink: AgentSink) -> AgentOutcome:
        result = await self._call(request, sink, f"swarm-{request.run_id}-{request.agent_id}")
        return AgentOutcome(
            session_id=result["session_id"],
            output=result["output"],
            turns=result["turns"],
            usage=Usage.from_dict(result["usage"]),
            cost_usd=result["cost_usd"],
            output_is_simulated=result["output_is_simulated"],
        )

    async def _call(
        self, request: AgentRequest | BaseRequest, sink: AgentSink, name: str
    ) -> dict[str, Any]:
        """Run one call on a worker, its reports replayed into ``sink``; its result."""
        call = DaskCall(
            call_id=f"{name}-{secrets.token_hex(4)}",
            store_url=self.store_url,
            backend=self.backend,
            backend_name=self.backend_name,
            request=request,
            queue=self.queue_name,
            cancel_variable=self.cancel_variable,
            git_metadata=self.git_metadata,
            cli_env=self.cli_env,
        )
        send, receive = trio.open_memory_channel[dict[str, Any]](math.inf)
        followed = _Call(sink, send)
        self._calls[call.call_id] = followed
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        future = await trio.to_thread.run_sync(
            lambda: self.client.submit(run_on_worker, call, key=call.call_id, pure=False)
        )
        future.add_done_callback(lambda _: _wake(token, done))
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_replay, receive, followed)
                await done.wait()
                if future.status == "finished":  # an erred call may have died with its worker
                    await followed.ended.wait()  # every report of the call is replayed first
                nursery.cancel_scope.cancel()
        except BaseException:
            # Cancelled here (a timeout, fail_fast, Ctrl-C): stop the call over there too.
            with trio.CancelScope(shield=True):
                self._cancelled.append(call.call_id)
                await trio.to_thread.run_sync(
                    _cancel_remote,
                    self._distributed,
                    self.client,
                    self.cancel_variable,
                    list(self._cancelled),
                    future,
                )
            raise
        finally:
            self._calls.pop(call.call_id, None)
        # The call's own failure (a BackendError), raised here as it was there.
        result: dict[str, Any] = await trio.to_thread.run_sync(future.result)
        if result.get("cancelled"):
            raise BackendError(f"{name} was cancelled on its worker")
        return result

    def _read_reports(self, token: trio.lowlevel.TrioToken) -> None:
        """The one thread that takes every worker's reports off the run's queue.

        It takes whatever is there at once (a batch get never waits on the scheduler,
        so nothing times out there), and waits a little longer each time it finds
        nothing, up to :data:`REPORT_POLL_MAX_S`.
        """
        queue = self._distributed.Queue(self.queue_name, client=self.client)
        idle = 0.0
        while not self._stop_reading.is_set():
            try:
                items = queue.get(batch=True)
            except Exception as exc:  # the client closing under it: the run is over
                if not self._stop_reading.is_set():
                    log.warning("dask.reports.failed", error=repr(exc))
                return
            if items:
                idle = 0.0
                with contextlib.suppress(trio.RunFinishedError):
                    token.run_sync_soon(self._route_all, items)
            else:
                idle = min(REPORT_POLL_MAX_S, idle + 0.005)
                self._stop_reading.wait(idle)

    def _route_all(self, batches: list[list[dict[str, Any]]]) -> None:
        for batch in batches:  # each put is one worker's reports, in order
            for item in batch:
                self._route(item)

    def _route(self, item: dict[str, Any]) -> None:
        followed = self._calls.get(item.get("call", ""))
        if followed is not None:
            followed.reports.send_nowait(item)


def _wake(token: trio.lowlevel.TrioToken, done: trio.Event) -> None:
    with contextlib.suppress(trio.RunFinishedError):
        token.run_sync_soon(done.set)


def _cancel_remote(
    distributed: ModuleType, client: Any, name: str, cancelled: list[str], future: Any
) -> None:
    """Tell the workers which calls to stop (one kills a CLI it started), drop the future."""
    with contextlib.suppress(Exception):
        distributed.Variable(name, client=client).set(cancelled)
    with contextlib.suppress(Exception):
        future.cancel()


async def _replay(receive: trio.MemoryReceiveChannel[dict[str, Any]], followed: _Call) -> None:
    """A worker's reports, told to the executor's sink in order (it persists none again)."""
    sink = followed.sink
    async for item in receive:
        kind = item["kind"]
        if kind == "session":
            await sink.session_started(item["session_id"], metadata=item["metadata"])
        elif kind == "message":
            await sink.message(Message.from_dict(item["message"]))
        elif kind == "retry":
            await sink.retry(status=item["status"], reason=item["reason"], delay_s=item["delay_s"])
        elif kind == "succeeded_call":
            await sink.succeeded_call()
        elif kind == "end":
            followed.ended.set()


@asynccontextmanager
async def open_dask_engine(
    *,
    store_url: str,
    backend: Mapping[str, Any],
    backend_name: str,
    address: str | None,
    workers: int,
    slots_per_worker: int,
    connect_timeout_s: float = 10.0,
    git_metadata: bool = False,
    cli_env: Mapping[str, str] | None = None,
) -> AsyncIterator[DaskEngine]:
    """A :class:`DaskEngine` on the scheduler at ``address``, or on a LocalCluster of
    ``workers`` processes started now and shut down on exit."""
    if parse_store_url(store_url).is_memory:
        raise UsageError(
            "execution.engine: dask needs a store every worker can open: memory:// lives in "
            "one process; use sqlite:///path.db (workers on this machine) or "
            "postgresql://user@host/db (workers on several machines)"
        )
    distributed = import_distributed()
    client, cluster = await trio.to_thread.run_sync(
        _connect, distributed, address, workers, slots_per_worker, connect_timeout_s
    )
    engine = DaskEngine(
        client,
        store_url=store_url,
        backend=backend,
        backend_name=backend_name,
        git_metadata=git_metadata,
        cli_env=cli_env,
    )
    # Set before any call starts, so a worker's look at it never waits for it on the scheduler.
    await trio.to_thread.run_sync(
        lambda: distributed.Variable(engine.cancel_variable, client=client).set([])
    )
    token = trio.lowlevel.current_trio_token()
    reader = threading.Thread(
        target=engine._read_reports, args=(token,), name="swarm-dask-reports", daemon=True
    )
    reader.start()
    try:
        yield engine
    finally:
        engine._stop_reading.set()
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(reader.join)
            await trio.to_thread.run_sync(_shut_down, client, cluster)


def _connect(
    distributed: ModuleType,
    address: str | None,
    workers: int,
    slots_per_worker: int,
    timeout_s: float,
) -> tuple[Any, Any]:
    if address is not None:
        try:
            return distributed.Client(address, timeout=timeout_s), None
        except (OSError, TimeoutError) as exc:
            raise UsageError(
                f"execution.dask.address: cannot reach the Dask scheduler at {address} "
                f"within {timeout_s:g}s ({type(exc).__name__}); is `dask scheduler` "
                "running there?"
            ) from None
        except ValueError as exc:
            raise UsageError(f"execution.dask.address: {address!r}: {exc}") from None
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=slots_per_worker,
        processes=True,
        dashboard_address=None,
        silence_logs=40,
    )
    return distributed.Client(cluster), cluster


def _shut_down(client: Any, cluster: Any) -> None:
    with contextlib.suppress(Exception):
        client.close()
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close()
