"""A run's figures as OpenTelemetry metrics, for the dashboards people already run.

The same observer pattern as the spans: fed by the event feed, nothing else. Every
data point carries ``swarm.run.id`` and ``swarm.run.name`` (the plan's name).

- ``swarm.agents`` (up-down counter): agents by ``swarm.agent.status`` (queued,
  running, then how each ended);
- ``swarm.queue.length`` and ``swarm.window.size`` (gauges): agents waiting to start,
  and the parallel window (narrowed on rate limits);
- ``swarm.tokens`` (counter, by ``gen_ai.token.type``: input, output, cache_read,
  cache_creation), ``swarm.cost`` (counter, USD), ``swarm.retries`` (counter).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from opentelemetry import metrics

from .._version import __version__
from ..events import EventKind, SwarmEvent
from ..records import Usage


@dataclass
class _RunFigures:
    attributes: dict[str, str]
    status: dict[str, str] = field(default_factory=dict)  # agent id -> its counted status

    @property
    def queued(self) -> int:
        return sum(1 for status in self.status.values() if status == "queued")


class RunMeter:
    """A :class:`~swarm.events.RunObserver` that records a run's figures as metrics
    (``meter_provider`` defaults to the global one)."""

    def __init__(self, meter_provider: metrics.MeterProvider | None = None) -> None:
        meter = metrics.get_meter("swarm", __version__, meter_provider=meter_provider)
        self._agents = meter.create_up_down_counter(
            "swarm.agents", unit="{agent}", description="Agents of a run by status."
        )
        self._queue = meter.create_gauge(
            "swarm.queue.length", unit="{agent}", description="Agents waiting to start."
        )
        self._window = meter.create_gauge(
            "swarm.window.size", unit="{agent}", description="Agents allowed to run at once."
        )
        self._tokens = meter.create_counter(
            "swarm.tokens", unit="{token}", description="Tokens used, by type."
        )
        self._cost = meter.create_counter("swarm.cost", unit="USD", description="Cost reported.")
        self._retries = meter.create_counter(
            "swarm.retries", unit="{retry}", description="Retried API calls."
        )
        self._runs: dict[str, _RunFigures] = {}

    def trace_context(self, run_id: str, agent_id: str) -> Mapping[str, str]:
        return {}

    def observe(self, event: SwarmEvent) -> None:
        kind = event.kind
        if kind is EventKind.RUN_STARTED:
            name = str(event.data.get("name") or "")
            self._runs[event.run_id] = _RunFigures(
                {"swarm.run.id": event.run_id, "swarm.run.name": name}
            )
            if event.data.get("max_parallel"):
                self._window.set(int(event.data["max_parallel"]), self._attrs(event.run_id))
            return
        run = self._runs.get(event.run_id)
        if run is None:
            return
        if kind is EventKind.QUEUED and event.agent_id is not None:
            self._move(run, event.agent_id, "queued")
        elif kind is EventKind.STARTED and event.agent_id is not None:
            self._move(run, event.agent_id, "running")
        elif kind is EventKind.FINISHED and event.agent_id is not None and event.result:
            self._move(run, event.agent_id, event.result.status.value)
            self._spend(run, event.result.usage, event.result.cost_usd)
        elif kind is EventKind.BASE_READY and isinstance(event.data.get("usage"), dict):
            self._spend(run, Usage(**event.data["usage"]), float(event.data.get("cost_usd") or 0))
        elif kind is EventKind.RETRY:
            self._retries.add(1, run.attributes)
        elif kind is EventKind.WINDOW:
            self._window.set(int(event.data["size"]), run.attributes)
        elif kind is EventKind.RUN_FINISHED:
            self._runs.pop(event.run_id, None)

    def _attrs(self, run_id: str) -> dict[str, str]:
        return self._runs[run_id].attributes

    def _move(self, run: _RunFigures, agent_id: str, status: str) -> None:
        before = run.status.get(agent_id)
        if before == status:
            return
        if before is not None:
            self._agents.add(-1, {**run.attributes, "swarm.agent.status": before})
        self._agents.add(1, {**run.attributes, "swarm.agent.status": status})
        run.status[agent_id] = status
        self._queue.set(run.queued, run.attributes)

    def _spend(self, run: _RunFigures, usage: Usage, cost_usd: float) -> None:
        for kind, count in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_tokens),
            ("cache_creation", usage.cache_creation_tokens),
        ):
            if count:
                self._tokens.add(count, {**run.attributes, "gen_ai.token.type": kind})
        if cost_usd:
            self._cost.add(cost_usd, run.attributes)
