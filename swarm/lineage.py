"""Session lineage: a fork is a pointer into its parent, so histories are assembled.

A session's stored messages are only the ones it added. Its full history is
its parent's history up to the fork point, then its own messages, all the way
up to a root session.
"""

from __future__ import annotations

from .errors import NotFoundError
from .records import Message, SessionRecord
from .stores.base import Store


async def lineage(store: Store, session_id: str) -> list[SessionRecord]:
    """The chain of sessions from the root down to ``session_id``."""
    chain: list[SessionRecord] = []
    seen: set[str] = set()
    current: str | None = session_id
    while current is not None:
        if current in seen:  # a corrupt store must not hang us
            raise NotFoundError(f"session lineage of {session_id} loops at {current}")
        seen.add(current)
        record = await store.get_session(current)
        if record is None:
            raise NotFoundError(f"no session {current} in the store")
        chain.append(record)
        current = record.parent_session_id
    chain.reverse()
    return chain


async def history(store: Store, session_id: str, upto: str | None = None) -> list[Message]:
    """Every message of ``session_id`` from its root, cut after message ``upto`` if given."""
    chain = await lineage(store, session_id)
    messages: list[Message] = []
    for i, record in enumerate(chain):
        own = await store.get_messages(record.session_id)
        messages.extend(own)
        child = chain[i + 1] if i + 1 < len(chain) else None
        if child is not None and child.fork_point is not None:
            _cut_after(messages, child.fork_point, record.session_id)
    if upto is not None:
        _cut_after(messages, upto, session_id)
    return messages


def _cut_after(messages: list[Message], uuid: str, session_id: str) -> None:
    for i, message in enumerate(messages):
        if message.uuid == uuid:
            del messages[i + 1 :]
            return
    raise NotFoundError(f"message {uuid} is not in the history of session {session_id}")
