"""Rate limits in virtual time: AIMD window, retry-after, kept results, 429 storms."""

from __future__ import annotations

import pytest
import trio

from swarm import AgentStatus, EventKind, MemoryStore, RunStatus, SwarmEvent
from swarm.testing import AgentScript, RateLimitStorm, ScriptedBackend

from .helpers import FakeClock, collect, executor_for, scripted_plan

IDS = [f"a{i:02d}" for i in range(12)]


def window_sizes(events: list[SwarmEvent]) -> list[int]:
    return [e.data["size"] for e in events if e.kind is EventKind.WINDOW]


def starts_within_window(events: list[SwarmEvent], ceiling: int) -> bool:
    """Replay the log: no agent started while the window was already full.

    A start is judged against the window as it stood before that instant: an
    agent granted its slot in the same instant a 429 arrived is not a breach.
    """
    size, pending, running, now = ceiling, ceiling, 0, 0.0
    for event in events:
        if event.elapsed_s > now:
            size, now = pending, event.elapsed_s
        if event.kind is EventKind.WINDOW:
            pending = event.data["size"]
        elif event.kind is EventKind.STARTED:
            running += 1
            if running > max(size, pending):
                return False
        elif event.kind is EventKind.FINISHED and event.result is not None:
            running -= event.result.started_at is not None
    return True


@pytest.mark.parametrize("status", [429, 529])
async def test_the_window_narrows_on_rate_limits_and_widens_as_calls_succeed(
    autojump_clock: trio.testing.MockClock, status: int
) -> None:
    """A burst of 429/529 halves the window (down to 1), successes widen it back to 4."""
    store = MemoryStore()
    storm = RateLimitStorm(start_s=0.5, end_s=3.0, status=status, retry_after_s=1.0)
    backend = ScriptedBackend(store, default=AgentScript(latency_s=1.0, calls=2), storm=storm)
    executor = executor_for(backend, store, FakeClock())
    plan = scripted_plan(IDS, max_parallel=4)
    result, events = await collect(lambda events: executor.run(plan, events=events))

    sizes = window_sizes(events)
    low = sizes.index(min(sizes))
    assert sizes[: low + 1] == [2, 1]  # halved once per cooldown, never below 1
    assert sizes[low:] == [1, 2, 3, 4]  # +1 each time `size` calls succeeded in a row
    assert starts_within_window(events, 4)
    assert result.status is RunStatus.SUCCEEDED
    assert result.metrics.retries == backend.stats.rate_limited > 0


async def test_a_narrowed_window_holds_back_waiting_agents(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """After a 429 at 3 s the window is 2: nothing starts until calls succeed and widen it."""
    store = MemoryStore()
    storm = RateLimitStorm(start_s=2.5, end_s=4.0, status=429, retry_after_s=3.0)
    backend = ScriptedBackend(store, default=AgentScript(latency_s=1.0), storm=storm)
    executor = executor_for(backend, store, FakeClock())
    ids = [f"a{i:02d}" for i in range(20)]
    result, events = await collect(
        lambda events: executor.run(scripted_plan(ids, max_parallel=4), events=events)
    )
    assert window_sizes(events) == [2, 3, 4]
    started = [e.elapsed_s for e in events if e.kind is EventKind.STARTED]
    assert started.count(7.0) == 3  # the window is 3 when the four rate-limited ones end
    assert starts_within_window(events, 4)
    assert result.status is RunStatus.SUCCEEDED


async def test_server_errors_are_retried_without_narrowing_the_window(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A 503 is retried like a 429 but is not a rate limit: the window stays put."""
    store = MemoryStore()
    storm = RateLimitStorm(start_s=0.5, end_s=3.0, status=503, retry_after_s=1.0)
    backend = ScriptedBackend(store, default=AgentScript(latency_s=1.0, calls=2), storm=storm)
    executor = executor_for(backend, store, FakeClock())
    result, events = await collect(lambda events: executor.run(scripted_plan(IDS), events=events))
    assert window_sizes(events) == []
    assert result.status is RunStatus.SUCCEEDED
    assert backend.stats.rate_limited > 0


@pytest.mark.parametrize(
    ("retry_after_s", "delays", "duration_s"),
    [(7.0, [7.0, 7.0], 15.0), (None, [1.0, 2.0], 4.0)],
)
async def test_retry_after_is_honoured(
    autojump_clock: trio.testing.MockClock,
    retry_after_s: float | None,
    delays: list[float],
    duration_s: float,
) -> None:
    """The server's retry-after is the wait (reported in each retry event); else backoff."""
    store = MemoryStore()
    script = AgentScript(latency_s=1.0, rate_limited=(429, 429), retry_after_s=retry_after_s)
    backend = ScriptedBackend(store, {"a": script})
    executor = executor_for(backend, store, FakeClock())
    result, events = await collect(lambda events: executor.run(scripted_plan(["a"]), events=events))
    reported = [e.data["delay_s"] for e in events if e.kind is EventKind.RETRY]
    assert reported == delays
    assert [e.data["status"] for e in events if e.kind is EventKind.RETRY] == [429, 429]
    agent = result.agents["a"]
    assert agent.status is AgentStatus.SUCCEEDED
    assert agent.duration_s == pytest.approx(duration_s)
    assert agent.retries == 2


@pytest.mark.parametrize("fail_fast", [False, True])
async def test_finished_agents_are_kept_whatever_happens_to_the_others(
    autojump_clock: trio.testing.MockClock, fail_fast: bool
) -> None:
    """An agent that exhausts its retries fails alone; agents that finished keep their results."""
    store = MemoryStore()
    scripts = {
        "quick": AgentScript(latency_s=1.0),
        "doomed": AgentScript(latency_s=1.0, rate_limited=(429,) * 6),  # 6 attempts, all 429
        "broken": AgentScript(latency_s=2.0, fail="the model returned garbage"),
    }
    backend = ScriptedBackend(store, scripts)
    executor = executor_for(backend, store, FakeClock())
    plan = scripted_plan(list(scripts), fail_fast=fail_fast)
    result = await executor.run(plan, run_id="r1")

    quick = result.agents["quick"]
    assert quick.status is AgentStatus.SUCCEEDED
    assert quick.output == "quick: done after 1 calls"
    stored = {a.agent_id: a for a in await store.list_agents("r1")}
    assert stored["quick"] == quick
    assert result.agents["broken"].status is AgentStatus.FAILED
    assert result.status is RunStatus.FAILED
    doomed = result.agents["doomed"]
    if not fail_fast:
        assert doomed.status is AgentStatus.FAILED
        assert "HTTP 429" in (doomed.error or "") and doomed.retries == 5
    else:  # the first failure (broken, at 2 s) cancels doomed in the middle of its retries
        assert doomed.status is AgentStatus.CANCELLED
        assert doomed.error == "fail_fast: agent broken failed"


async def test_a_storm_within_the_retry_budget_never_fails_the_run(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Every call refused for 14 s (backoff reaches 15 s by the 5th attempt): all succeed."""
    store = MemoryStore()
    storm = RateLimitStorm(start_s=0.0, end_s=14.0, status=429)
    backend = ScriptedBackend(store, default=AgentScript(latency_s=1.0, calls=3), storm=storm)
    executor = executor_for(backend, store, FakeClock())
    ids = [f"s{i:02d}" for i in range(20)]
    result, events = await collect(
        lambda events: executor.run(scripted_plan(ids, max_parallel=5), events=events)
    )
    assert result.status is RunStatus.SUCCEEDED
    assert all(a.status is AgentStatus.SUCCEEDED for a in result.agents.values())
    assert backend.stats.rate_limited >= 5
    assert min(window_sizes(events)) == 1 and window_sizes(events)[-1] == 5
    assert starts_within_window(events, 5)
