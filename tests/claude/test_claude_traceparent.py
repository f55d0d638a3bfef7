"""A traced run hands each real Claude Code CLI its agent's span as ``TRACEPARENT``: the
fake API scripts a Bash tool use that writes the variable the CLI's tools see."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from swarm import ExecutorOptions, MemoryStore, ParallelSwarmExecutor, parse_plan
from swarm.backends import open_rehearsal
from swarm.mockapi import MockAPIConfig, ReplyRule, ToolUse
from swarm.telemetry import RunTracer

from .conftest import Harness

pytestmark = pytest.mark.cli


async def test_each_cli_sees_its_agents_span_as_traceparent(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()

    def dump(name: str) -> ToolUse:
        command = f"printenv TRACEPARENT > {work / name}"
        return ToolUse(name="Bash", input={"command": command, "description": "dump"})

    rules = tuple(ReplyRule(match=f"^trace {n}$", tool_uses=(dump(n),)) for n in ("a", "b"))
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with open_rehearsal(MockAPIConfig(rules=rules), tmp_path / "home") as rehearsal:
        harness = Harness(rehearsal, MemoryStore(), work)
        executor = ParallelSwarmExecutor(
            harness.backend(),
            harness.store,
            options=ExecutorOptions(observers=[RunTracer(provider)]),
        )
        plan = parse_plan(
            """
base: {prompt: "hello"}
agents:
  - {id: a, prompt: "trace a", allowed_tools: [Bash]}
  - {id: b, prompt: "trace b", allowed_tools: [Bash]}
execution: {max_parallel: 2}
"""
        )
        result = await executor.run(plan)
    assert result.succeeded, [a.error for a in result.agents.values()]
    spans = {span.name: span for span in exporter.get_finished_spans()}
    for agent_id in ("a", "b"):
        ctx = spans[f"invoke_agent {agent_id}"].context
        seen = (work / agent_id).read_text().strip()
        assert seen.startswith(f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-")
