"""Deterministic token counts and the prompt-cache simulation.

Tokens
    A request's prompt is cut into segments in the order the real API caches them: the
    ``tools`` list (if any), the ``system`` prompt (if any), then each message.  A segment
    counts ``ceil(len(canonical_json(segment)) / 4)`` tokens, where the canonical JSON has
    sorted keys, no spaces, and every ``cache_control`` key removed; string content (a
    string ``system``, a message whose ``content`` is a string) is first written as one
    text block.  Both matter for Claude Code, which moves its breakpoint to the newest
    message on every turn and then re-sends the older ones as plain strings: the API treats
    those forms as the same prompt, so the counts and cache keys must too.  A system text
    block starting ``x-anthropic-billing-header:`` (Claude Code's attribution line, whose
    suffix changes with the first prompt) is left out as metadata; otherwise no two new
    sessions could share the cached tools + system prefix.  A request's input tokens are
    the sum over its segments (at least 1); that is also what ``count_tokens`` answers.
    Output tokens are
    ``ceil(len(text) / 4)`` per text block and ``ceil(len(name + canonical_json(input)) / 4)``
    per tool_use block, at least 1 in all.

Prompt cache
    Each segment boundary ``i`` has a prefix key: a SHA-256 chain over the model name and
    the canonical JSON of segments ``0..i``.  The server keeps the set of keys written so far.
    As on the real API, caching is opt-in and looked up from the breakpoints backwards:

    * A breakpoint is a segment holding a ``cache_control`` marker; a top-level
      ``cache_control`` on the request (automatic caching) makes the last segment one.
    * Without any breakpoint the request neither reads nor writes the cache: it pays its
      whole prompt as ``input_tokens``, however often the same prefix was sent before.
    * ``cache_read_input_tokens`` = the tokens of the longest prefix, ending at or before the
      last breakpoint, whose key is already in the set (0 if none).
    * The prefixes ending at the breakpoints are written; ``cache_creation_input_tokens`` =
      the tokens up to the last breakpoint minus the tokens read (0 if not positive).
    * ``input_tokens`` = total - read - creation (the part after the last breakpoint), so the
      three always add up to the total.

    Not modelled: the 20-block lookback limit (any earlier written prefix is found), the
    per-model minimum cacheable length (1,024 tokens and up; shorter prefixes are cached
    here), the cache lifetime, and breakpoints inside a message (a segment is a whole
    message, so a marker on one of its blocks marks all of it).

    Keys are written only for requests that got as far as a reply (``message_start``);
    requests failed before that leave the cache untouched.  ``cache=False`` in the config
    turns the whole simulation off (reads and writes are always 0).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def strip_cache_control(value: Any) -> Any:
    """A copy of ``value`` without any ``cache_control`` key, at any depth."""
    if isinstance(value, dict):
        return {k: strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [strip_cache_control(v) for v in value]
    return value


def has_cache_control(value: Any) -> bool:
    """Whether ``value`` holds a ``cache_control`` key at any depth."""
    if isinstance(value, dict):
        return "cache_control" in value or any(has_cache_control(v) for v in value.values())
    if isinstance(value, list):
        return any(has_cache_control(v) for v in value)
    return False


def canonical_json(value: Any) -> str:
    """Key-sorted, compact JSON of ``value`` without ``cache_control`` keys."""
    return json.dumps(
        strip_cache_control(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def text_tokens(text: str) -> int:
    """The approximate token count of ``text``: one token per four characters, rounded up."""
    return math.ceil(len(text) / 4)


@dataclass(frozen=True, slots=True)
class Segment:
    """One cacheable piece of a prompt: its canonical JSON, size and breakpoint marker."""

    text: str
    tokens: int
    marked: bool


_BILLING_PREFIX = "x-anthropic-billing-header:"


def _as_blocks(content: Any) -> Any:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _prompt_system(system: Any) -> Any:
    blocks = _as_blocks(system)
    if not isinstance(blocks, list):
        return blocks
    return [
        b
        for b in blocks
        if not (isinstance(b, dict) and str(b.get("text", "")).startswith(_BILLING_PREFIX))
    ]


def prompt_segments(body: Mapping[str, Any]) -> list[Segment]:
    """Cut a Messages request body into segments: tools, system, then each message."""
    parts: list[Any] = []
    if body.get("tools"):
        parts.append(body["tools"])
    system = _prompt_system(body.get("system"))
    if system:
        parts.append(system)
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict) and "content" in message:
                message = {**message, "content": _as_blocks(message["content"])}
            parts.append(message)
    segments = []
    for part in parts:
        text = canonical_json(part)
        segments.append(Segment(text, text_tokens(text), has_cache_control(part)))
    if segments and body.get("cache_control"):  # automatic caching: a breakpoint at the end
        last = segments[-1]
        segments[-1] = Segment(last.text, last.tokens, True)
    return segments


def input_tokens(body: Mapping[str, Any]) -> int:
    """The total input tokens of a request (what ``count_tokens`` answers), at least 1."""
    return max(1, sum(s.tokens for s in prompt_segments(body)))


def output_tokens(content: Iterable[Mapping[str, Any]]) -> int:
    """The output tokens of reply content blocks, at least 1."""
    total = 0
    for block in content:
        if block.get("type") == "tool_use":
            total += text_tokens(str(block["name"]) + canonical_json(block.get("input", {})))
        else:
            total += text_tokens(str(block.get("text", "")))
    return max(1, total)


@dataclass(frozen=True, slots=True)
class Usage:
    """The ``usage`` object of a reply."""

    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        """The usage as the API's JSON object."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }


class PromptCache:
    """The set of prompt prefixes seen so far, and the accounting rules of the module docs."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._written: set[str] = set()

    def account(self, model: str, segments: Sequence[Segment], output: int) -> Usage:
        """Bill one request with these segments, and remember its prefixes."""
        total = max(1, sum(s.tokens for s in segments))
        if not self.enabled:
            return Usage(input_tokens=total, output_tokens=output)
        marked = [i for i, s in enumerate(segments) if s.marked]
        if not marked:  # caching is opt-in: no breakpoint, no lookup and no write
            return Usage(input_tokens=total, output_tokens=output)
        keys, sizes = self._prefixes(model, segments)
        last = marked[-1]
        # Hits are looked up from the breakpoints backwards: nothing after the last one is read.
        read = max((sizes[i] for i in range(last + 1) if keys[i] in self._written), default=0)
        creation = max(0, sizes[last] - read)
        self._written.update(keys[i] for i in marked)
        return Usage(
            input_tokens=total - read - creation,
            output_tokens=output,
            cache_creation_input_tokens=creation,
            cache_read_input_tokens=read,
        )

    @staticmethod
    def _prefixes(model: str, segments: Sequence[Segment]) -> tuple[list[str], list[int]]:
        # A hash chain makes each key stand for the whole prefix, so equal keys mean
        # byte-identical prefixes, not just equal last segments.
        digest = hashlib.sha256(model.encode()).hexdigest()
        keys: list[str] = []
        sizes: list[int] = []
        size = 0
        for segment in segments:
            digest = hashlib.sha256((digest + segment.text).encode()).hexdigest()
            size += segment.tokens
            keys.append(digest)
            sizes.append(size)
        return keys, sizes
