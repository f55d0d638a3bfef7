"""Prompt-cache misses of a run: forks that paid their inherited history again.

A fork inherits its parent's whole conversation; read from the prompt cache it costs a
tenth of its price, written again it costs 1.25x. A fork's first response says which
happened: its ``cache_creation_tokens`` should be about its own task (a few hundred
tokens), not the history it inherited. When they are more than a small fraction of
that history, the fork missed the cache (a system prompt that differs per directory, an
expired cache, a different model), and a user pays for it on every fork.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..records import Message, SwarmResult, Usage
from ..stores import Store

#: A fork's first cache write above this share of its inherited history is a miss.
MISS_SHARE = 0.05
#: Below this, an inherited history is not cached by the API at all (its minimum).
MIN_CACHED_TOKENS = 1024


@dataclass(frozen=True, slots=True)
class CacheMiss:
    """One fork that wrote much of what it inherited to the prompt cache."""

    agent_id: str
    inherited_tokens: int  # the parent's last prompt and reply: what the fork inherits
    written_tokens: int  # cache writes of the fork's first response
    read_tokens: int  # cache reads of the fork's first response

    @property
    def share(self) -> float:
        return self.written_tokens / self.inherited_tokens


def _first_usage(messages: list[Message], *, last: bool = False) -> Usage | None:
    """The usage of a session's first (or last) response that carries one."""
    replies = [m for m in messages if m.role == "assistant" and m.usage.total > 0]
    if not replies:
        return None
    return replies[-1 if last else 0].usage


def context_tokens(usage: Usage) -> int:
    """A response's prompt (input, cache write, cache read) plus its reply."""
    return (
        usage.input_tokens
        + usage.cache_creation_tokens
        + usage.cache_read_tokens
        + usage.output_tokens
    )


async def cache_misses(
    store: Store, result: SwarmResult, *, share: float = MISS_SHARE
) -> list[CacheMiss]:
    """The forks of ``result``'s base whose first response wrote more than ``share`` of
    the history they inherited to the prompt cache (empty when the run used no cache)."""
    if result.base_session_id is None or result.metrics.usage.cache_creation_tokens == 0:
        return []
    base = _first_usage(await store.get_messages(result.base_session_id), last=True)
    if base is None or context_tokens(base) < MIN_CACHED_TOKENS:
        return []
    inherited = context_tokens(base)
    misses = []
    for agent in result.agents.values():
        if agent.session_id is None or agent.parent_session_id != result.base_session_id:
            continue
        first = _first_usage(await store.get_messages(agent.session_id))
        if first is not None and first.cache_creation_tokens > share * inherited:
            misses.append(
                CacheMiss(
                    agent.agent_id,
                    inherited,
                    first.cache_creation_tokens,
                    first.cache_read_tokens,
                )
            )
    return misses
