"""Logs: run and agent ids bound to every agent line, JSON on request, secrets redacted."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from swarm import configure_logging
from swarm.logging import REDACTED, RedactSecrets

from .helpers import make_plan, run_plan


async def test_json_logs_carry_run_and_agent_ids(autojump_clock: object) -> None:
    """Each agent's finish line is JSON with the run id and its agent id."""
    buffer = io.StringIO()
    configure_logging("info", json=True, stream=buffer)
    try:
        result, _, _ = await run_plan(make_plan([{"id": "a"}, {"id": "b"}]))
    finally:
        configure_logging("warning")
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    finished = [line for line in lines if line["event"] == "agent.finished"]
    assert {line["agent_id"] for line in finished} == {"a", "b"}
    assert all(line["run_id"] == result.run_id for line in lines)
    assert {line["level"] for line in lines} == {"info"}


def test_redaction_of_secret_fields_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fields named like secrets and key-shaped or environment secret values are masked."""
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-1234567890")
    processor = RedactSecrets()
    event = processor(
        None,
        "info",
        {
            "event": "calling with sk-ant-api03-abcdefghijklmnop",
            "api_key": "whatever",
            "detail": {"header": "Bearer tok-1234567890"},
            "count": 3,
        },
    )
    assert event["event"] == f"calling with {REDACTED}"
    assert event["api_key"] == REDACTED
    assert event["detail"] == {"header": f"Bearer {REDACTED}"}
    assert event["count"] == 3


def test_unknown_level_is_rejected() -> None:
    """An unknown log level is a clear ValueError, not a silent default."""
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("loud")
    structlog.reset_defaults()
