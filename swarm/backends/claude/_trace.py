"""The trace context of an agent's span, as the Claude Code CLI takes it."""

from __future__ import annotations

from collections.abc import Mapping


def trace_env(trace_context: Mapping[str, str]) -> dict[str, str]:
    """The W3C trace context as the environment variables a CLI reads (``TRACEPARENT``,
    ``TRACESTATE``), so Claude Code's own telemetry nests under the agent's span."""
    names = {"traceparent": "TRACEPARENT", "tracestate": "TRACESTATE"}
    return {names[key]: value for key, value in trace_context.items() if key in names and value}
