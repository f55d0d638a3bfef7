"""The contracts every :class:`~swarm.backends._protocol.Backend` must keep.

Call :func:`run_backend_conformance` with a factory that builds a backend on
the store it is given (each contract gets a fresh :class:`MemoryStore`). The
:class:`RecordingSink` persists what the backend reports the way the executor
does, so lineage and history work as in a real run.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import trio

from ..backends import AgentOutcome, AgentRequest, Backend, BaseRequest, BaseSession
from ..errors import BackendError
from ..records import Message, SessionRecord
from ..stores import MemoryStore, Store, history

BackendFactory: TypeAlias = Callable[[Store], Backend | Awaitable[Backend]]


@dataclass
class RecordingSink:
    """An AgentSink that saves sessions and messages like the executor, and records calls."""

    store: Store
    backend: str
    parent_session_id: str | None = None
    fork_point: str | None = None
    started: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    retries: list[tuple[int | None, float]] = field(default_factory=list)
    successes: int = 0

    async def session_started(self, session_id: str, *, metadata: Mapping[str, Any]) -> None:
        self.started.append(session_id)
        await self.store.save_session(
            SessionRecord(
                session_id,
                self.backend,
                parent_session_id=self.parent_session_id,
                fork_point=self.fork_point,
                metadata=dict(metadata),
            )
        )

    async def message(self, message: Message) -> None:
        assert self.started, "a message arrived before session_started"
        self.messages.append(message)
        await self.store.append_messages(message.session_id, [message])

    async def retry(self, *, status: int | None, reason: str, delay_s: float) -> None:
        self.retries.append((status, delay_s))

    async def succeeded_call(self) -> None:
        self.successes += 1


async def build_base(backend: Backend, store: Store, prompt: str = "shared context") -> BaseSession:
    sink = RecordingSink(store, backend.name)
    return await backend.open_base(BaseRequest(run_id="conformance", prompt=prompt), sink)


async def fork(
    backend: Backend,
    store: Store,
    parent: str,
    agent_id: str = "agent",
    *,
    fork_point: str | None = None,
) -> tuple[AgentOutcome, RecordingSink]:
    sink = RecordingSink(store, backend.name, parent, fork_point)
    request = AgentRequest(
        run_id="conformance",
        agent_id=agent_id,
        prompt=f"task of {agent_id}",
        parent_session_id=parent,
        fork_point=fork_point,
        max_turns=2,
    )
    return await backend.run_agent(request, sink), sink


async def base_from_prompt(backend: Backend, store: Store) -> None:
    """A base built from a prompt is a new session whose first message is that prompt."""
    sink = RecordingSink(store, backend.name)
    base = await backend.open_base(BaseRequest(run_id="c", prompt="the shared context"), sink)
    assert sink.started == [base.session_id], "open_base must report its session id once"
    messages = await store.get_messages(base.session_id)
    assert len(messages) >= 2, "the base holds at least the prompt and a reply"
    assert messages[0].role == "user" and "the shared context" in messages[0].content
    assert any(m.role == "assistant" for m in messages)
    assert len({m.uuid for m in messages}) == len(messages), "message uuids are unique"
    assert all(m.session_id == base.session_id for m in messages)


async def fork_is_a_new_session(backend: Backend, store: Store) -> None:
    """A fork gets its own session id, reported before its messages and returned."""
    base = await build_base(backend, store)
    outcome, sink = await fork(backend, store, base.session_id)
    assert outcome.session_id != base.session_id
    assert sink.started == [outcome.session_id]
    assert sink.messages and all(m.session_id == outcome.session_id for m in sink.messages)
    assert outcome.turns >= 1 and outcome.output
    inherited = {m.uuid for m in await store.get_messages(base.session_id)}
    full = [m.uuid for m in await history(store, outcome.session_id)]
    assert inherited <= set(full), "the fork's history continues the base's"


async def parallel_forks_are_distinct(backend: Backend, store: Store) -> None:
    """Three forks of one base run at once give three distinct sessions."""
    base = await build_base(backend, store)
    outcomes: list[AgentOutcome] = []

    async def one(agent_id: str) -> None:
        outcome, _ = await fork(backend, store, base.session_id, agent_id)
        outcomes.append(outcome)

    async with trio.open_nursery() as nursery:
        for agent_id in ("a", "b", "c"):
            nursery.start_soon(one, agent_id)
    assert len({o.session_id for o in outcomes}) == 3
    assert base.session_id not in {o.session_id for o in outcomes}


async def fork_at_a_message(backend: Backend, store: Store) -> None:
    """Forking at the base's reply works and leaves the base untouched."""
    base = await build_base(backend, store)
    before = await store.get_messages(base.session_id)
    reply = next(m for m in before if m.role == "assistant")
    outcome, _ = await fork(backend, store, base.session_id, fork_point=reply.uuid)
    assert outcome.session_id != base.session_id
    assert await store.get_messages(base.session_id) == before


async def unknown_parent_is_a_backend_error(backend: Backend, store: Store) -> None:
    """Forking a session nobody knows raises a BackendError, not some other exception."""
    try:
        await fork(backend, store, "00000000-0000-4000-8000-000000000000")
    except BackendError:
        return
    raise AssertionError("forking an unknown session must raise BackendError")


async def existing_base_is_reused(backend: Backend, store: Store) -> None:
    """open_base with an existing session id returns it without starting a new session."""
    base = await build_base(backend, store)
    sink = RecordingSink(store, backend.name)
    again = await backend.open_base(BaseRequest(run_id="c", session_id=base.session_id), sink)
    assert again.session_id == base.session_id and sink.started == []


BACKEND_CONTRACTS = (
    base_from_prompt,
    fork_is_a_new_session,
    parallel_forks_are_distinct,
    fork_at_a_message,
    unknown_parent_is_a_backend_error,
    existing_base_is_reused,
)


async def run_backend_conformance(make_backend: BackendFactory) -> None:
    """Run every backend contract, each with a fresh MemoryStore and backend."""
    for contract in BACKEND_CONTRACTS:
        store = MemoryStore()
        created = make_backend(store)
        backend = await created if inspect.isawaitable(created) else created
        try:
            await contract(backend, store)
        except AssertionError as exc:
            raise AssertionError(f"backend contract {contract.__name__} failed: {exc}") from exc
        finally:
            await backend.aclose()
