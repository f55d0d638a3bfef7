"""Checkpoints: persisted points in a session's history, cheap to take, never lost on restart.

A checkpoint is a message uuid plus the figures of the history up to it,
counted from the root session across forks: messages, tokens, cost and the
files that Write/Edit/MultiEdit/NotebookEdit tool uses touched. Because the
figures are cumulative, comparing any two checkpoints, even on different
branches, is a subtraction (see :mod:`swarm.timeline._timetravel`).

They are taken automatically (every N messages, when an agent ends, and on a
parent at each fork point) and on request (:func:`create_checkpoint`). A
session keeps at most ``max_per_session`` (50): the oldest automatic ones go
first, named ones are always kept.

Taking one never reads a whole history: the executor keeps running figures per
session (:class:`SessionCheckpoints`), and :func:`state_at` starts from the
nearest earlier checkpoint and reads only the messages after it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import trio

from .._names import CHECKPOINT_NAME_RULE, checkpoint_name_problem
from .._redaction import secret_kind
from .._slotted import fast_init
from ..errors import NotFoundError, Remedy, UsageError
from ..plan import DEFAULT_CHECKPOINT_EVERY, DEFAULT_MAX_CHECKPOINTS, CheckpointSpec
from ..records import Checkpoint, Message, SessionRecord, Usage, new_uuid
from ..stores import Store, messages_between

# Tool name -> the input field holding the path it writes.
WRITE_TOOLS = {
    "Write": "file_path",
    "Edit": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
}
# Which automatic checkpoints retention drops first (named ones are never dropped).
_DROP_ORDER = {"auto": 0, "fork": 1, "final": 2}


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """``every``: a checkpoint every N messages of a session (0: off); ``max_per_session``."""

    every: int = DEFAULT_CHECKPOINT_EVERY
    max_per_session: int = DEFAULT_MAX_CHECKPOINTS

    @classmethod
    def from_spec(cls, spec: CheckpointSpec) -> CheckpointPolicy:
        """From a plan's ``checkpoints`` section."""
        return cls(every=spec.every, max_per_session=spec.max_per_session)


def files_touched(message: Message) -> list[str]:
    """Paths written by the file-editing tool uses of one message (from ``Message.raw``).

    Understands API content blocks (``{"content": [...]}``), transcript lines
    (``{"message": {"content": [...]}}``) and SDK blocks dumped without a ``type``.
    """
    raw = message.raw
    if not raw:
        return []
    content = raw.get("content")
    inner = raw.get("message")
    if content is None and isinstance(inner, dict):
        content = inner.get("content")
    if not isinstance(content, list):
        return []
    paths = []
    for block in content:
        if not isinstance(block, dict) or block.get("type", "tool_use") != "tool_use":
            continue
        field = WRITE_TOOLS.get(block.get("name", ""))
        tool_input = block.get("input")
        if field is None or not isinstance(tool_input, dict):
            continue
        path = tool_input.get(field) or tool_input.get("file_path")
        if isinstance(path, str) and path:
            paths.append(path)
    return paths


@fast_init
@dataclass(frozen=True, slots=True)
class HistoryState:
    """The figures of a history up to one message: what a checkpoint records."""

    message_uuid: str | None = None
    message_count: int = 0
    usage: Usage = Usage()
    cost_usd: float = 0.0
    files: frozenset[str] = frozenset()

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> HistoryState:
        return cls(
            checkpoint.message_uuid,
            checkpoint.message_count,
            checkpoint.usage,
            checkpoint.cost_usd,
            frozenset(checkpoint.files_modified),
        )

    def advanced(self, messages: Iterable[Message]) -> HistoryState:
        """This state followed by ``messages``."""
        uuid, count, usage, files = self.message_uuid, self.message_count, self.usage, set()
        for message in messages:
            uuid, count, usage = message.uuid, count + 1, usage + message.usage
            files.update(files_touched(message))
        return HistoryState(uuid, count, usage, self.cost_usd, self.files | files)

    def checkpoint(self, session_id: str, kind: str, description: str) -> Checkpoint:
        if self.message_uuid is None:
            raise UsageError(f"session {session_id} has no messages to checkpoint yet")
        return Checkpoint(
            checkpoint_id=new_uuid(),
            session_id=session_id,
            message_uuid=self.message_uuid,
            message_count=self.message_count,
            usage=self.usage,
            cost_usd=self.cost_usd,
            files_modified=tuple(sorted(self.files)),
            description=description,
            kind=kind,
        )


async def state_at(store: Store, session_id: str, message_uuid: str | None = None) -> HistoryState:
    """The figures of ``session_id``'s history up to ``message_uuid`` (default: its last)."""
    state, _, _ = await _state_and_checkpoints(store, session_id, message_uuid)
    return state


async def _state_and_checkpoints(
    store: Store, session_id: str, message_uuid: str | None
) -> tuple[HistoryState, list[Checkpoint], bool]:
    """The state, the session's checkpoints, and whether the message is the session's own."""
    existing = await store.list_checkpoints(session_id)
    try:
        return await _own_state(store, session_id, existing, message_uuid), existing, True
    except NotFoundError:
        session = await _session(store, session_id)
        if message_uuid is None or session.parent_session_id is None:
            raise
    # The message may be one this session inherited from its parent.
    state, _, _ = await _state_and_checkpoints(store, session.parent_session_id, message_uuid)
    return state, existing, False


async def _session(store: Store, session_id: str) -> SessionRecord:
    session = await store.get_session(session_id)
    if session is None:
        raise NotFoundError(f"no session {session_id} in the store", remedy=Remedy.LIST_SESSIONS)
    return session


async def _own_state(
    store: Store, session_id: str, existing: list[Checkpoint], message_uuid: str | None
) -> HistoryState:
    # Start from the latest checkpoint at or before the message; read only what follows.
    for checkpoint in sorted(existing, key=lambda c: c.message_count, reverse=True):
        if checkpoint.message_uuid == message_uuid:
            return HistoryState.of(checkpoint)
        tail = await messages_between(
            store, session_id, after=checkpoint.message_uuid, upto=message_uuid
        )
        if tail or message_uuid is None:
            return HistoryState.of(checkpoint).advanced(tail)
    session = await _session(store, session_id)
    start = HistoryState()
    if session.parent_session_id is not None:
        start = await state_at(store, session.parent_session_id, session.fork_point)
    return start.advanced(await messages_between(store, session_id, upto=message_uuid))


def prune_order(existing: Sequence[Checkpoint], max_per_session: int, keep: str) -> list[str]:
    """Ids to delete so at most ``max_per_session`` remain: oldest automatic first, never named."""
    excess = len(existing) - max_per_session
    if excess <= 0:
        return []
    droppable = [c for c in existing if c.kind != "named" and c.checkpoint_id != keep]
    droppable.sort(key=lambda c: (_DROP_ORDER.get(c.kind, 0), c.message_count, c.created_at))
    return [c.checkpoint_id for c in droppable[:excess]]


async def _save(
    store: Store, checkpoint: Checkpoint, existing: list[Checkpoint], max_per_session: int
) -> None:
    """Persist a checkpoint, then apply retention to its session (``existing`` is updated)."""
    await store.save_checkpoint(checkpoint)
    existing.append(checkpoint)
    drop = prune_order(existing, max_per_session, checkpoint.checkpoint_id)
    if drop:
        await store.delete_checkpoints(drop)
        gone = set(drop)
        existing[:] = [c for c in existing if c.checkpoint_id not in gone]


async def create_checkpoint(
    store: Store,
    session_id: str,
    name: str,
    *,
    message_uuid: str | None = None,
    max_per_session: int = DEFAULT_MAX_CHECKPOINTS,
) -> Checkpoint:
    """Take a named checkpoint of a session at a message (default: its last one).

    Named checkpoints are never dropped by retention; a name is unique per session.
    """
    check_name(name)
    state, existing, own = await _state_and_checkpoints(store, session_id, message_uuid)
    if not own:
        raise UsageError(
            f"message {message_uuid} is one session {session_id} inherited from its parent; "
            "checkpoint the session that has it"
        )
    if any(c.kind == "named" and c.description == name for c in existing):
        raise UsageError(f"session {session_id} already has a checkpoint named {name!r}")
    checkpoint = state.checkpoint(session_id, "named", name)
    await _save(store, checkpoint, existing, max_per_session)
    return checkpoint


def check_name(name: str) -> None:
    """Refuse a checkpoint name that could pass for a path or hide in a terminal."""
    problem = checkpoint_name_problem(name)
    if problem is None and (kind := secret_kind(name)) is not None:
        # A name is kept and shown as it is, while the record redacts it: it could not be found.
        raise UsageError(
            f"checkpoint name looks like {kind}, and names are stored and shown in plain "
            "text: choose one that is not"
        )
    if problem is not None:
        shown = repr(name) if len(name) <= 60 else f"{name[:40]!r}..."
        raise UsageError(f"checkpoint name {shown} {problem}: {CHECKPOINT_NAME_RULE}")


async def find_checkpoint(store: Store, ref: str, session_id: str | None = None) -> Checkpoint:
    """A checkpoint by id or name, or a unique prefix of either, optionally within one session.

    An exact id wins, then an exact name; otherwise the prefix must pick out one checkpoint
    among every id and name, or the error lists the candidates.
    """
    if not ref:
        raise UsageError("a checkpoint reference must not be empty: give an id or a name")
    checkpoints = await store.list_checkpoints(session_id)
    where = f" of session {session_id}" if session_id else ""
    named = [c for c in checkpoints if c.kind == "named"]
    for matches in (
        [c for c in checkpoints if c.checkpoint_id == ref],
        [c for c in named if c.description == ref],
        [
            c
            for c in checkpoints
            if c.checkpoint_id.startswith(ref)
            or (c.kind == "named" and c.description.startswith(ref))
        ],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            shown = ", ".join(_candidate(c) for c in matches[:5])
            more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
            raise NotFoundError(
                f"checkpoint {ref!r}{where} is ambiguous: {len(matches)} match "
                f"({shown}{more}); give more of the id or name"
            )
    raise NotFoundError(f"no checkpoint {ref!r}{where}", remedy=Remedy.LIST_CHECKPOINTS)


def _candidate(checkpoint: Checkpoint) -> str:
    name = f" {checkpoint.description!r}" if checkpoint.kind == "named" else f" ({checkpoint.kind})"
    return f"{checkpoint.checkpoint_id[:12]}{name} in session {checkpoint.session_id[:8]}"


class SessionCheckpoints:
    """Running figures of one live session; takes its automatic checkpoints.

    The executor feeds it every message, so taking a checkpoint is one write.
    """

    def __init__(
        self,
        store: Store,
        policy: CheckpointPolicy,
        session_id: str,
        start: HistoryState,
        existing: list[Checkpoint],
    ) -> None:
        self.store = store
        self.policy = policy
        self.session_id = session_id
        self.state = start
        self.own_messages = 0
        self.existing = existing

    async def observe(self, message: Message) -> Checkpoint | None:
        """Account for a new message; take an automatic checkpoint every N messages."""
        self.state = self.state.advanced((message,))
        self.own_messages += 1
        every = self.policy.every
        if every and self.own_messages % every == 0:
            # own_messages, not the history's count (the msgs column), which includes
            # what the session inherited from its parent.
            return await self.take("auto", f"auto: after {self.own_messages} own messages")
        return None

    async def take(
        self,
        kind: str,
        description: str,
        *,
        cost_usd: float = 0.0,
        workspace: dict[str, Any] | None = None,
    ) -> Checkpoint:
        """Persist a checkpoint at the latest message; ``cost_usd`` adds cost reported now,
        ``workspace`` is the agent's change when it worked in a worktree of its own."""
        if cost_usd:
            self.state = HistoryState(
                self.state.message_uuid,
                self.state.message_count,
                self.state.usage,
                self.state.cost_usd + cost_usd,
                self.state.files,
            )
        checkpoint = self.state.checkpoint(self.session_id, kind, description)
        if workspace is not None:
            checkpoint = dataclasses.replace(checkpoint, workspace=workspace)
        await _save(self.store, checkpoint, self.existing, self.policy.max_per_session)
        # An automatic checkpoint at the same message says less than this one: drop it.
        superseded = [
            c.checkpoint_id
            for c in self.existing
            if c.kind == "auto" and c.message_uuid == checkpoint.message_uuid and kind != "auto"
        ]
        if superseded:
            await self.store.delete_checkpoints(superseded)
            self.existing[:] = [c for c in self.existing if c.checkpoint_id not in superseded]
        return checkpoint


class RunCheckpoints:
    """Checkpointing for one run: opens per-session trackers, marks fork points on parents."""

    def __init__(self, store: Store, policy: CheckpointPolicy) -> None:
        self.store = store
        self.policy = policy
        self._fork_points: dict[tuple[str, str | None], HistoryState] = {}
        self._lock = trio.Lock()

    async def open_session(
        self, session_id: str, parent: str | None, fork_point: str | None, *, resumed: bool
    ) -> SessionCheckpoints:
        """A tracker for a session that is starting (or, ``resumed``, continuing) as a fork
        of ``parent``. A new session has no checkpoints yet, so only a resumed one is read."""
        start = HistoryState()
        if parent is not None:
            start = await self.fork_point(parent, fork_point)
        existing = await self.store.list_checkpoints(session_id) if resumed else []
        if existing:  # continue from what the session already has
            start = await state_at(self.store, session_id)
        return SessionCheckpoints(self.store, self.policy, session_id, start, existing)

    async def fork_point(self, parent: str, message_uuid: str | None) -> HistoryState:
        """Make sure ``parent`` has a checkpoint where a child forks; its figures.

        Many agents fork one base: the first takes the checkpoint, the rest reuse it.
        """
        key = (parent, message_uuid)
        known = self._fork_points.get(key)
        if known is not None:  # every fork of the base after the first: no lock, no yield
            return known
        async with self._lock:
            if key not in self._fork_points:
                state, existing, own = await _state_and_checkpoints(
                    self.store, parent, message_uuid
                )
                marked = any(c.message_uuid == state.message_uuid for c in existing)
                if own and state.message_uuid is not None and not marked:
                    checkpoint = state.checkpoint(parent, "fork", "fork point")
                    await _save(self.store, checkpoint, existing, self.policy.max_per_session)
                self._fork_points[key] = state
            return self._fork_points[key]
