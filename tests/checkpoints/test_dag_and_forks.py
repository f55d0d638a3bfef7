"""Forks of forks in plans, diffs between checkpoints, and forking at a checkpoint."""

from __future__ import annotations

import pytest
import trio

from swarm import AgentResult, AgentStatus, MemoryStore, PlanError, parse_plan
from swarm.stores import history, lineage
from swarm.timeline import create_checkpoint, diff_checkpoints, fork_at, fork_plan
from tests.core.helpers import make_plan, run_plan

from .helpers import by_kind


async def test_fork_of_a_fork_starts_after_its_parent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """c forks b which forks a: each starts when its parent ends, with the lineage chained."""
    plan = make_plan(
        [
            {"id": "a", "latency": 2},
            {"id": "b", "latency": 3, "fork_from": {"agent": "a"}},
            {"id": "c", "latency": 1, "fork_from": {"agent": "b"}},
            {"id": "d", "latency": 1},
        ],
        execution={"max_parallel": 4},
    )
    result, events, store = await run_plan(plan)
    assert result.succeeded
    started = {e.agent_id: e.elapsed_s for e in events if e.kind == "started"}
    assert started == {"a": 0.0, "d": 0.0, "b": 2.0, "c": 5.0}
    agents = result.agents
    assert agents["b"].parent_session_id == agents["a"].session_id
    assert agents["c"].parent_session_id == agents["b"].session_id
    assert agents["c"].session_id is not None
    chain = await lineage(store, agents["c"].session_id)
    assert [s.agent_id for s in chain] == [None, "a", "b", "c"]


async def test_forks_of_forks_in_batch_mode(autojump_clock: trio.testing.MockClock) -> None:
    """In batch mode a fork joins the first batch that starts after its parent ended."""
    plan = make_plan(
        [
            {"id": "a", "latency": 1},
            {"id": "x", "latency": 2},
            {"id": "b", "latency": 1, "fork_from": {"agent": "a"}},
            {"id": "c", "latency": 1, "fork_from": {"agent": "b"}},
        ],
        execution={"max_parallel": 2, "mode": "batch"},
    )
    result, events, _ = await run_plan(plan)
    assert result.succeeded
    started = {e.agent_id: e.elapsed_s for e in events if e.kind == "started"}
    assert started == {"a": 0.0, "x": 0.0, "b": 2.0, "c": 3.0}
    assert result.agents["c"].parent_session_id == result.agents["b"].session_id


async def test_dependants_of_a_failed_agent_are_skipped_with_the_reason(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A failed parent skips its fork, and the fork's fork, each saying why; others run."""
    plan = make_plan(
        [
            {"id": "a", "simulated": {"failure_rate": 1}},
            {"id": "b", "fork_from": {"agent": "a"}},
            {"id": "c", "fork_from": {"agent": "b"}},
            {"id": "d"},
        ]
    )
    result, _, _ = await run_plan(plan)
    statuses = {k: v.status for k, v in result.agents.items()}
    assert statuses == {
        "a": AgentStatus.FAILED,
        "b": AgentStatus.SKIPPED,
        "c": AgentStatus.SKIPPED,
        "d": AgentStatus.SUCCEEDED,
    }
    assert result.agents["b"].error == "skipped: it forks from agent 'a', which ended failed"
    assert result.agents["c"].error == "skipped: it forks from agent 'b', which was skipped"
    assert result.agents["b"].session_id is None


@pytest.mark.parametrize(
    ("agents", "line", "expected"),
    [
        (
            "  - {id: a, prompt: p}\n  - id: b\n    prompt: p\n    fork_from: {agent: zz}\n",
            6,
            "agents[1].fork_from.agent: agent 'b' forks from an unknown agent",
        ),
        (
            "  - {id: a, prompt: p, fork_from: {agent: c}}\n"
            "  - {id: b, prompt: p, fork_from: {agent: a}}\n"
            "  - {id: c, prompt: p, fork_from: {agent: b}}\n",
            3,
            "agents[0].fork_from.agent: fork_from makes a cycle: a -> c -> b -> a",
        ),
    ],
    ids=["unknown", "cycle"],
)
def test_fork_from_errors_name_file_and_line(agents: str, line: int, expected: str) -> None:
    """An unknown fork_from agent or a cycle is a plan error at the offending line."""
    with pytest.raises(PlanError) as caught:
        parse_plan("base: {prompt: x}\nagents:\n" + agents, "dag.yaml")
    (issue,) = caught.value.issues
    assert str(issue).startswith(f"dag.yaml:{line}: {expected}")


async def test_fork_from_a_named_checkpoint(autojump_clock: trio.testing.MockClock) -> None:
    """`fork_from: {agent, checkpoint: NAME}` forks at that checkpoint, not at the parent's end."""
    plan = make_plan(
        [
            {"id": "a", "simulated": {"turns": 4}},
            {"id": "b", "fork_from": {"agent": "a", "checkpoint": "after-turn-1"}},
            {"id": "c", "fork_from": {"agent": "a", "checkpoint": "no-such"}},
        ]
    )
    store = MemoryStore()

    async def mark(result: AgentResult) -> None:
        if result.agent_id == "a" and result.session_id is not None:
            own = await store.get_messages(result.session_id)
            await create_checkpoint(
                store, result.session_id, "after-turn-1", message_uuid=own[1].uuid
            )

    result, _, _ = await run_plan(plan, store, post_agent=[mark])
    a, b, c = (result.agents[x] for x in "abc")
    assert a.session_id is not None and b.session_id is not None
    assert b.status is AgentStatus.SUCCEEDED
    assert b.fork_point == (await store.get_messages(a.session_id))[1].uuid
    assert len(await history(store, b.session_id)) == 2 + 2 + 2  # base, a's first turn, b's
    assert c.status is AgentStatus.FAILED
    assert c.error is not None and "no checkpoint 'no-such'" in c.error


async def test_diff_between_checkpoints_on_a_line_and_across_branches(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Diffs give message, token and cost deltas and files added, removed and modified."""
    plan = make_plan(
        [
            {"id": "a", "simulated": {"files": ["a.py", "shared.py"], "turns": 2}},
            {
                "id": "b",
                "fork_from": {"agent": "a"},
                "simulated": {"files": ["b.py", "shared.py"], "turns": 2},
            },
            {"id": "c", "fork_from": {"agent": "a"}, "simulated": {"files": ["c.py"]}},
        ],
        checkpoints={"every": 0},
    )
    result, _, store = await run_plan(plan)
    final = {}
    for agent_id in "abc":
        session = result.agents[agent_id].session_id
        assert session is not None
        (final[agent_id],) = by_kind(await store.list_checkpoints(session), "final")

    line = await diff_checkpoints(store, final["a"], final["b"])
    assert line.linear and line.common_message == final["a"].message_uuid
    assert line.messages == 3 == len(line.only_in_b)
    assert line.usage.input_tokens == 2000 and line.usage.output_tokens == 400
    assert (line.files_added, line.files_removed, line.files_modified) == (
        ("b.py",),
        (),
        ("shared.py",),
    )

    across = await diff_checkpoints(store, final["b"], final["c"])
    assert not across.linear and across.common_message == final["a"].message_uuid
    assert (len(across.only_in_a), len(across.only_in_b), across.messages) == (3, 2, -1)
    assert across.usage.total == -1200
    assert (across.files_added, across.files_removed, across.files_modified) == (
        ("c.py",),
        ("b.py",),
        ("shared.py",),
    )
    assert across.to_dict()["files"] == {
        "added": ["c.py"],
        "removed": ["b.py"],
        "modified": ["shared.py"],
    }


async def test_fork_at_a_checkpoint_leaves_the_original_intact(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A fork at a checkpoint points at its message; the original's records do not change."""
    plan = make_plan([{"id": "a", "simulated": {"turns": 5}}], checkpoints={"every": 2})
    result, _, store = await run_plan(plan)
    original = result.agents["a"].session_id
    assert original is not None
    checkpoint = by_kind(await store.list_checkpoints(original), "auto")[0]
    before = (
        await store.get_session(original),
        await store.get_messages(original),
        await store.list_checkpoints(original),
    )
    record, inherited = await fork_at(store, checkpoint, agent_id="retry")
    after = (
        await store.get_session(original),
        await store.get_messages(original),
        await store.list_checkpoints(original),
    )
    assert before == after
    assert record.parent_session_id == original and record.fork_point == checkpoint.message_uuid
    assert inherited == await history(store, original, upto=checkpoint.message_uuid)
    assert len(inherited) == checkpoint.message_count
    assert await history(store, record.session_id) == inherited


async def test_fork_plan_runs_one_agent_at_the_checkpoint(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The one-agent fork plan carries the agent's settings and runs on the normal executor."""
    plan = make_plan([{"id": "a", "latency": 2, "simulated": {"turns": 3}}])
    result, _, store = await run_plan(plan)
    session = result.agents["a"].session_id
    assert session is not None
    (final,) = by_kind(await store.list_checkpoints(session), "final")
    run = await store.get_run(result.run_id)
    assert run is not None
    forked = fork_plan(final, "try another way", like=run.plan, like_agent="a", backend="simulated")
    assert forked.agents[0].id == "a-fork" and forked.agents[0].simulated is not None
    assert forked.agents[0].simulated.turns == 3
    again, _, _ = await run_plan(forked, store)
    child = again.agents["a-fork"]
    assert child.succeeded and child.parent_session_id == session
    assert child.fork_point == final.message_uuid and child.turns == 3
    assert [c.checkpoint_id for c in await store.list_checkpoints(session)] == [final.checkpoint_id]
