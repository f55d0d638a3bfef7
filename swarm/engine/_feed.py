"""The one feed of a run's events: what the CLI's progress display, user code and any
observer (a tracer, a dashboard) consume.

Events travel on the bounded trio memory channel handed to
:meth:`~swarm.ParallelSwarmExecutor.run`; the feed closes it when the run is over, so
``async for event in receive_channel`` simply ends. A consumer that goes away never
stops the run: the feed stops sending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import trio

from .._log import get_logger
from .._redaction import redact_text
from ..events import EventKind, RunObserver, SwarmEvent

log = get_logger("swarm.executor")


class EventFeed:
    """Sends a run's events, each stamped with the seconds since the run started."""

    def __init__(
        self,
        channel: trio.MemorySendChannel[SwarmEvent] | None,
        run_id: str,
        observers: Sequence[RunObserver] = (),
    ) -> None:
        self._channel = channel
        self._observers = list(observers)
        self.run_id = run_id
        self.t0 = trio.current_time()

    @property
    def listened(self) -> bool:
        """Whether an event now reaches anyone (a channel or an observer): the per-agent
        events are not built when none would (a 10,000-agent run makes six per agent)."""
        return self._channel is not None or bool(self._observers)

    def start_clock(self) -> None:
        self.t0 = trio.current_time()

    def elapsed(self) -> float:
        return trio.current_time() - self.t0

    async def emit(self, kind: EventKind, agent_id: str | None = None, **fields: Any) -> None:
        if self._channel is None and not self._observers:
            return
        if fields.get("detail"):  # a retry's reason: the API's words (records come redacted)
            fields["detail"] = redact_text(fields["detail"])
        event = SwarmEvent(kind, self.run_id, self.elapsed(), agent_id, **fields)
        for observer in self._observers:
            try:
                observer.observe(event)
            except Exception as exc:  # an observer's bug is logged, never the run's end
                log.warning("observer.failed", observer=type(observer).__name__, error=repr(exc))
        if self._channel is None:
            return
        try:
            await self._channel.send(event)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._channel = None  # nobody listens any more; the run goes on

    def trace_context(self, agent_id: str) -> Mapping[str, str]:
        """The trace context the observers give an agent's backend call (the first that
        has one: one run has one tracer)."""
        for observer in self._observers:
            try:
                context = observer.trace_context(self.run_id, agent_id)
            except Exception as exc:
                log.warning("observer.failed", observer=type(observer).__name__, error=repr(exc))
                continue
            if context:
                return dict(context)
        return {}

    async def aclose(self) -> None:
        if self._channel is not None:
            await self._channel.aclose()
