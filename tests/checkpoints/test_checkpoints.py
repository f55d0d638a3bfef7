"""Checkpoints: automatic cadence, files from tool uses, retention, and the Python API."""

from __future__ import annotations

import pytest
import trio

from swarm import MemoryStore, Message, NotFoundError, SessionRecord, UsageError
from swarm.stores import history
from swarm.timeline import (
    CheckpointPolicy,
    HistoryState,
    SessionCheckpoints,
    create_checkpoint,
    files_touched,
    find_checkpoint,
    state_at,
)
from tests.core.helpers import make_plan, run_plan

from .helpers import assistant, by_kind, session_with_messages


async def test_automatic_cadence_final_and_fork_point(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A checkpoint every N own messages, one at the end, and one on the base at the fork."""
    plan = make_plan([{"id": "a", "simulated": {"turns": 7}}], checkpoints={"every": 3})
    result, _, store = await run_plan(plan)
    agent = result.agents["a"]
    assert agent.session_id is not None and result.base_session_id is not None
    mine = await store.list_checkpoints(agent.session_id)
    # base has 2 messages; a adds 1 user + 7 assistant: auto at own 3 and 6, final at 8.
    assert [(c.kind, c.message_count) for c in mine] == [("auto", 5), ("auto", 8), ("final", 10)]
    own = await store.get_messages(agent.session_id)
    assert mine[0].message_uuid == own[2].uuid and mine[-1].message_uuid == own[-1].uuid
    assert mine[-1].usage.total == result.agents["a"].usage.total + 1200  # plus the base's
    (fork,) = await store.list_checkpoints(result.base_session_id)
    assert fork.kind == "fork" and fork.message_count == 2


async def test_final_replaces_an_auto_checkpoint_on_the_same_message(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """When the last message is also an every-N point, only the final checkpoint stays there."""
    plan = make_plan([{"id": "a", "simulated": {"turns": 3}}], checkpoints={"every": 2})
    result, _, store = await run_plan(plan)
    session = result.agents["a"].session_id
    assert session is not None
    kinds = [(c.kind, c.message_count) for c in await store.list_checkpoints(session)]
    assert kinds == [("auto", 4), ("final", 6)]


async def test_every_zero_turns_automatic_checkpoints_off(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """`checkpoints.every: 0` leaves only the final checkpoint."""
    plan = make_plan([{"id": "a", "simulated": {"turns": 5}}], checkpoints={"every": 0})
    result, _, store = await run_plan(plan)
    session = result.agents["a"].session_id
    assert session is not None
    assert [c.kind for c in await store.list_checkpoints(session)] == ["final"]


async def test_files_modified_come_from_write_tool_uses(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Files written by an agent, and by the agent it forks from, are in its final checkpoint."""
    plan = make_plan(
        [
            {"id": "a", "simulated": {"files": ["src/a.py", "README.md"], "turns": 2}},
            {"id": "b", "fork_from": {"agent": "a"}, "simulated": {"files": ["src/b.py"]}},
        ]
    )
    result, _, store = await run_plan(plan)
    finals = {}
    for agent_id in ("a", "b"):
        session = result.agents[agent_id].session_id
        assert session is not None
        (finals[agent_id],) = by_kind(await store.list_checkpoints(session), "final")
    assert finals["a"].files_modified == ("README.md", "src/a.py")
    assert finals["b"].files_modified == ("README.md", "src/a.py", "src/b.py")


def test_files_touched_reads_every_editing_tool_and_form() -> None:
    """Write, Edit, MultiEdit and NotebookEdit count, in API, transcript and SDK block forms."""
    blocks = [
        {"type": "tool_use", "name": "Edit", "input": {"file_path": "e.py"}},
        {"type": "tool_use", "name": "MultiEdit", "input": {"file_path": "m.py"}},
        {"type": "tool_use", "name": "NotebookEdit", "input": {"notebook_path": "n.ipynb"}},
        {"type": "tool_use", "name": "Read", "input": {"file_path": "r.py"}},
        {"name": "Write", "input": {"file_path": "sdk.py"}},  # an SDK dataclass dumped as is
        {"type": "text", "text": "Write"},
    ]
    api = Message("u", "s", "assistant", "", raw={"content": blocks})
    transcript = Message("u", "s", "assistant", "", raw={"message": {"content": blocks}})
    expected = ["e.py", "m.py", "n.ipynb", "sdk.py"]
    assert files_touched(api) == expected and files_touched(transcript) == expected
    assert files_touched(Message("u", "s", "assistant", "plain")) == []


async def test_retention_drops_oldest_automatic_and_keeps_named() -> None:
    """Past max_per_session the oldest automatic checkpoints go; named ones always stay."""
    store = MemoryStore()
    messages = await session_with_messages(store, "s", 2)
    first = await create_checkpoint(store, "s", "first", message_uuid=messages[0].uuid)
    second = await create_checkpoint(store, "s", "second")
    live = SessionCheckpoints(
        store, CheckpointPolicy(every=1, max_per_session=5), "s", await state_at(store, "s"), []
    )
    live.existing = await store.list_checkpoints("s")
    added = [assistant("s", f"x{i}") for i in range(8)]
    for message in added:
        await store.append_messages("s", [message])
        await live.observe(message)
    kept = await store.list_checkpoints("s")
    assert len(kept) == 5
    assert {c.checkpoint_id for c in by_kind(kept, "named")} == {
        first.checkpoint_id,
        second.checkpoint_id,
    }
    assert [c.message_uuid for c in by_kind(kept, "auto")] == ["x5", "x6", "x7"]


async def test_named_checkpoints_exceed_the_cap_rather_than_go() -> None:
    """With more named checkpoints than the cap, all of them are kept."""
    store = MemoryStore()
    messages = await session_with_messages(store, "s", 4)
    for i, message in enumerate(messages):
        await create_checkpoint(store, "s", f"n{i}", message_uuid=message.uuid, max_per_session=2)
    assert len(await store.list_checkpoints("s")) == 4


async def test_create_checkpoint_figures_match_the_full_history() -> None:
    """A checkpoint read incrementally from an earlier one has the figures of a full reread."""
    store = MemoryStore()
    base = await session_with_messages(store, "base", 6)
    await store.save_session(
        SessionRecord("fork", "simulated", parent_session_id="base", fork_point=base[3].uuid)
    )
    own = [assistant("fork", f"f{i}", files=(f"f{i}.py",), tokens=100) for i in range(5)]
    await store.append_messages("fork", own)
    early = await create_checkpoint(store, "fork", "early", message_uuid="f1")
    late = await create_checkpoint(store, "fork", "late")
    full = await history(store, "fork")
    assert late.message_count == len(full) == 4 + 5
    assert late.usage.total == sum(m.usage.total for m in full)
    assert late.files_modified == tuple(f"f{i}.py" for i in range(5))
    assert (early.message_count, early.message_uuid) == (6, "f1")
    # A message between two checkpoints is computed from the earlier one.
    mid = await state_at(store, "fork", "f3")
    assert mid == HistoryState.of(early).advanced(own[2:4])


async def test_create_checkpoint_rejects_bad_requests() -> None:
    """Unknown session or message, a duplicate name, an inherited message: clear errors."""
    store = MemoryStore()
    base = await session_with_messages(store, "base", 4)
    await store.save_session(
        SessionRecord("fork", "simulated", parent_session_id="base", fork_point=base[1].uuid)
    )
    await store.append_messages("fork", [assistant("fork", "f0")])
    with pytest.raises(NotFoundError, match="no session nope"):
        await create_checkpoint(store, "nope", "x")
    with pytest.raises(NotFoundError, match="zz is not a message of session base"):
        await create_checkpoint(store, "base", "x", message_uuid="zz")
    await create_checkpoint(store, "base", "x")
    with pytest.raises(UsageError, match="already has a checkpoint named 'x'"):
        await create_checkpoint(store, "base", "x")
    with pytest.raises(UsageError, match="inherited"):
        await create_checkpoint(store, "fork", "y", message_uuid=base[0].uuid)
    with pytest.raises(UsageError, match="is empty"):
        await create_checkpoint(store, "fork", " ")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../escape", "has a path separator"),
        ("a/b", "has a path separator"),
        ("a\\b", "has a path separator"),
        (".hidden", "starts with '.'"),
        ("bell\x07", "has a control or invisible character"),
        ("new\nline", "has a control or invisible character"),
        ("evil\u202egnp.exe", "has a control or invisible character"),
        ("x" * 201, "is 201 characters long"),
    ],
)
async def test_checkpoint_names_that_could_pass_for_paths_are_refused(
    name: str, problem: str
) -> None:
    """Path separators, a leading '.', control or invisible characters and names over
    200 characters are a UsageError saying what is allowed; nothing is saved."""
    store = MemoryStore()
    await session_with_messages(store, "s", 2)
    with pytest.raises(UsageError, match=problem) as caught:
        await create_checkpoint(store, "s", name)
    assert "expected 1 to 200 printable characters" in str(caught.value)
    assert len(str(caught.value)) < 200  # a long name is shortened, not echoed whole
    assert await store.list_checkpoints("s") == []
    assert (await create_checkpoint(store, "s", "é" * 200 + "")).description == "é" * 200


async def test_find_checkpoint_by_id_prefix_and_name() -> None:
    """A checkpoint is found by its id, a unique prefix or its name; ambiguity is an error."""
    store = MemoryStore()
    await session_with_messages(store, "s", 2)
    named = await create_checkpoint(store, "s", "release")
    assert await find_checkpoint(store, named.checkpoint_id) == named
    assert await find_checkpoint(store, named.checkpoint_id[:10]) == named
    assert await find_checkpoint(store, "release", "s") == named
    await create_checkpoint(store, "s", "other")
    with pytest.raises(UsageError, match="must not be empty"):
        await find_checkpoint(store, "")
    with pytest.raises(NotFoundError, match="no checkpoint 'nope'"):
        await find_checkpoint(store, "nope")


async def test_find_checkpoint_by_name_prefix_and_ambiguity_lists_candidates() -> None:
    """A unique prefix of a name finds it; an exact name beats a longer one it prefixes;
    a prefix several share is "ambiguous" and lists each of them."""
    store = MemoryStore()
    await session_with_messages(store, "s", 2)
    before = await create_checkpoint(store, "s", "before refactor")
    numbered = [await create_checkpoint(store, "s", f"n{i}") for i in range(1, 5)]
    assert await find_checkpoint(store, "before") == before
    assert await find_checkpoint(store, "n3") == numbered[2]
    longer = await create_checkpoint(store, "s", "n3 again")
    assert await find_checkpoint(store, "n3") == numbered[2]
    assert await find_checkpoint(store, "n3 ") == longer
    with pytest.raises(NotFoundError, match="checkpoint 'n' is ambiguous: 5 match") as caught:
        await find_checkpoint(store, "n")
    for checkpoint in [*numbered, longer]:
        assert checkpoint.checkpoint_id[:12] in str(caught.value)
    assert "'n1'" in str(caught.value) and "give more of the id or name" in str(caught.value)
