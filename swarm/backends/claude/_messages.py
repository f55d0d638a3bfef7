"""Turning what the Claude Agent SDK yields into swarm records and errors.

- SDK messages become :class:`~swarm.records.Message` with the CLI's own uuids,
  readable text, and raw blocks (``tool_use`` inputs included, so the files a
  ``Write`` or ``Edit`` touched can be read back later);
- a failed result becomes an :class:`~swarm.errors.APIError`: transient
  (429, 529, 5xx, connection refused or dropped) or final (400, 401, ...);
- ``total_cost_usd`` is cumulative across resume and fork, so an agent's own
  cost is what its process added (see :func:`own_cost`);
- the CLI's stderr becomes a short readable reason (:func:`stderr_reason`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    ResultMessage,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

from ..._redaction import redact_text
from ...errors import APIError, BackendError, TransientAPIError
from ...records import Message, Usage

_BLOCK_TYPES: dict[type[Any], str] = {
    TextBlock: "text",
    ThinkingBlock: "thinking",
    ToolUseBlock: "tool_use",
    ToolResultBlock: "tool_result",
}

#: The CLI's error kinds on a synthetic assistant message that are worth retrying.
_TRANSIENT_KINDS = frozenset({"rate_limit", "server_error"})


def usage_of(raw: Mapping[str, Any] | None) -> Usage:
    """Our :class:`Usage` from an API-style usage mapping (missing fields are 0)."""
    if not raw:
        return Usage()
    return Usage(
        input_tokens=int(raw.get("input_tokens") or 0),
        output_tokens=int(raw.get("output_tokens") or 0),
        cache_creation_tokens=int(raw.get("cache_creation_input_tokens") or 0),
        cache_read_tokens=int(raw.get("cache_read_input_tokens") or 0),
    )


def block_dict(block: Any) -> dict[str, Any]:
    """A content block as the API's JSON shape: ``{"type": "tool_use", "name": ..., ...}``."""
    if isinstance(block, Mapping):
        return dict(block)
    if dataclasses.is_dataclass(block) and not isinstance(block, type):
        data = dataclasses.asdict(block)
    else:
        data = {"value": repr(block)}
    return {"type": _BLOCK_TYPES.get(type(block), type(block).__name__), **data}


def _text(content: str | list[Any]) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, TextBlock):
            parts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            target = block.input.get("file_path") or block.input.get("command") or ""
            parts.append(f"[tool_use {block.name}{' ' + str(target) if target else ''}]")
        elif isinstance(block, ToolResultBlock):
            inner = block.content
            text = inner if isinstance(inner, str) else str(inner or "")
            parts.append(f"[tool_result{' error' if block.is_error else ''}] {text[:500]}")
    return "\n".join(parts)


def user_message(message: UserMessage, session_id: str, parent_uuid: str | None) -> Message | None:
    """A replayed prompt (role ``user``) or a tool result (role ``tool``); None without uuid."""
    if message.uuid is None:
        return None
    blocks = [message.content] if isinstance(message.content, str) else message.content
    is_tool = any(isinstance(b, ToolResultBlock) for b in blocks)
    raw: dict[str, Any] = {
        "content": [
            {"type": "text", "text": b} if isinstance(b, str) else block_dict(b) for b in blocks
        ]
    }
    if message.parent_tool_use_id is not None:
        raw["parent_tool_use_id"] = message.parent_tool_use_id
    return Message(
        uuid=message.uuid,
        session_id=session_id,
        role="tool" if is_tool else "user",
        content=_text(message.content),
        parent_uuid=parent_uuid,
        raw=raw,
    )


def assistant_message(
    message: AssistantMessage, session_id: str, parent_uuid: str | None, *, count_usage: bool
) -> Message | None:
    """An assistant message; its usage only on the first message of one API response."""
    if message.uuid is None:
        return None
    raw: dict[str, Any] = {
        "content": [block_dict(b) for b in message.content],
        "model": message.model,
        "message_id": message.message_id,
        "stop_reason": message.stop_reason,
    }
    if message.error is not None:
        raw["error"] = message.error
    if message.parent_tool_use_id is not None:
        raw["parent_tool_use_id"] = message.parent_tool_use_id
    return Message(
        uuid=message.uuid,
        session_id=session_id,
        role="assistant",
        content=_text(message.content),
        parent_uuid=parent_uuid,
        usage=usage_of(message.usage) if count_usage else Usage(),
        raw=raw,
    )


def result_error(data: Mapping[str, Any], last_error_kind: str | None = None) -> BackendError:
    """The error a failed ``result`` stands for; transient ones are worth a retry."""
    status = data.get("api_error_status")
    status = status if isinstance(status, int) else None
    text = str(data.get("result") or "; ".join(map(str, data.get("errors") or ())) or "")
    subtype = data.get("subtype")
    if subtype == "error_max_turns":
        turns = data.get("num_turns")
        return BackendError(f"the agent reached max_turns ({turns}) before it finished")
    connection = data.get("api_error") == "connection_failed"
    transient_status = status is not None and (status in (408, 409, 429) or status >= 500)
    if connection or transient_status or (status is None and last_error_kind in _TRANSIENT_KINDS):
        return TransientAPIError(text or "the API call failed", status=status)
    if status is not None or data.get("terminal_reason") in ("api_error", "prompt_too_long"):
        return APIError(text or "the API refused the request", status=status)
    return BackendError(f"Claude Code ended with an error ({subtype}): {text or 'no detail'}")


#: What the SDK puts in ``ProcessError.stderr`` when it did not capture stderr itself.
STDERR_PLACEHOLDER = "Check stderr output for details"

# The CLI's tagged diagnostics: ``[claude-code:unrecognized_model] {"model": "x", ...}``.
_TAGGED = re.compile(r"^\[claude-code:(?P<kind>[\w-]+)\]\s*(?P<data>\{.*\})?\s*$")
# A stack frame (``    at foo (file:1:2)``) says where, not why.
_FRAME = re.compile(r"^\s*at\s")
_MAX_LINE = 300


def _readable(line: str) -> str:
    """A tagged diagnostic as words: ``unrecognized model (model=x)``; other lines as is."""
    tagged = _TAGGED.match(line)
    if tagged is None:
        return line[:_MAX_LINE]
    words = tagged["kind"].replace("_", " ").replace("-", " ")
    try:
        data = json.loads(tagged["data"] or "{}")
    except ValueError:
        data = {}
    fields = (
        ", ".join(f"{k}={v}" for k, v in data.items() if k != "query_source")
        if isinstance(data, dict)
        else ""
    )
    return f"{words} ({fields})"[:_MAX_LINE] if fields else words


def stderr_reason(lines: Iterable[str], secrets: Iterable[str], *, keep: int = 3) -> str:
    """The last ``keep`` meaningful stderr lines of the CLI, readable, on one line.

    Blank lines, stack frames and repeats are dropped, tagged diagnostics turned
    into words, and ``secrets`` (plus key-shaped strings) redacted. Empty when
    nothing meaningful was written.
    """
    meaningful: list[str] = []
    for raw in lines:
        for line in raw.splitlines():
            line = line.strip()
            if line and not _FRAME.match(line) and line != STDERR_PLACEHOLDER:
                text = _readable(line)
                if not meaningful or meaningful[-1] != text:
                    meaningful.append(text)
    return redact_text(" | ".join(meaningful[-keep:]), list(secrets))


def _model_usage_tokens(model_usage: Mapping[str, Any] | None) -> int:
    keys = ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheCreationInputTokens")
    total = 0
    for entry in (model_usage or {}).values():
        if isinstance(entry, Mapping):
            total += sum(int(entry.get(k) or 0) for k in keys)
    return total


def own_cost(result: ResultMessage, carried_usd: float | None) -> float:
    """What this CLI process spent, from the cumulative ``total_cost_usd``.

    A resumed or forked session starts with its parent's totals restored, so
    ``total_cost_usd`` and ``model_usage`` include them; ``usage`` is this
    process's alone. When the totals hold more tokens than ``usage``, the parent's
    cost was carried: subtract ``carried_usd`` (the parent's last total, when we
    saw it), else the carried tokens' share of the total.
    """
    total = float(result.total_cost_usd or 0.0)
    own_tokens = usage_of(result.usage).total
    all_tokens = _model_usage_tokens(result.model_usage)
    if all_tokens <= own_tokens:
        return total
    if carried_usd is not None and carried_usd <= total:
        return total - carried_usd
    return total * own_tokens / all_tokens
