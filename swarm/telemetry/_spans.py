"""A run as OpenTelemetry spans, in the GenAI semantic conventions (semantic-conventions
v1.41.0, ``docs/gen-ai/gen-ai-agent-spans.md``; development status).

One observer of the event feed makes every span: the run is an ``invoke_workflow``
span; the base session an ``invoke_agent base`` span under it; each agent an
``invoke_agent {agent id}`` span under the run, linked to the base span (and, for a
fork of a fork, to its parent agent's span). Retries, checkpoints and the window's
narrowing are span events. Message content is recorded only when asked, redacted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .._redaction import redact_text
from .._version import __version__
from ..events import EventKind, SwarmEvent
from ..records import AgentResult, AgentStatus, Message, Usage

PROVIDER = "anthropic"
_PROPAGATOR = TraceContextTextMapPropagator()
_ERROR_STATUSES = {
    AgentStatus.FAILED,
    AgentStatus.TIMED_OUT,
    AgentStatus.CANCELLED,
    AgentStatus.SKIPPED,
}


def usage_attributes(usage: Usage) -> dict[str, int]:
    """Token counts under their GenAI names."""
    return {
        "gen_ai.usage.input_tokens": usage.input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": usage.cache_read_tokens,
        "gen_ai.usage.cache_creation.input_tokens": usage.cache_creation_tokens,
    }


@dataclass
class _AgentSpan:
    span: Span
    inputs: list[Message] = field(default_factory=list)
    outputs: list[Message] = field(default_factory=list)


@dataclass
class _Run:
    workflow: Span
    base: Span | None = None
    agents: dict[str, _AgentSpan] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)


class RunTracer:
    """A :class:`~swarm.events.RunObserver` that turns a run's events into spans.

    ``tracer_provider`` defaults to the global one; ``content`` records the messages
    of each agent (redacted) as ``gen_ai.input.messages`` / ``gen_ai.output.messages``.
    """

    def __init__(
        self, tracer_provider: trace.TracerProvider | None = None, *, content: bool = False
    ) -> None:
        self._tracer = trace.get_tracer("swarm", __version__, tracer_provider=tracer_provider)
        self.content = content
        self._runs: dict[str, _Run] = {}

    # --- the RunObserver protocol ------------------------------------------------

    def trace_context(self, run_id: str, agent_id: str) -> Mapping[str, str]:
        run = self._runs.get(run_id)
        agent = run.agents.get(agent_id) if run is not None else None
        if agent is None:
            return {}
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(agent.span))
        return carrier

    def observe(self, event: SwarmEvent) -> None:
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event)

    # --- one handler per kind of event ------------------------------------------

    def _run_started(self, event: SwarmEvent) -> None:
        data = event.data
        name = str(data.get("name") or event.run_id)
        span = self._tracer.start_span(
            f"invoke_workflow {name}",
            kind=SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "invoke_workflow",
                "gen_ai.provider.name": PROVIDER,
                "gen_ai.workflow.name": name,
                "swarm.run.id": event.run_id,
                "swarm.backend": str(data.get("backend") or ""),
                "swarm.agents": int(data.get("agents") or 0),
                "swarm.max_parallel": int(data.get("max_parallel") or 0),
            },
        )
        self._runs[event.run_id] = _Run(span)  # a resume starts a new trace of the run

    def _base_started(self, event: SwarmEvent) -> None:
        run = self._runs.get(event.run_id)
        if run is None:
            return
        run.base = self._start_agent_span(run, "base", model=event.data.get("model"))

    def _base_ready(self, event: SwarmEvent) -> None:
        run = self._runs.get(event.run_id)
        if run is None:
            return
        if run.base is None:  # a resume reuses the base: a span that marks it, no time
            run.base = self._start_agent_span(run, "base", model=None)
            run.base.set_attribute("swarm.base.reused", True)
        if event.detail:
            run.base.set_attribute("gen_ai.conversation.id", event.detail)
        usage = event.data.get("usage")
        if isinstance(usage, dict):
            run.base.set_attributes(usage_attributes(Usage(**usage)))
        run.base.set_attribute("swarm.cost_usd", float(event.data.get("cost_usd") or 0.0))
        run.base.set_attribute("swarm.retries", int(event.data.get("retries") or 0))
        run.base.end()

    def _started(self, event: SwarmEvent) -> None:
        run = self._runs.get(event.run_id)
        if run is None or event.agent_id is None:
            return
        links = []
        if run.base is not None:
            links.append(Link(run.base.get_span_context(), {"swarm.link": "base"}))
        fork_from = event.data.get("fork_from")
        parent = run.agents.get(str(fork_from)) if fork_from else None
        if parent is not None:
            links.append(Link(parent.span.get_span_context(), {"swarm.link": "fork_from"}))
        span = self._start_agent_span(run, event.agent_id, event.data.get("model"), links)
        result = event.result
        if result is not None:
            span.set_attribute("swarm.agent.priority", result.priority)
            if result.parent_session_id:
                span.set_attribute("swarm.fork.parent_session_id", result.parent_session_id)
            if result.fork_point:
                span.set_attribute("swarm.fork.point", result.fork_point)
        run.agents[event.agent_id] = _AgentSpan(span)
        run.ended.discard(event.agent_id)

    def _message(self, event: SwarmEvent) -> None:
        agent = self._agent(event)
        if agent is None or event.message is None:
            return
        agent.span.set_attribute("gen_ai.conversation.id", event.message.session_id)
        if self.content:
            kept = agent.outputs if event.message.role == "assistant" else agent.inputs
            kept.append(event.message)

    def _retry(self, event: SwarmEvent) -> None:
        span = self._span_of(event)
        if span is None:
            return
        attributes: dict[str, Any] = {
            "swarm.retry.attempt": int(event.data.get("attempt") or 0),
            "swarm.retry.delay_s": float(event.data.get("delay_s") or 0.0),
            "swarm.retry.reason": event.detail or "",
        }
        if event.data.get("status") is not None:
            attributes["http.response.status_code"] = int(event.data["status"])
        span.add_event("swarm.retry", attributes)

    def _window(self, event: SwarmEvent) -> None:
        run = self._runs.get(event.run_id)
        if run is not None:
            run.workflow.add_event("swarm.window", {"swarm.window.size": int(event.data["size"])})

    def _checkpoint(self, event: SwarmEvent) -> None:
        agent = self._agent(event)
        if agent is None:
            return
        data = event.data
        agent.span.add_event(
            "swarm.checkpoint",
            {
                "swarm.checkpoint.id": str(data.get("checkpoint_id", "")),
                "swarm.checkpoint.kind": str(data.get("kind", "")),
                "swarm.checkpoint.message_count": int(data.get("message_count") or 0),
            },
        )

    def _finished(self, event: SwarmEvent) -> None:
        run = self._runs.get(event.run_id)
        if run is None or event.agent_id is None or event.result is None:
            return
        agent = run.agents.get(event.agent_id)
        if agent is None:  # skipped before it started: still one span per agent
            agent = _AgentSpan(self._start_agent_span(run, event.agent_id, None))
            run.agents[event.agent_id] = agent
        self._end_agent(agent, event.result)
        run.ended.add(event.agent_id)

    def _run_finished(self, event: SwarmEvent) -> None:
        run = self._runs.pop(event.run_id, None)
        if run is None:
            return
        if run.base is not None and run.base.is_recording():
            run.base.set_status(Status(StatusCode.ERROR, "the base session was not built"))
            run.base.set_attribute("error.type", "base_failed")
            run.base.end()
        for agent_id, agent in run.agents.items():
            if agent_id not in run.ended:  # the run ended around it (cannot happen today)
                agent.span.end()
        swarm = event.swarm
        if swarm is not None:
            m = swarm.metrics
            run.workflow.set_attributes(
                {
                    "swarm.run.status": swarm.status.value,
                    "swarm.cost_usd": m.cost_usd,
                    "swarm.retries": m.retries,
                    "swarm.wall_s": m.wall_s,
                    "swarm.makespan_lower_bound_s": m.makespan_lower_bound_s,
                    **usage_attributes(m.usage),
                }
            )
            if not swarm.succeeded:
                run.workflow.set_status(Status(StatusCode.ERROR, swarm.error or swarm.status.value))
                run.workflow.set_attribute("error.type", swarm.status.value)
        run.workflow.end()

    # --- helpers -------------------------------------------------------------------

    def _start_agent_span(
        self, run: _Run, agent_id: str, model: object, links: list[Link] | None = None
    ) -> Span:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.agent.id": agent_id,
            "gen_ai.agent.name": agent_id,
        }
        if model:
            attributes["gen_ai.request.model"] = str(model)
        return self._tracer.start_span(
            f"invoke_agent {agent_id}",
            context=trace.set_span_in_context(run.workflow),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            links=links or None,
        )

    def _agent(self, event: SwarmEvent) -> _AgentSpan | None:
        run = self._runs.get(event.run_id)
        if run is None or event.agent_id is None:
            return None
        return run.agents.get(event.agent_id)

    def _span_of(self, event: SwarmEvent) -> Span | None:
        """The span an event of an agent, or of the base (no agent id), belongs to."""
        if event.agent_id is None:
            run = self._runs.get(event.run_id)
            return run.base if run is not None else None
        agent = self._agent(event)
        return agent.span if agent is not None else None

    def _end_agent(self, agent: _AgentSpan, result: AgentResult) -> None:
        span = agent.span
        if result.session_id:
            span.set_attribute("gen_ai.conversation.id", result.session_id)
        span.set_attributes(usage_attributes(result.usage))
        span.set_attributes(
            {
                "swarm.agent.status": result.status.value,
                "swarm.agent.priority": result.priority,
                "swarm.turns": result.turns,
                "swarm.retries": result.retries,
                "swarm.cost_usd": result.cost_usd,
            }
        )
        if result.status in _ERROR_STATUSES:
            span.set_status(Status(StatusCode.ERROR, result.error or result.status.value))
            span.set_attribute("error.type", result.status.value)
        if self.content:
            span.set_attribute("gen_ai.input.messages", _messages_json(agent.inputs))
            outputs = agent.outputs
            if not outputs and result.output:
                span.set_attribute(
                    "gen_ai.output.messages", _parts_json("assistant", [result.output])
                )
            else:
                span.set_attribute("gen_ai.output.messages", _messages_json(outputs))
        span.end()


def _messages_json(messages: list[Message]) -> str:
    return json.dumps(
        [
            {"role": m.role, "parts": [{"type": "text", "content": redact_text(m.content)}]}
            for m in messages
        ]
    )


def _parts_json(role: str, texts: list[str]) -> str:
    parts = [{"type": "text", "content": redact_text(text)} for text in texts]
    return json.dumps([{"role": role, "parts": parts}])


_HANDLERS = {
    EventKind.RUN_STARTED: RunTracer._run_started,
    EventKind.BASE_STARTED: RunTracer._base_started,
    EventKind.BASE_READY: RunTracer._base_ready,
    EventKind.STARTED: RunTracer._started,
    EventKind.MESSAGE: RunTracer._message,
    EventKind.RETRY: RunTracer._retry,
    EventKind.WINDOW: RunTracer._window,
    EventKind.CHECKPOINT: RunTracer._checkpoint,
    EventKind.FINISHED: RunTracer._finished,
    EventKind.RUN_FINISHED: RunTracer._run_finished,
}
