"""Session lineage: a fork is a pointer into its parent, so histories are assembled.

A session's stored messages are only the ones it added. Its full history is
its parent's history up to the fork point, then its own messages, all the way
up to a root session.
"""

from __future__ import annotations

from ..errors import NotFoundError
from ..records import Message, SessionRecord
from ._protocol import MessageRangeReader, Store


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
    return await history_of(store, await lineage(store, session_id), upto)


async def history_of(
    store: Store, chain: list[SessionRecord], upto: str | None = None
) -> list[Message]:
    """The history of the last session of ``chain`` (as :func:`lineage` returns it)."""
    messages: list[Message] = []
    for i, record in enumerate(chain):
        child = chain[i + 1] if i + 1 < len(chain) else None
        cut = child.fork_point if child is not None else upto
        if cut is None:
            messages.extend(await messages_between(store, record.session_id))
            continue
        try:  # read only up to the cut, not the whole session
            messages.extend(await messages_between(store, record.session_id, upto=cut))
        except NotFoundError:  # the cut is in the part this session inherited
            _cut_after(messages, cut, record.session_id)
    return messages


async def messages_between(
    store: Store, session_id: str, *, after: str | None = None, upto: str | None = None
) -> list[Message]:
    """A session's own messages after ``after`` up to and including ``upto``.

    Uses the store's ranged read when it has one; empty when ``upto`` comes
    before ``after``; :class:`NotFoundError` when either is not in the session.
    """
    if isinstance(store, MessageRangeReader):
        return await store.get_message_range(session_id, after=after, upto=upto)
    messages = await store.get_messages(session_id)
    uuids = [m.uuid for m in messages]
    for uuid in (after, upto):
        if uuid is not None and uuid not in uuids:
            raise NotFoundError(f"message {uuid} is not a message of session {session_id}")
    low = uuids.index(after) + 1 if after is not None else 0
    high = uuids.index(upto) + 1 if upto is not None else len(messages)
    return messages[low:high]


def _cut_after(messages: list[Message], uuid: str, session_id: str) -> None:
    for i, message in enumerate(messages):
        if message.uuid == uuid:
            del messages[i + 1 :]
            return
    raise NotFoundError(f"message {uuid} is not in the history of session {session_id}")
