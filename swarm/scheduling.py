"""Which agent starts next.

Agents start by priority (critical first), then, within one priority, longest
expected duration first when durations are known from earlier runs (that packs
the window tightly: the long ones do not end up alone at the tail), then in
plan order.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from .plan import AgentSpec

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
