"""Time travel: compare two checkpoints, and branch a new session at one.

A rollback is always a fork: the new session points at the checkpoint's
session and message, and nothing of the original is changed or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._names import is_safe_id, secret_id_problem
from ..errors import NotFoundError, UsageError
from ..plan import Plan
from ..records import Checkpoint, Message, SessionRecord, Usage, new_uuid
from ..stores import Store, history, history_of, lineage
from ._checkpoints import files_touched


@dataclass(frozen=True, slots=True)
class CheckpointDiff:
    """What changed from checkpoint ``a`` to checkpoint ``b``.

    The two histories share a prefix up to ``common_message``; ``only_in_a``
    and ``only_in_b`` are the messages after it (``only_in_a`` is empty when
    ``a`` is an ancestor of ``b``). Figures are ``b`` minus ``a``. Files:
    ``added`` were modified by ``b``'s history and not ``a``'s, ``removed`` the
    reverse, ``modified`` by both and touched again after the common prefix.
    """

    a: Checkpoint
    b: Checkpoint
    common_message: str | None
    only_in_a: tuple[Message, ...]
    only_in_b: tuple[Message, ...]
    messages: int
    usage: Usage
    cost_usd: float
    files_added: tuple[str, ...]
    files_removed: tuple[str, ...]
    files_modified: tuple[str, ...]

    @property
    def linear(self) -> bool:
        """True when ``a`` is on ``b``'s history (or equal to it)."""
        return not self.only_in_a

    @property
    def relation(self) -> str:
        """How the two histories relate, in words: which one continues the other, if either."""
        if not self.only_in_a and not self.only_in_b:
            return "a and b are the same point of one history"
        if not self.only_in_a:
            return "b continues a (a is on b's history)"
        if not self.only_in_b:
            return "a continues b (b is on a's history)"
        return "a and b are on different branches"

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "linear": self.linear,
            "relation": self.relation,
            "common_message": self.common_message,
            "messages": self.messages,
            "only_in_a": [m.uuid for m in self.only_in_a],
            "only_in_b": [m.uuid for m in self.only_in_b],
            "usage": {**self.usage.to_dict(), "total": self.usage.total},
            "cost_usd": self.cost_usd,
            "files": {
                "added": list(self.files_added),
                "removed": list(self.files_removed),
                "modified": list(self.files_modified),
            },
        }


def _minus(b: Usage, a: Usage) -> Usage:
    return Usage(
        b.input_tokens - a.input_tokens,
        b.output_tokens - a.output_tokens,
        b.cache_creation_tokens - a.cache_creation_tokens,
        b.cache_read_tokens - a.cache_read_tokens,
    )


def _touched(messages: Sequence[Message]) -> set[str]:
    return {path for m in messages for path in files_touched(m)}


async def diff_checkpoints(store: Store, a: Checkpoint, b: Checkpoint) -> CheckpointDiff:
    """Compare two checkpoints, of one session or of any two sessions of the store."""
    history_a = await history(store, a.session_id, upto=a.message_uuid)
    history_b = await history(store, b.session_id, upto=b.message_uuid)
    shared = 0
    for left, right in zip(history_a, history_b, strict=False):
        if left.uuid != right.uuid:
            break
        shared += 1
    only_a, only_b = history_a[shared:], history_b[shared:]
    files_a, files_b = set(a.files_modified), set(b.files_modified)
    again = (files_a & files_b) & (_touched(only_a) | _touched(only_b))
    return CheckpointDiff(
        a=a,
        b=b,
        common_message=history_a[shared - 1].uuid if shared else None,
        only_in_a=tuple(only_a),
        only_in_b=tuple(only_b),
        messages=b.message_count - a.message_count,
        usage=_minus(b.usage, a.usage),
        cost_usd=b.cost_usd - a.cost_usd,
        files_added=tuple(sorted(files_b - files_a)),
        files_removed=tuple(sorted(files_a - files_b)),
        files_modified=tuple(sorted(again)),
    )


async def fork_at(
    store: Store,
    checkpoint: Checkpoint,
    *,
    backend: str = "swarm",
    run_id: str | None = None,
    agent_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> tuple[SessionRecord, list[Message]]:
    """A new session branching at ``checkpoint``, and the history it starts from.

    The session is a pointer (parent + fork point): nothing is copied, and the
    parent is untouched. Its history is materialised from the store, which also
    proves the checkpoint's message is still there.
    """
    chain = await lineage(store, checkpoint.session_id)
    inherited = await history_of(store, chain, upto=checkpoint.message_uuid)
    parent = chain[-1]
    record = SessionRecord(
        session_id=new_uuid(),
        backend=backend,
        run_id=run_id,
        agent_id=agent_id,
        parent_session_id=checkpoint.session_id,
        fork_point=checkpoint.message_uuid,
        model=parent.model,
        metadata={"forked_from_checkpoint": checkpoint.checkpoint_id, **(metadata or {})},
    )
    await store.save_session(record)
    return record, inherited


_AGENT_SETTINGS = (
    "model",
    "max_turns",
    "timeout_s",
    "system_prompt",
    "allowed_tools",
    "permission_mode",
    "cwd",
    "env",
    "simulated",
)


def fork_plan(
    checkpoint: Checkpoint,
    prompt: str,
    *,
    like: Mapping[str, Any] | None = None,
    like_agent: str | None = None,
    agent_id: str | None = None,
    backend: str | None = None,
    store_url: str | None = None,
) -> Plan:
    """A one-agent plan whose agent forks at ``checkpoint`` with a new prompt.

    ``like`` is the plan (as stored with its run) the checkpoint's session came
    from: its defaults, backend and checkpoint settings carry over, and so do
    the settings of agent ``like_agent``. Run it with the normal executor.
    """
    if not prompt.strip():
        raise UsageError("the fork needs a prompt")
    source = dict(like or {})
    name = agent_id or f"{like_agent or 'base'}-fork"
    if not is_safe_id(name):
        raise UsageError(
            f"agent id {name!r}: expected letters, digits, '_', '.' or '-' (at most 64)"
        )
    problem = secret_id_problem(name)
    if problem is not None:
        raise UsageError(f"agent id: {problem}")
    agent: dict[str, Any] = {"id": name, "prompt": prompt}
    for spec in source.get("agents") or []:
        if isinstance(spec, dict) and spec.get("id") == like_agent:
            agent.update({k: spec[k] for k in _AGENT_SETTINGS if spec.get(k) is not None})
    document: dict[str, Any] = {
        "name": f"fork of checkpoint {checkpoint.checkpoint_id[:8]}",
        "base": {"session": checkpoint.session_id, "at": checkpoint.message_uuid},
        "agents": [agent],
        "execution": {"max_parallel": 1},
    }
    for section in ("defaults", "backend", "store", "checkpoints"):
        if isinstance(source.get(section), dict):
            document[section] = dict(source[section])
    if backend is not None:
        document["backend"] = {**document.get("backend", {}), "name": backend}
    if store_url is not None:
        document["store"] = {"url": store_url}
    try:
        return Plan.model_validate(document)
    except ValueError as exc:
        raise UsageError(f"cannot build the fork plan: {exc}") from None


async def checkpoint_origin(
    store: Store, checkpoint: Checkpoint
) -> tuple[SessionRecord, dict[str, Any] | None]:
    """The checkpoint's session and the plan of the run it belongs to (if any)."""
    session = await store.get_session(checkpoint.session_id)
    if session is None:
        raise NotFoundError(
            f"checkpoint {checkpoint.checkpoint_id}: its session {checkpoint.session_id} "
            "is no longer in the store"
        )
    run = await store.get_run(session.run_id) if session.run_id else None
    return session, run.plan if run is not None else None
