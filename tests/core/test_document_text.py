"""The store's encoding of a record reuses the text redaction just made of it, never a
stale or foreign one; a run's plan is encoded once; records made together are scanned
together."""

from __future__ import annotations

import json
from typing import Any

import pytest

from swarm import _jsoncodec as jsoncodec
from swarm import _redaction as redaction
from swarm._redaction import redact_document, redact_plan, redact_records
from swarm.engine._state import queued_records
from swarm.plan import Plan
from swarm.records import AgentResult, AgentStatus, Message, RunRecord


def _message(text: str) -> Message:
    return Message(uuid="u1", session_id="s1", role="user", content=text)


def test_a_clean_record_is_encoded_once_and_an_unknown_one_fresh() -> None:
    clean = _message("nothing secret here")
    assert redact_document(clean) is clean
    expected = jsoncodec.dumps(clean.to_dict())
    assert jsoncodec._RECENT[id(clean)] == (clean, expected)
    assert jsoncodec.document_text(clean) == expected
    assert id(clean) not in jsoncodec._RECENT  # taken on use
    other = _message("another")
    assert jsoncodec.document_text(other) == jsoncodec.dumps(other.to_dict())


def test_a_redacted_record_is_never_stored_with_the_original_text() -> None:
    key = "sk-ant-api03-" + "A" * 90
    dirty = _message(f"my key is {key}")
    cleaned = redact_document(dirty)
    assert cleaned is not dirty
    assert key not in jsoncodec.document_text(cleaned)
    assert id(dirty) not in jsoncodec._RECENT


def test_the_memo_is_bounded() -> None:
    for i in range(jsoncodec._RECENT_MAX + 50):
        redact_document(_message(f"text {i}"))
    assert len(jsoncodec._RECENT) <= jsoncodec._RECENT_MAX


def test_a_run_record_is_encoded_around_the_kept_text_of_its_very_plan() -> None:
    """A clean plan's text is kept when it is redacted; a run record holding that very
    object encodes to the same text as before, with the plan put in as kept. An equal
    plan that is another object is encoded itself."""
    plan = redact_plan({"name": "p", "agents": [{"id": f"a{i}", "prompt": "x"} for i in range(3)]})
    record = RunRecord(run_id="r1", plan=plan)
    assert jsoncodec.encode(record) == jsoncodec.dumps(record.to_dict())
    jsoncodec.share_encoding(plan, '{"kept":true}')  # what encode puts in, verbatim
    assert '"plan":{"kept":true}' in jsoncodec.encode(record)
    assert '"plan":{"kept":true}' in jsoncodec.encode(record.evolve(name="later"))
    other = RunRecord(run_id="r2", plan=dict(plan))
    assert jsoncodec.encode(other) == jsoncodec.dumps(other.to_dict())


def test_a_run_record_orjson_refuses_is_encoded_plainly_around_a_kept_plan() -> None:
    plan = redact_plan({"name": "p", "agents": []})
    record = RunRecord(run_id="r1", plan=plan, rehearsal={"n": 2**70})  # wider than 64 bits
    assert jsoncodec.encode(record) == json.dumps(
        record.to_dict(), separators=(",", ":"), sort_keys=True, ensure_ascii=False
    )


def test_records_redacted_together_are_clean_together_or_redacted_one_by_one() -> None:
    clean = [_message(f"text {i}") for i in range(3)]
    kept = redact_records(clean)
    assert all(a is b for a, b in zip(kept, clean, strict=True))
    for message in clean:
        assert jsoncodec.document_text(message) == jsoncodec.dumps(message.to_dict())
    key = "sk-ant-api03-" + "B" * 90
    mixed = [_message("fine"), _message(f"my key is {key}"), _message("fine too")]
    out = redact_records(mixed)
    assert out[0] is mixed[0] and out[2] is mixed[2] and out[1] is not mixed[1]
    assert key not in jsoncodec.document_text(out[1])
    assert out == [redact_document(m) for m in mixed]


def _agents(*priorities: str) -> list[Any]:
    plan = Plan.model_validate(
        {
            "name": "queued",
            "base": {"prompt": "shared"},
            "agents": [
                {"id": f"agent-{i}", "prompt": "task", "priority": p}
                for i, p in enumerate(priorities)
            ],
        }
    )
    return list(plan.agents)


def test_queued_records_are_encoded_as_each_record_would_be() -> None:
    agents = _agents("critical", "low", "medium", "critical")
    records = queued_records(agents)
    assert [(r.agent_id, r.priority) for r in records] == [(a.id, a.priority.value) for a in agents]
    assert all(r.status is AgentStatus.PENDING for r in records)
    for record in records:
        assert jsoncodec.document_text(record) == jsoncodec.dumps(record.to_dict())


def test_queued_records_holding_a_secret_are_redacted_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a secret that is also a priority's name: the template holds it
    monkeypatch.setattr(redaction, "_registered", {*redaction._registered, "critical"})
    monkeypatch.setattr(redaction, "_known", None)
    agents = _agents("critical", "low")
    records = queued_records(agents)
    expected = [redact_document(AgentResult(a.id, priority=a.priority.value)) for a in agents]
    assert records == expected
    assert "critical" not in jsoncodec.document_text(records[0])
