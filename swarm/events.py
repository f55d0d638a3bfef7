"""The event stream of a run: what the CLI's progress display and user code consume.

Events travel on a bounded trio memory channel handed to
:meth:`~swarm.ParallelSwarmExecutor.run`; the executor closes its end when the
run is over, so ``async for event in receive_channel`` simply ends.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

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
