"""OpenTelemetry: a run's events as spans (GenAI conventions) and metrics, read back from
the SDK's in-memory exporter and reader; the trace context handed to each agent's call."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
import trio
import trio.testing

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from swarm import AgentRequest, AgentSink, ExecutorOptions, MemoryStore
from swarm.backends import AgentOutcome
from swarm.backends.claude import trace_env
from swarm.telemetry import RunMeter, RunTracer
from swarm.testing import AgentScript, ScriptedBackend
from tests.core.helpers import make_plan, run_plan

SECRET = "sk-ant-api03-" + "x" * 93 + "AA"


def traced(content: bool = False) -> tuple[RunTracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return RunTracer(provider, content=content), exporter


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    named = {span.name: span for span in spans}
    assert len(named) == len(spans), "span names are unique in one run"
    return named


def attrs(span: ReadableSpan) -> Mapping[str, Any]:
    assert span.attributes is not None
    return span.attributes


FORKS = [
    {"id": "a", "latency": 1},
    {"id": "b", "latency": 2, "priority": "critical"},
    {"id": "c", "latency": 1, "fork_from": {"agent": "a"}},
    {"id": "d", "latency": 1, "fork_from": {"agent": "c"}},
]


async def test_one_span_per_agent_under_the_run_linked_to_the_base(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The run is an invoke_workflow span; the base and every agent an invoke_agent span
    under it with the GenAI attributes; each fork links to the base span, a fork of a
    fork to its parent agent's span too."""
    tracer, exporter = traced()
    plan = make_plan(FORKS, name="test-plan", defaults={"model": "claude-test-1"})
    result, _, _ = await run_plan(plan, options=ExecutorOptions(observers=[tracer]))
    spans = by_name(exporter.get_finished_spans())
    assert sorted(spans) == [
        "invoke_agent a",
        "invoke_agent b",
        "invoke_agent base",
        "invoke_agent c",
        "invoke_agent d",
        "invoke_workflow test-plan",
    ]
    run = spans["invoke_workflow test-plan"]
    assert run.parent is None
    assert attrs(run)["gen_ai.operation.name"] == "invoke_workflow"
    assert attrs(run)["swarm.run.id"] == result.run_id
    assert attrs(run)["swarm.run.status"] == "succeeded"
    base = spans["invoke_agent base"]
    assert base.parent is not None and base.parent.span_id == run.context.span_id
    assert attrs(base)["gen_ai.conversation.id"] == result.base_session_id
    for agent_id, agent in result.agents.items():
        span = spans[f"invoke_agent {agent_id}"]
        a = attrs(span)
        assert span.parent is not None and span.parent.span_id == run.context.span_id
        assert span.context.trace_id == run.context.trace_id
        assert a["gen_ai.operation.name"] == "invoke_agent"
        assert a["gen_ai.provider.name"] == "anthropic"
        assert a["gen_ai.agent.id"] == a["gen_ai.agent.name"] == agent_id
        assert a["gen_ai.conversation.id"] == agent.session_id
        assert a["gen_ai.request.model"] == "claude-test-1"
        assert a["gen_ai.usage.input_tokens"] == agent.usage.input_tokens > 0
        assert a["gen_ai.usage.output_tokens"] == agent.usage.output_tokens > 0
        assert a["gen_ai.usage.cache_read.input_tokens"] == agent.usage.cache_read_tokens
        assert a["gen_ai.usage.cache_creation.input_tokens"] == agent.usage.cache_creation_tokens
        assert a["swarm.agent.priority"] == agent.priority
        assert a["swarm.fork.parent_session_id"] == agent.parent_session_id
        assert a["swarm.cost_usd"] == agent.cost_usd
        assert a["swarm.retries"] == 0
        assert "error.type" not in a
        assert span.status.status_code is StatusCode.UNSET
        linked = {link.context.span_id: attrs_of(link) for link in span.links}
        assert linked[base.context.span_id] == {"swarm.link": "base"}
        # the final checkpoint is a span event
        assert [e.name for e in span.events] == ["swarm.checkpoint"]
    assert attrs(spans["invoke_agent b"])["swarm.agent.priority"] == "critical"
    # a fork of a fork links to the agent it forks as well
    d_links = {link.context.span_id for link in spans["invoke_agent d"].links}
    assert d_links == {base.context.span_id, spans["invoke_agent c"].context.span_id}
    assert len(spans["invoke_agent a"].links) == 1


def attrs_of(link: Any) -> dict[str, Any]:
    return dict(link.attributes or {})


async def test_retries_window_and_failures_are_span_events_and_errors(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A 429 is a retry event on its agent's span and a window event on the run's; a
    failed agent's span has error status and error.type; skipped dependants get spans."""
    tracer, exporter = traced()
    plan = make_plan(
        [{"id": "slow"}, {"id": "bad"}, {"id": "after-bad", "fork_from": {"agent": "bad"}}],
        name="test-plan",
        execution={"max_parallel": 2},
    )
    store = MemoryStore()
    backend = ScriptedBackend(
        store, {"slow": AgentScript(rate_limited=(429,)), "bad": AgentScript(fail="it broke")}
    )
    from swarm import ParallelSwarmExecutor

    executor = ParallelSwarmExecutor(backend, store, options=ExecutorOptions(observers=[tracer]))
    await executor.run(plan)
    spans = by_name(exporter.get_finished_spans())
    slow = spans["invoke_agent slow"]
    (retry,) = [e for e in slow.events if e.name == "swarm.retry"]
    assert retry.attributes is not None
    assert retry.attributes["http.response.status_code"] == 429
    assert retry.attributes["swarm.retry.attempt"] == 1
    assert attrs(slow)["swarm.retries"] == 1
    run = spans["invoke_workflow test-plan"]
    windows = [e.attributes["swarm.window.size"] for e in run.events if e.attributes]
    assert windows[0] == 1  # halved from 2 by the 429
    bad = spans["invoke_agent bad"]
    assert bad.status.status_code is StatusCode.ERROR
    assert attrs(bad)["error.type"] == "failed"
    assert "it broke" in (bad.status.description or "")
    skipped = spans["invoke_agent after-bad"]
    assert attrs(skipped)["swarm.agent.status"] == "skipped"
    assert run.status.status_code is StatusCode.ERROR


class ContextRecordingBackend(ScriptedBackend):
    """Keeps the trace context each agent's request carried."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self.contexts: dict[str, Mapping[str, str]] = {}

    async def run_agent(self, request: AgentRequest, sink: AgentSink) -> AgentOutcome:
        self.contexts[request.agent_id] = request.trace_context
        return await super().run_agent(request, sink)


async def test_each_agent_request_carries_its_own_span_as_traceparent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The request's trace context names the agent's span: what the claude backend passes
    to the CLI as TRACEPARENT (and the Dask path to a worker)."""
    tracer, exporter = traced()
    store = MemoryStore()
    backend = ContextRecordingBackend(store)
    from swarm import ParallelSwarmExecutor

    executor = ParallelSwarmExecutor(backend, store, options=ExecutorOptions(observers=[tracer]))
    await executor.run(make_plan([{"id": "a"}, {"id": "b"}]))
    spans = by_name(exporter.get_finished_spans())
    for agent_id in ("a", "b"):
        ctx = spans[f"invoke_agent {agent_id}"].context
        expected = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
        assert ctx.trace_flags.sampled
        assert backend.contexts[agent_id] == {"traceparent": expected}
        assert trace_env(backend.contexts[agent_id]) == {"TRACEPARENT": expected}


async def test_no_observer_no_trace_context() -> None:
    """Untraced, a request carries no trace context (and the CLI env gains nothing)."""
    store = MemoryStore()
    backend = ContextRecordingBackend(store)
    from swarm import ParallelSwarmExecutor

    await ParallelSwarmExecutor(backend, store).run(make_plan([{"id": "a", "latency": 0}]))
    assert backend.contexts == {"a": {}}
    assert trace_env({}) == {}
    assert trace_env({"traceparent": "00-x-y-01", "tracestate": "k=v", "other": "z"}) == {
        "TRACEPARENT": "00-x-y-01",
        "TRACESTATE": "k=v",
    }


async def test_content_only_when_asked_and_then_redacted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """By default no span holds a message; with content on, the agent's messages are
    there in the GenAI message shape, with secrets redacted."""
    plan = make_plan([{"id": "a", "prompt": f"use the key {SECRET} to call"}])
    off, off_spans = traced()
    await run_plan(plan, options=ExecutorOptions(observers=[off]))
    for span in off_spans.get_finished_spans():
        assert "gen_ai.input.messages" not in attrs(span)
        assert "gen_ai.output.messages" not in attrs(span)
        assert SECRET not in json.dumps(dict(attrs(span)))
    on, on_spans = traced(content=True)
    await run_plan(plan, options=ExecutorOptions(observers=[on]))
    a = attrs(by_name(on_spans.get_finished_spans())["invoke_agent a"])
    inputs = json.loads(str(a["gen_ai.input.messages"]))
    outputs = json.loads(str(a["gen_ai.output.messages"]))
    assert inputs[0]["role"] == "user"
    text = inputs[0]["parts"][0]["content"]
    assert text.startswith("use the key ") and SECRET not in text
    assert outputs and outputs[0]["role"] == "assistant"
    assert SECRET not in json.dumps(dict(a))


async def test_metrics_count_agents_tokens_cost_retries_window_and_queue(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The run's figures as metrics: agents by status, tokens by type, cost, retries,
    the window (narrowed by a 429) and the queue (empty at the end)."""
    reader = InMemoryMetricReader()
    meter = RunMeter(MeterProvider(metric_readers=[reader]))
    store = MemoryStore()
    backend = ScriptedBackend(
        store,
        {"a": AgentScript(rate_limited=(429,), cost_usd=0.25), "b": AgentScript(fail="no")},
        default=AgentScript(cost_usd=0.5),
    )
    from swarm import ParallelSwarmExecutor

    executor = ParallelSwarmExecutor(backend, store, options=ExecutorOptions(observers=[meter]))
    plan = make_plan(
        [{"id": "a"}, {"id": "b"}, {"id": "c"}], name="test-plan", execution={"max_parallel": 2}
    )
    await executor.run(plan)
    points: dict[str, list[tuple[dict[str, Any], float]]] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = float(getattr(point, "value", 0))
                    points.setdefault(metric.name, []).append((dict(point.attributes or {}), value))
    agents = {a["swarm.agent.status"]: v for a, v in points["swarm.agents"]}
    assert agents == {"queued": 0, "running": 0, "succeeded": 2, "failed": 1}
    tokens = {a["gen_ai.token.type"]: v for a, v in points["swarm.tokens"]}
    assert tokens == {"input": 300, "output": 60}  # three agents, one call each (100/20)
    assert [v for _, v in points["swarm.cost"]] == [0.75]  # a failed agent reports none
    assert [v for _, v in points["swarm.retries"]] == [1]
    assert [v for _, v in points["swarm.queue.length"]] == [0]
    assert [v for _, v in points["swarm.window.size"]] in ([1], [2])  # narrowed, maybe widened
    (attributes, _), *_ = points["swarm.cost"]
    assert attributes["swarm.run.name"] == "test-plan"
