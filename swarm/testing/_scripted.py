"""``ScriptedBackend``: a real fake backend whose agents do exactly what a test says.

Each agent follows an :class:`AgentScript`: how many API calls it makes and
how long each takes, which attempts the "API" answers with 429 or 529 (with
or without ``retry-after``), whether it fails at the end, and what each call
costs. A :class:`RateLimitStorm` makes every attempt in a time window fail,
across all agents. Failed attempts go through the shared retry code
(:func:`swarm.backends._retries.call_with_retries`), so the executor sees the
same sink calls as from a real backend. Everything runs on trio's clock, so a
test under ``MockClock(autojump_threshold=0)`` sees exact virtual times.

>>> backend = ScriptedBackend(store, {"a": AgentScript(calls=2, rate_limited=(429, 429))})
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import trio

from ..backends import (
    AgentOutcome,
    AgentRequest,
    AgentSink,
    BaseRequest,
    BaseSession,
    RetryPolicy,
    call_with_retries,
)
from ..errors import BackendError, TransientAPIError
from ..records import Message, Usage
from ..stores import Store


@dataclass(frozen=True, slots=True)
class AgentScript:
    """What one agent does: ``calls`` API calls of ``latency_s`` each.

    ``rate_limited`` lists the HTTP statuses of the agent's first failed
    attempts, in order (later attempts succeed); each failure carries
    ``retry_after_s`` when given. ``fail`` makes the agent raise at the end.
    """

    latency_s: float = 1.0
    calls: int = 1
    rate_limited: Sequence[int] = ()
    retry_after_s: float | None = None
    fail: str | None = None
    input_tokens: int = 100
    output_tokens: int = 20
    cost_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class RateLimitStorm:
    """Every attempt from ``start_s`` to ``end_s`` (after the base is built) fails."""

    start_s: float
    end_s: float
    status: int = 429
    retry_after_s: float | None = None


@dataclass
class ScriptedBackendStats:
    """What the backend saw: per-agent executions, attempts, and peak concurrency."""

    bases: int = 0
    executions: Counter[str] = field(default_factory=Counter)
    resumed: list[tuple[str, str]] = field(default_factory=list)
    attempts: int = 0
    rate_limited: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    # (virtual time, agent id, what): "start", "end", "429", "call"
    log: list[tuple[float, str, str]] = field(default_factory=list)


class ScriptedBackend:
    """A :class:`~swarm.backends._protocol.Backend` driven by per-agent scripts."""

    name = "scripted"

    def __init__(
        self,
        store: Store,
        scripts: Mapping[str, AgentScript] | None = None,
        *,
        default: AgentScript | None = None,
        storm: RateLimitStorm | None = None,
        retry: RetryPolicy | None = None,
        base_latency_s: float = 0.0,
    ) -> None:
        self._store = store
        self._scripts = dict(scripts or {})
        self._default = default or AgentScript()
        self._storm = storm
        self._retry = retry or RetryPolicy(initial_wait_s=1.0, jitter_s=0.0)
        self._base_latency_s = base_latency_s
        self._t0: float | None = None
        self._failures: dict[str, list[int]] = {}
        self.stats = ScriptedBackendStats()

    def script_of(self, agent_id: str) -> AgentScript:
        return self._scripts.get(agent_id, self._default)

    async def open_base(self, request: BaseRequest, sink: AgentSink) -> BaseSession:
        self._t0 = trio.current_time()
        self.stats.bases += 1
        if request.session_id is not None:
            if await self._store.get_session(request.session_id) is None:
                raise BackendError(f"base session: no session {request.session_id}")
            return BaseSession(request.session_id, fork_point=request.at)
        session_id = str(uuid.uuid4())
        await sink.session_started(session_id, metadata={"scripted": True})
        await sink.message(Message(str(uuid.uuid4()), session_id, "user", request.prompt or ""))
        await trio.sleep(self._base_latency_s)
        return BaseSession(session_id)

    async def run_agent(self, request: AgentRequest, sink: AgentSink) -> AgentOutcome:
        agent_id = request.agent_id
        script = self.script_of(agent_id)
        stats = self.stats
        stats.executions[agent_id] += 1
        failures = self._failures.setdefault(agent_id, list(script.rate_limited))
        session_id = request.resume_session_id or str(uuid.uuid4())
        if request.resume_session_id is not None:
            stats.resumed.append((agent_id, session_id))
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        stats.log.append((trio.current_time(), agent_id, "start"))
        try:
            await sink.session_started(session_id, metadata={"scripted": True})
            user = Message(str(uuid.uuid4()), session_id, "user", request.prompt)
            await sink.message(user)
            per_call = Usage(input_tokens=script.input_tokens, output_tokens=script.output_tokens)
            parent = user.uuid
            for call in range(script.calls):

                async def attempt() -> None:
                    stats.attempts += 1
                    status, retry_after = self._refusal(failures, script)
                    if status is not None:
                        stats.rate_limited += 1
                        stats.log.append((trio.current_time(), agent_id, str(status)))
                        raise TransientAPIError(
                            "rate limited", status=status, retry_after_s=retry_after
                        )
                    await trio.sleep(script.latency_s)
                    stats.log.append((trio.current_time(), agent_id, "call"))

                await call_with_retries(attempt, sink, self._retry)
                reply = Message(
                    str(uuid.uuid4()),
                    session_id,
                    "assistant",
                    f"{agent_id}: call {call + 1} of {script.calls}",
                    parent_uuid=parent,
                    usage=per_call,
                )
                await sink.message(reply)
                parent = reply.uuid
            if script.fail is not None:
                raise BackendError(script.fail)
        finally:
            stats.in_flight -= 1
            stats.log.append((trio.current_time(), agent_id, "end"))
        usage = Usage(
            input_tokens=script.input_tokens * script.calls,
            output_tokens=script.output_tokens * script.calls,
        )
        return AgentOutcome(
            session_id=session_id,
            output=f"{agent_id}: done after {script.calls} calls",
            turns=script.calls,
            usage=usage,
            cost_usd=script.cost_usd * script.calls,
        )

    def _refusal(self, failures: list[int], script: AgentScript) -> tuple[int | None, float | None]:
        """The status this attempt is refused with (storm first, then the agent's script)."""
        storm = self._storm
        if storm is not None and self._t0 is not None:
            now = trio.current_time() - self._t0
            if storm.start_s <= now < storm.end_s:
                return storm.status, storm.retry_after_s
        if failures:
            return failures.pop(0), script.retry_after_s
        return None, None

    async def aclose(self) -> None:
        return None
