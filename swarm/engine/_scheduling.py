"""Which agent starts next, and when: the ready queue, the window, and the scheduler.

Agents start by priority (critical first), then, within one priority, longest
expected duration first when durations are known from earlier runs (that packs
the window tightly: the long ones do not end up alone at the tail), then in
plan order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping

import trio

from ..plan import AgentSpec

# A heap entry: (priority rank, -expected seconds, plan order, agent). Plan order is
# unique, so tuples compare in C and never reach the agent.
_Entry = tuple[int, float, int, AgentSpec]


class ReadyQueue:
    """Agents whose dependencies are met, popped in start order."""

    def __init__(
        self, order: Mapping[str, int], expected_durations: Mapping[str, float] | None = None
    ) -> None:
        self._order = order
        self._expected = expected_durations or {}
        self._heap: list[_Entry] = []

    def key(self, agent: AgentSpec) -> tuple[int, float, int]:
        return (agent.priority.rank, -self._expected.get(agent.id, 0.0), self._order[agent.id])

    def push(self, agent: AgentSpec) -> None:
        heapq.heappush(
            self._heap,
            (agent.priority.rank, -self._expected.get(agent.id, 0.0), self._order[agent.id], agent),
        )

    def extend(self, agents: Iterable[AgentSpec]) -> None:
        for agent in agents:
            self.push(agent)

    def pop(self) -> AgentSpec:
        return heapq.heappop(self._heap)[3]

    def drain(self) -> list[AgentSpec]:
        agents = [entry[3] for entry in sorted(self._heap)]
        self._heap.clear()
        return agents

    def __len__(self) -> int:
        return len(self._heap)

    def __bool__(self) -> bool:
        return bool(self._heap)


class AIMDWindow:
    """Additive-increase, multiplicative-decrease control of the parallel window.

    A rate limit (429/529) halves the window, at most once per ``cooldown_s``
    so one burst of 429s counts once; every ``window`` successful calls widen
    it by one, back up to ``ceiling``.
    """

    def __init__(self, ceiling: int, cooldown_s: float = 1.0) -> None:
        self.ceiling = ceiling
        self.size = ceiling
        self.cooldown_s = cooldown_s
        self._last_decrease = float("-inf")
        self._successes = 0

    def on_rate_limited(self, now: float) -> bool:
        """Narrow the window; True if it changed."""
        if now - self._last_decrease < self.cooldown_s or self.size == 1:
            return False
        self._last_decrease = now
        self.size = max(1, self.size // 2)
        self._successes = 0
        return True

    def on_success(self) -> bool:
        """Count a successful call; True if the window widened."""
        if self.size >= self.ceiling:
            return False
        self._successes += 1
        if self._successes >= self.size:
            self._successes = 0
            self.size += 1
            return True
        return False


class Scheduler:
    """Starts agents as the window lets them: one nursery owns every agent task, and a
    ``trio.CapacityLimiter`` is the window, narrowed on rate limits (:class:`AIMDWindow`).

    In ``window`` mode a slot freed by any agent goes at once to the highest-priority
    agent waiting; in ``batch`` mode (claude-flow's, kept for comparison) fixed
    batches wait for their slowest agent. Once :meth:`close` is called no agent starts.
    """

    def __init__(
        self,
        order: Mapping[str, int],
        expected_durations: Mapping[str, float],
        *,
        max_parallel: int,
        cooldown_s: float,
        mode: str,
    ) -> None:
        self.ready = ReadyQueue(order, expected_durations)
        self.max_parallel = max_parallel
        self.limiter = trio.CapacityLimiter(max_parallel)
        self.window = AIMDWindow(max_parallel, cooldown_s)
        self.mode = mode
        self.wakeup = trio.lowlevel.ParkingLot()
        self.closed = False
        self.running = 0  # agent tasks alive
        self.in_window = 0  # of those, holding a window slot
        self.peak = 0  # the most in the window at once
        # An agent whose own work is done and that only waits for its final records to be
        # durable gives its slot to the next agent (window mode): a slow fsync then stalls
        # no start. At most max_parallel agents wait so, each holding one of these.
        self.settling = trio.CapacityLimiter(max_parallel)
        self._settled: set[object] = set()

    def close(self) -> None:
        """Start no more agents."""
        self.closed = True
        self.wake()

    def wake(self) -> None:
        self.wakeup.unpark_all()

    def on_rate_limited(self, status: int | None) -> bool:
        """Narrow the window on a 429/529; True if it changed."""
        if status in (429, 529) and self.window.on_rate_limited(trio.current_time()):
            self.limiter.total_tokens = self.window.size
            return True
        return False

    def on_call_succeeded(self) -> bool:
        """Count a successful call toward widening the window; True if it widened."""
        if self.window.on_success():
            self.limiter.total_tokens = self.window.size
            return True
        return False

    async def run(self, nursery: trio.Nursery, start: Callable[[AgentSpec, object], None]) -> None:
        """Start agents in ``nursery`` (``start(spec, token)`` starts one task holding a
        window slot for ``token``) until none is ready or running, or the scheduler is
        closed and none runs."""
        if self.mode == "batch":
            await self._batches(nursery, start)
        else:
            await self._window(nursery, start)

    def started(self) -> None:
        self.running += 1
        self.in_window += 1
        self.peak = max(self.peak, self.in_window)

    def settle(self, token: object) -> None:
        """The agent of ``token`` ran; it waits only for its final records to be durable.
        Its window slot goes to the next agent if a settling place is free (window mode
        only: a batch waits for its slowest agent's records too)."""
        if self.mode == "batch" or token in self._settled:
            return
        try:
            self.settling.acquire_on_behalf_of_nowait(token)
        except trio.WouldBlock:
            return  # as many settle already: it keeps its slot until it ends
        self._settled.add(token)
        self.in_window -= 1
        self.limiter.release_on_behalf_of(token)
        self.wake()

    def finished(self, token: object) -> None:
        """An agent task ended: its slot (or its settling place) is free again."""
        self.running -= 1
        if token in self._settled:
            self._settled.discard(token)
            self.settling.release_on_behalf_of(token)
        else:
            self.in_window -= 1
            self.limiter.release_on_behalf_of(token)
        self.wake()

    async def _window(
        self, nursery: trio.Nursery, start: Callable[[AgentSpec, object], None]
    ) -> None:
        while True:
            while not self.ready or self.closed:
                if self.running == 0 and (not self.ready or self.closed):
                    return
                await self.wakeup.park()
            token = object()
            await self.limiter.acquire_on_behalf_of(token)
            if not self.ready or self.closed:
                self.limiter.release_on_behalf_of(token)
                continue
            self.started()
            start(self.ready.pop(), token)

    async def _batches(
        self, nursery: trio.Nursery, start: Callable[[AgentSpec, object], None]
    ) -> None:
        while not self.closed:
            if not self.ready:
                if self.running == 0:
                    return
                await self.wakeup.park()
                continue
            batch = [self.ready.pop() for _ in range(min(len(self.ready), self.max_parallel))]
            for spec in batch:
                token = object()
                await self.limiter.acquire_on_behalf_of(token)
                self.started()
                start(spec, token)
            while self.running:
                await self.wakeup.park()
