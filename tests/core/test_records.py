"""Records: the hand-written encodings stay complete, evolve behaves like dataclasses.replace."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from swarm.records import (
    AgentResult,
    AgentStatus,
    Attempt,
    BaseEntry,
    Checkpoint,
    Lease,
    Message,
    RunRecord,
    RunStatus,
    SessionRecord,
    SwarmMetrics,
    Usage,
    new_uuid,
)

SAMPLES: list[Any] = [
    AgentResult(
        "a1",
        status=AgentStatus.FAILED,
        output="out",
        session_id="s",
        usage=Usage(1, 2, 3, 4),
        retries=2,
        error="boom",
    ),
    Message("u1", "s", "assistant", "hi", parent_uuid="u0", usage=Usage(5, 6), raw={"k": [1]}),
    SessionRecord("s", "simulated", run_id="r", metadata={"cwd": "/x"}),
    Checkpoint("c", "s", "u1", 3, usage=Usage(1), files_modified=("a.py",), kind="named"),
    RunRecord(
        "r",
        {"name": "p"},
        status=RunStatus.SUCCEEDED,
        metrics=SwarmMetrics(wall_s=1.0, counts={"succeeded": 1}),
        attempts=[
            Attempt(1, "run", owner="h:1:x"),
            Attempt(2, "resume", kept=["a"], base=BaseEntry("s", usage=Usage(1)), wall_s=2.0),
        ],
    ),
    Usage(1, 2, 3, 4),
    Lease("run:r", "h:1:x", 1.0, 31.0),
    Attempt(3, "resume", continued=["b"], ended_at="2026-01-01T00:00:00+00:00", status="failed"),
    BaseEntry("s", "u1", Usage(1, 2), cost_usd=0.5, seconds=1.5, retries=2),
]


def _standard(value: Any) -> Any:
    """What dataclasses.asdict gives, with enums as their values and tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _standard(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, AgentStatus | RunStatus):
        return value.value
    if isinstance(value, dict):
        return {k: _standard(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_standard(v) for v in value]
    return value


@pytest.mark.parametrize("record", SAMPLES, ids=lambda r: type(r).__name__)
def test_to_dict_has_every_field_with_its_value(record: Any) -> None:
    """A field added to a record cannot be left out of what the store writes."""
    assert _standard(record.to_dict()) == _standard(record)


@pytest.mark.parametrize("record", SAMPLES[:5] + SAMPLES[6:], ids=lambda r: type(r).__name__)
def test_from_dict_round_trips(record: Any) -> None:
    """What to_dict writes, from_dict reads back as an equal record."""
    assert type(record).from_dict(record.to_dict()) == record


def test_evolve_matches_dataclasses_replace() -> None:
    """evolve copies every other field unchanged and leaves the original alone."""
    original = SAMPLES[0]
    changed = original.evolve(status=AgentStatus.SUCCEEDED, error=None, turns=3)
    assert changed == dataclasses.replace(
        original, status=AgentStatus.SUCCEEDED, error=None, turns=3
    )
    assert original.status is AgentStatus.FAILED and original.turns == 0


def test_evolve_rejects_an_unknown_field() -> None:
    """A misspelt field name is an error, as with dataclasses.replace, not silently dropped."""
    with pytest.raises(TypeError, match="no field"):
        SAMPLES[0].evolve(stauts=AgentStatus.SUCCEEDED)


def test_new_uuid_gives_distinct_version_4_uuids() -> None:
    """Ids from the per-process generator are well-formed and do not repeat."""
    ids = {new_uuid() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(len(i) == 36 and i[14] == "4" for i in ids)


def test_utc_now_is_iso_8601_utc_to_the_microsecond() -> None:
    """The cached formatting gives the text datetime.isoformat gives, and it moves forward."""
    from datetime import UTC, datetime

    from swarm.records import utc_now

    before = datetime.now(UTC)
    stamp = utc_now()
    after = datetime.now(UTC)
    parsed = datetime.fromisoformat(stamp)
    assert stamp == parsed.isoformat(timespec="microseconds")
    assert parsed.tzinfo is not None and parsed.utcoffset() is not None
    assert before <= parsed <= after
    assert utc_now() >= stamp
