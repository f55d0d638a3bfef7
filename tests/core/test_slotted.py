"""swarm._slotted: a record built through the generated __init__ is the one the
dataclass's own __init__ builds, for every call shape, and the classes it cannot serve
are refused (evolve, its copier, is tested with the records: test_records.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest

from swarm._slotted import fast_init
from swarm.backends import AgentOutcome, AgentRequest
from swarm.records import AgentResult, Checkpoint, Message, SessionRecord, Usage
from swarm.stores import StoreWrite
from swarm.timeline._checkpoints import HistoryState

FAST = [Usage, Message, SessionRecord, AgentResult, Checkpoint, StoreWrite, HistoryState]
FAST += [AgentRequest, AgentOutcome]

_count = 0


def _stamp() -> str:
    global _count
    _count += 1
    return f"stamp-{_count}"


def _twins() -> tuple[type, type]:
    """The same record class twice: with the dataclass's __init__, and with fast_init's."""

    def make() -> type:
        @dataclass(frozen=True, slots=True)
        class Note:
            note_id: str
            text: str = ""
            tags: list[str] = field(default_factory=list)
            stamp: str = field(default_factory=_stamp)

        return Note

    return make(), fast_init(make())


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("n1",), {}),
        (("n1", "hello"), {}),
        (("n1",), {"tags": ["a"], "stamp": "s"}),
        ((), {"note_id": "n1", "text": "t", "tags": [], "stamp": "s"}),
    ],
)
def test_it_builds_what_the_dataclass_builds(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    plain, fast = _twins()
    built, expected = fast(*args, **kwargs), plain(*args, **kwargs)
    fields, wanted = dataclasses.asdict(built), dataclasses.asdict(expected)
    if "stamp" not in kwargs:  # its factory ran for each record
        assert built.stamp.startswith("stamp-") and built.stamp != expected.stamp
        del fields["stamp"], wanted["stamp"]
    assert fields == wanted


def test_defaults_from_a_factory_are_fresh_per_record() -> None:
    _, fast = _twins()
    first, second = fast("a"), fast("b")
    assert first.tags == [] and first.tags is not second.tags


def test_the_record_stays_frozen_comparable_and_hashable() -> None:
    plain, fast = _twins()
    record = fast("n1", "t", [], "s")
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.text = "changed"
    assert record == fast("n1", "t", [], "s") and record != fast("n2", "t", [], "s")
    assert repr(record) == repr(plain("n1", "t", [], "s"))
    assert hash(Usage(1, 2)) == hash(Usage(1, 2)) != hash(Usage(2, 1))


def test_a_wrong_call_fails_as_the_dataclass_does() -> None:
    _, fast = _twins()
    with pytest.raises(TypeError, match="note_id"):
        fast()
    with pytest.raises(TypeError, match="colour"):
        fast("n1", colour="red")
    with pytest.raises(TypeError):
        fast("n1", "t", [], "s", "one too many")


def test_it_refuses_what_it_cannot_build_faithfully() -> None:
    @dataclass(frozen=True)
    class Unslotted:
        a: int = 0

    @dataclass(frozen=True, slots=True)
    class Checked:
        a: int = 0

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class KeywordOnly:
        a: int = field(default=0, kw_only=True)

    for cls in (Unslotted, Checked, KeywordOnly):
        with pytest.raises(TypeError, match="fast_init"):
            fast_init(cls)


@pytest.mark.parametrize("cls", FAST, ids=lambda cls: cls.__name__)
def test_the_records_that_use_it_take_every_field_by_keyword(cls: type) -> None:
    """Each record built with fast_init takes its fields by name and keeps each value."""
    fields = dataclasses.fields(cls)
    values = {f.name: f"value of {f.name}" for f in fields}
    record = cls(**values)
    assert all(getattr(record, name) == value for name, value in values.items())
    assert dataclasses.replace(record, **{fields[0].name: "other"}) != record
