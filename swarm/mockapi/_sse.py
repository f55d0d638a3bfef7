"""Reply messages and their server-sent-event stream, in the Messages API's exact shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ._accounting import Usage, text_tokens
from ._config import ToolUse


def content_blocks(
    text: str | None, tool_uses: Sequence[ToolUse], message_id: str
) -> list[dict[str, Any]]:
    """The reply's content: an optional text block, then the tool_use blocks."""
    blocks: list[dict[str, Any]] = []
    if text:
        blocks.append({"type": "text", "text": text})
    for n, tool in enumerate(tool_uses):
        # Ids derive from the (unique) message id, so every tool_use id in a session is unique.
        tool_id = tool.id or f"toolu_{message_id.removeprefix('msg_')}_{n}"
        blocks.append({"type": "tool_use", "id": tool_id, "name": tool.name, "input": tool.input})
    return blocks


def message_json(
    message_id: str,
    model: str,
    content: list[dict[str, Any]],
    stop_reason: str | None,
    usage: Usage,
) -> dict[str, Any]:
    """A complete ``message`` object, as a non-streaming reply returns it."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage.as_dict(),
    }


def encode_event(event: str, data: dict[str, Any]) -> bytes:
    """One SSE frame: ``event:`` line, one-line JSON ``data:``, blank line."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n".encode()


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of a reply stream; ``tokens_before`` paces it under the latency model.

    ``tokens_before`` is the number of output tokens sent before this event, or ``None``
    for framing events that go out without waiting.
    """

    event: str
    data: dict[str, Any]
    tokens_before: int | None = None

    @property
    def is_delta(self) -> bool:
        """Whether this event carries content (what a mid-stream drop counts)."""
        return self.event == "content_block_delta"

    def encode(self) -> bytes:
        """The event as SSE bytes."""
        return encode_event(self.event, self.data)


def _chunks(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def stream_events(
    message: dict[str, Any], usage: Usage, *, chunk_tokens: int
) -> Iterator[StreamEvent]:
    """The events that stream ``message``, the way the real API orders them.

    ``message_start`` carries the input-side usage and ``output_tokens: 1``; the final
    ``message_delta`` carries the stop reason and the full usage.
    """
    start_usage = Usage(
        usage.input_tokens, 1, usage.cache_creation_input_tokens, usage.cache_read_input_tokens
    )
    head = {**message, "content": [], "stop_reason": None, "usage": start_usage.as_dict()}
    yield StreamEvent("message_start", {"type": "message_start", "message": head})
    yield StreamEvent("ping", {"type": "ping"})
    size = chunk_tokens * 4  # four characters a token, as in the accounting
    sent = 0
    for index, block in enumerate(message["content"]):
        if block["type"] == "tool_use":
            opening = {**block, "input": {}}
            pieces = _chunks(json.dumps(block["input"], ensure_ascii=False), size)
            delta_type, field = "input_json_delta", "partial_json"
        else:
            opening = {"type": "text", "text": ""}
            pieces = _chunks(block["text"], size)
            delta_type, field = "text_delta", "text"
        yield StreamEvent(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": opening},
        )
        for piece in pieces:
            delta = {"type": delta_type, field: piece}
            yield StreamEvent(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
                tokens_before=sent,
            )
            sent += text_tokens(piece)
        yield StreamEvent("content_block_stop", {"type": "content_block_stop", "index": index})
    yield StreamEvent(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": usage.as_dict(),
        },
        tokens_before=usage.output_tokens,
    )
    yield StreamEvent("message_stop", {"type": "message_stop"})
