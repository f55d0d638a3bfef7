"""The ``simulated`` backend: deterministic stand-in agents for offline runs and benchmarks.

It has the session semantics of a real backend (a base session, a new session
id per fork, parent id, fork point, message uuids), so a plan runs unchanged
on either. Durations, tokens and failures come from a seed and the agent id;
session and message ids also mix in the run id so runs never collide in a
store. Its output says plainly that no model was called.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import trio

from ..errors import BackendError, NotFoundError
from ..records import Message, Usage, uuid4_text
from ..stores import Store, history
from ._protocol import AgentOutcome, AgentRequest, AgentSink, BaseRequest, BaseSession

SIMULATED_MARK = "[simulated: no model was called]"


def marker_file(agent_id: str) -> str:
    """The file a simulated agent in a worktree of its own always writes."""
    return f"SIMULATED-{agent_id}.md"


def marker_text(run_id: str, agent_id: str) -> str:
    return (
        f"{SIMULATED_MARK}\n\nAgent {agent_id} of run {run_id} wrote this file in its own "
        "worktree. The simulated backend calls no model; it writes this so that the "
        "worktree, commit and merge path can be tried offline.\n"
    )


@dataclass(frozen=True, slots=True)
class SimulatedSettings:
    """Per-agent behaviour; plan-wide values are overridden by an agent's own."""

    latency_s: float = 1.0
    jitter: float = 0.0
    input_tokens: int = 1000
    output_tokens: int = 200
    failure_rate: float = 0.0
    turns: int = 1
    files: tuple[str, ...] = ()  # paths "written" through Write tool uses, spread over turns
    edits: tuple[tuple[str, str], ...] = ()  # files written in an agent's own worktree

    def merged(self, overrides: Mapping[str, Any] | None) -> SimulatedSettings:
        if not overrides:
            return self
        values = {k: v for k, v in overrides.items() if v is not None}
        if "files" in values:
            values["files"] = tuple(values["files"])
        if "edits" in values:
            values["edits"] = tuple(dict(values["edits"]).items())
        return SimulatedSettings(**{**self._asdict(), **values})

    def _asdict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


class _Ids:
    """Deterministic ids: the n-th id of ``key`` is a hash of (key, n).

    Cheaper than seeding a ``random.Random`` per agent (a 10,000-agent run seeds
    one per agent), and the same key gives the same ids in every process.
    """

    __slots__ = ("_count", "_key")

    def __init__(self, key: str) -> None:
        self._key = key
        self._count = 0

    def bits(self, nbytes: int) -> int:
        self._count += 1
        digest = hashlib.blake2b(f"{self._key}:{self._count}".encode(), digest_size=nbytes)
        return int.from_bytes(digest.digest())

    def uuid(self) -> str:
        return uuid4_text(self.bits(16))


def _tool_uses(text: str, paths: list[str], ids: _Ids) -> dict[str, Any]:
    """Content blocks shaped like a real assistant turn that writes ``paths``."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for path in paths:
        blocks.append(
            {
                "type": "tool_use",
                "id": f"toolu_{ids.bits(8):016x}",
                "name": "Write",
                "input": {"file_path": path, "content": SIMULATED_MARK},
            }
        )
    return {"content": blocks}


class SimulatedBackend:
    """Agents that sleep for a seeded duration and answer with marked placeholder text."""

    name = "simulated"

    def __init__(
        self, store: Store, *, seed: int = 0, settings: SimulatedSettings | None = None
    ) -> None:
        self._store = store
        self._seed = seed
        self._settings = settings or SimulatedSettings()
        # Parents already found in the store: a run's agents all fork the same base,
        # and one read is enough to know it exists.
        self._known_parents: set[str] = set()

    def duration_of(self, agent_id: str, overrides: Mapping[str, Any] | None = None) -> float:
        """The seeded duration of an agent: mean ``latency_s`` times a log-normal factor."""
        settings = self._settings.merged(overrides)
        if not settings.latency_s:
            return 0.0  # no draw needed: zero times any factor
        rng = random.Random(f"{self._seed}:{agent_id}:duration")
        sigma = settings.jitter
        factor = math.exp(rng.gauss(0.0, sigma) - sigma * sigma / 2) if sigma else 1.0
        return settings.latency_s * factor

    async def open_base(self, request: BaseRequest, sink: AgentSink) -> BaseSession:
        if request.session_id is not None:
            return await self._existing_base(request)
        ids = _Ids(f"{request.run_id}:base")
        session_id = ids.uuid()
        await sink.session_started(session_id, metadata={"simulated": True})
        settings = self._settings
        prompt = request.prompt or ""
        user = Message(ids.uuid(), session_id, "user", prompt)
        await sink.message(user)
        await trio.sleep(settings.latency_s)
        usage = Usage(input_tokens=settings.input_tokens, output_tokens=settings.output_tokens)
        reply = Message(
            ids.uuid(),
            session_id,
            "assistant",
            f"{SIMULATED_MARK} base session built from a {len(prompt)}-character prompt",
            parent_uuid=user.uuid,
            usage=usage,
        )
        await sink.message(reply)
        return BaseSession(session_id, fork_point=None, usage=usage)

    async def _existing_base(self, request: BaseRequest) -> BaseSession:
        assert request.session_id is not None
        try:
            await history(self._store, request.session_id, upto=request.at)
        except NotFoundError as exc:
            raise BackendError(f"base session: {exc}") from None
        return BaseSession(request.session_id, fork_point=request.at)

    async def run_agent(self, request: AgentRequest, sink: AgentSink) -> AgentOutcome:
        settings = self._settings.merged(request.options.get("simulated"))
        if request.fork_point is not None:
            try:
                await history(self._store, request.parent_session_id, upto=request.fork_point)
            except NotFoundError as exc:
                raise BackendError(f"fork_at: {exc}") from None
        elif request.parent_session_id not in self._known_parents:
            if await self._store.get_session(request.parent_session_id) is None:
                raise BackendError(f"cannot fork {request.parent_session_id}: no such session")
            self._known_parents.add(request.parent_session_id)
        # A resumed session needs fresh message uuids, not a replay of the first attempt's.
        ids = _Ids(
            os.urandom(16).hex()
            if request.resume_session_id
            else f"{request.run_id}:{request.agent_id}:ids"
        )
        session_id = request.resume_session_id or ids.uuid()
        task = request.prompt
        if request.resume_session_id:
            # A continued session is sent a "continue" message, not its task again; the
            # answer is still to the task its history starts with, as a model's would be.
            task = await self._first_prompt(request.resume_session_id) or task
        await sink.session_started(session_id, metadata={"simulated": True})
        user = Message(ids.uuid(), session_id, "user", request.prompt, parent_uuid=None)
        await sink.message(user)

        duration = self.duration_of(request.agent_id, request.options.get("simulated"))
        turns = max(1, min(settings.turns, request.max_turns or settings.turns))
        fails_at = None
        if settings.failure_rate > 0:  # else no draw: the answer is "never" whatever it is
            behaviour = random.Random(f"{self._seed}:{request.agent_id}:failure")
            if behaviour.random() < settings.failure_rate:
                fails_at = behaviour.randrange(turns)
        per_turn = Usage(input_tokens=settings.input_tokens, output_tokens=settings.output_tokens)
        usage = Usage()
        parent = user.uuid
        text = ""
        for turn in range(turns):
            await trio.sleep(duration / turns)
            if turn == fails_at:
                raise BackendError(
                    f"simulated failure at turn {turn + 1} (failure_rate={settings.failure_rate})"
                )
            usage = usage + per_turn
            text = (
                f"{SIMULATED_MARK} agent {request.agent_id}, turn {turn + 1}/{turns}: "
                f"placeholder for an answer to {_gist(task)!r}"
            )
            if request.own_worktree and request.cwd is not None:
                await _write_in_worktree(request, settings, first=turn == 0, last=turn == turns - 1)
            writes = [f for i, f in enumerate(settings.files) if i % turns == turn]
            reply = Message(
                ids.uuid(),
                session_id,
                "assistant",
                text,
                parent_uuid=parent,
                usage=per_turn,
                raw=_tool_uses(text, writes, ids) if writes else None,
            )
            await sink.message(reply)
            parent = reply.uuid
        return AgentOutcome(
            session_id=session_id,
            output=text,
            turns=turns,
            usage=usage,
            cost_usd=0.0,
            output_is_simulated=True,
        )

    async def _first_prompt(self, session_id: str) -> str | None:
        for message in await self._store.get_messages(session_id):
            if message.role == "user":
                return message.content
        return None

    async def aclose(self) -> None:
        return None


async def _write_in_worktree(
    request: AgentRequest, settings: SimulatedSettings, *, first: bool, last: bool
) -> None:
    """Really change the agent's own worktree: its marker file after its first turn, the
    plan's ``edits`` after its last (only ever in a worktree: never the user's checkout)."""
    assert request.cwd is not None
    root = trio.Path(request.cwd)
    try:
        if first:
            await (root / marker_file(request.agent_id)).write_text(
                marker_text(request.run_id, request.agent_id)
            )
        for path, content in settings.edits if last else ():
            target = root / path
            await target.parent.mkdir(parents=True, exist_ok=True)
            await target.write_text(content)
    except OSError as exc:
        raise BackendError(
            f"simulated agent {request.agent_id}: cannot write in its worktree "
            f"{request.cwd}: {exc.strerror or exc}"
        ) from None


def _gist(task: str, size: int = 60) -> str:
    """Whole words from a task's first line, for a placeholder. Never a word the size or a
    line break cuts short: a key cut short no longer has the shape that gets it redacted."""
    lines = task.strip().splitlines() or [""]
    words = lines[0].split(" ")
    if len(lines) > 1:
        words = words[:-1]  # it may go on on the next line
    shown = ""
    for word in words:
        longer = f"{shown} {word}" if shown else word
        if len(longer) > size:
            break
        shown = longer
    whole = len(lines) == 1 and shown == lines[0]
    return shown if whole else f"{shown} ..." if shown else "..."
