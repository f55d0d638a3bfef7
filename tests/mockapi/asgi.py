"""Driving the fake API's ASGI app directly: no socket, so a test sees exactly how many
body bytes the app asked for, and any exception it raises (what hypercorn turns into a 500)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import trio

from swarm.mockapi import MockAPIConfig
from swarm.mockapi._app import MockMessagesApp


@dataclass
class Answer:
    """What the app sent back, and how much of the request body it read."""

    status: int | None = None
    body: bytes = b""
    bytes_read: int = 0
    chunks_read: int = 0
    complete: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)


async def call_app(
    app: MockMessagesApp,
    chunks: Iterable[bytes],
    *,
    path: str = "/v1/messages",
    headers: list[tuple[bytes, bytes]] | None = None,
    timeout_s: float = 10,
) -> Answer:
    """Send one POST whose body is ``chunks`` (may be endless); return the app's answer."""
    answer = Answer()
    source: Iterator[bytes] = iter(chunks)
    pending = next(source, None)
    body_done = False

    async def receive() -> Any:
        nonlocal pending, body_done
        if body_done:
            await trio.sleep_forever()  # the client stays connected
        chunk = pending if pending is not None else b""
        pending = next(source, None)
        body_done = pending is None
        answer.bytes_read += len(chunk)
        answer.chunks_read += 1
        return {"type": "http.request", "body": chunk, "more_body": not body_done}

    async def send(message: Any) -> None:
        answer.events.append(message)
        if message["type"] == "http.response.start":
            answer.status = message["status"]
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")
            answer.complete = not message.get("more_body", False)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": headers or [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
    }
    with trio.fail_after(timeout_s):
        await app(scope, receive, send)  # type: ignore[arg-type]
    return answer


def app_for(config: MockAPIConfig | None = None) -> MockMessagesApp:
    return MockMessagesApp(config or MockAPIConfig())
