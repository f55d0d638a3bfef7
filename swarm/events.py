"""The event stream of a run: what the CLI's progress display and user code consume.

Events travel on a bounded trio memory channel handed to
:meth:`~swarm.ParallelSwarmExecutor.run`; the executor closes its end when the
run is over, so ``async for event in receive_channel`` simply ends.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .records import AgentResult, Message, SwarmResult


class EventKind(enum.StrEnum):
    RUN_STARTED = "run_started"
    BASE_STARTED = "base_started"
    BASE_READY = "base_ready"
    QUEUED = "queued"
    STARTED = "started"
    MESSAGE = "message"
    RETRY = "retry"
    WINDOW = "window"
    CHECKPOINT = "checkpoint"
    FINISHED = "finished"
    RUN_FINISHED = "run_finished"


@dataclass(frozen=True, slots=True)
class SwarmEvent:
    """One thing that happened; ``elapsed_s`` counts from the start of the run."""

    kind: EventKind
    run_id: str
    elapsed_s: float
    agent_id: str | None = None
    result: AgentResult | None = None
    message: Message | None = None
    swarm: SwarmResult | None = None
    detail: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class RunObserver(Protocol):
    """Watches a run as it goes (a tracer): told of every event, synchronously and in
    order, as it is emitted; nothing it does can stop or slow the run's writes."""

    def observe(self, event: SwarmEvent) -> None:
        """One event of the run (the same the event channel receives)."""

    def trace_context(self, run_id: str, agent_id: str) -> Mapping[str, str]:
        """W3C trace context (``traceparent``, ``tracestate``) for the agent about to
        call its backend; empty when there is none."""
        ...
