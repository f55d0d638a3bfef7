"""Decoding and checking a Messages request body: the one place its shape is judged.

What the real API refuses with a 400 ``invalid_request_error`` is refused here with one
too, naming the field as it does (``messages.0.content.0.type: Field required``), so a
client meets a malformed body's error in a rehearsal, not a 500 or a reply that the
real API would never give. Checked: the JSON itself (valid UTF-8, no lone surrogate,
nesting at most :data:`MAX_DEPTH`), then the fields swarm's clients send and the fake
reads. Fields it does not know are let through, as newer clients send newer ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

#: Deeper JSON than this is refused; a tool's input schema nests a few levels, not 100.
MAX_DEPTH = 100

Path = tuple[str | int, ...]
_TOO_DEEP = f"request body: JSON nested deeper than {MAX_DEPTH} levels"


class BadRequest(Exception):
    """A request the real API would refuse with a 400 invalid_request_error."""


def decode_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object; raise :class:`BadRequest` for anything else."""
    try:
        parsed = json.loads(body)
    except RecursionError:
        raise BadRequest(_TOO_DEEP) from None
    except ValueError as error:  # also a body that is not UTF-8
        raise BadRequest(f"request body is not valid JSON: {error}") from None
    _check_json(parsed)
    if not isinstance(parsed, dict):
        raise BadRequest("request body must be a JSON object")
    return parsed


def _check_json(value: Any) -> None:
    """Refuse nesting past MAX_DEPTH and strings no UTF-8 can hold (without recursing)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(_TOO_DEEP)
        if isinstance(item, str):
            _utf8(item)
        elif isinstance(item, dict):
            for key, inner in item.items():
                _utf8(key)
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)


def _utf8(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(
            "request body is not valid JSON: a string holds a lone surrogate "
            "(\\ud800-\\udfff without its pair), which is not Unicode text"
        ) from None


def check_request(body: Mapping[str, Any], *, messages_call: bool) -> None:
    """Check a Messages (or ``count_tokens``, without ``max_tokens``) request's fields."""
    problems = _Problems()
    model = body.get("model")
    if "model" not in body:
        problems.add(("model",), "Field required")
    elif not isinstance(model, str) or not model:
        problems.add(("model",), "Input should be a non-empty string")
    if messages_call:
        max_tokens = body.get("max_tokens")
        if "max_tokens" not in body:
            problems.add(("max_tokens",), "Field required")
        elif not (isinstance(max_tokens, int) and _is_int(max_tokens) and max_tokens >= 1):
            problems.add(("max_tokens",), "Input should be a positive integer")
    messages = body.get("messages")
    if "messages" not in body:
        problems.add(("messages",), "Field required")
    elif not isinstance(messages, list):
        problems.add(("messages",), "Input should be a valid list")
    elif not messages:
        problems.add(("messages",), "List should have at least 1 item")
    else:
        for i, message in enumerate(messages):
            _message(problems, ("messages", i), message)
    if "system" in body:
        system = body["system"]
        if isinstance(system, list):
            for i, block in enumerate(system):
                _block(problems, ("system", i), block, allowed=("text",))
        elif not isinstance(system, str):
            problems.add(("system",), "Input should be a valid string or a list of text blocks")
    if "tools" in body:
        _tools(problems, body["tools"])
    for name, kind, check in _SCALARS:
        if name in body and not check(body[name]):
            problems.add((name,), f"Input should be {kind}")
    if "stop_sequences" in body:
        stops = body["stop_sequences"]
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            problems.add(("stop_sequences",), "Input should be a valid list of strings")
    problems.raise_first()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_SCALARS: Sequence[tuple[str, str, Any]] = (
    ("stream", "a valid boolean", lambda v: isinstance(v, bool)),
    ("temperature", "a valid number", _is_number),
    ("top_p", "a valid number", _is_number),
    ("top_k", "a valid integer", _is_int),
    ("metadata", "a valid dictionary", lambda v: isinstance(v, dict)),
    ("tool_choice", "a valid dictionary", lambda v: isinstance(v, dict)),
    ("thinking", "a valid dictionary", lambda v: isinstance(v, dict)),
)

# The fields each content block type must have, and their type.
_BLOCK_FIELDS: dict[str, tuple[tuple[str, type[str] | type[dict[str, Any]]], ...]] = {
    "text": (("text", str),),
    "image": (("source", dict),),
    "document": (("source", dict),),
    "tool_use": (("id", str), ("name", str), ("input", dict)),
    "server_tool_use": (("id", str), ("name", str), ("input", dict)),
    "tool_result": (("tool_use_id", str),),
    "thinking": (("thinking", str),),
    "redacted_thinking": (("data", str),),
}
_TYPE_NAMES: dict[type[str] | type[dict[str, Any]], str] = {
    str: "a valid string",
    dict: "a valid dictionary",
}


def _message(problems: _Problems, at: Path, message: Any) -> None:
    if not isinstance(message, dict):
        problems.add(at, "Input should be a valid dictionary")
        return
    role = message.get("role")
    if "role" not in message:
        problems.add((*at, "role"), "Field required")
    elif not isinstance(role, str) or not role:
        # Not only 'user' and 'assistant': Claude Code sends 'system' messages too.
        problems.add((*at, "role"), "Input should be a role such as 'user' or 'assistant'")
    if "content" not in message:
        problems.add((*at, "content"), "Field required")
    else:
        _content(problems, (*at, "content"), message["content"])


def _content(problems: _Problems, at: Path, content: Any) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        problems.add(at, "Input should be a valid string or a list of content blocks")
        return
    for i, block in enumerate(content):
        _block(problems, (*at, i), block)


def _block(
    problems: _Problems, at: Path, block: Any, *, allowed: Sequence[str] | None = None
) -> None:
    if not isinstance(block, dict):
        problems.add(at, "Input should be a valid dictionary (a content block)")
        return
    kind = block.get("type")
    if "type" not in block:
        problems.add((*at, "type"), "Field required")
        return
    if not isinstance(kind, str):
        problems.add((*at, "type"), "Input should be a valid string")
        return
    if allowed is not None and kind not in allowed:
        problems.add((*at, "type"), f"Input should be {' or '.join(repr(a) for a in allowed)}")
        return
    for name, expected in _BLOCK_FIELDS.get(kind, ()):
        if name not in block:
            problems.add((*at, name), "Field required")
        elif not isinstance(block[name], expected):
            problems.add((*at, name), f"Input should be {_TYPE_NAMES[expected]}")
    if kind == "tool_result" and "content" in block:
        inner = block["content"]
        if isinstance(inner, list):
            for i, item in enumerate(inner):
                _block(problems, (*at, "content", i), item)
        elif not isinstance(inner, str):
            problems.add(
                (*at, "content"), "Input should be a valid string or a list of content blocks"
            )


def _tools(problems: _Problems, tools: Any) -> None:
    if not isinstance(tools, list):
        problems.add(("tools",), "Input should be a valid list")
        return
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            problems.add(("tools", i), "Input should be a valid dictionary")
        elif not isinstance(tool.get("name"), str) or not tool["name"]:
            problems.add(("tools", i, "name"), "Field required (a non-empty string)")
        elif "type" not in tool and not isinstance(tool.get("input_schema"), dict):
            # A custom tool (no server tool `type`) describes its input.
            problems.add(("tools", i, "input_schema"), "Field required (a JSON schema object)")


class _Problems:
    """The problems found, reported as the real API does: the first one, by its path."""

    def __init__(self) -> None:
        self.found: list[tuple[Path, str]] = []

    def add(self, at: Path, message: str) -> None:
        self.found.append((at, message))

    def raise_first(self) -> None:
        if self.found:
            at, message = self.found[0]
            raise BadRequest(f"{'.'.join(str(p) for p in at)}: {message}")
