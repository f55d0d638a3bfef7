"""The raw ASGI app that plays the Messages API: routing, rules, errors, pacing, the log."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import trio
from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    ASGISendEvent,
    HTTPScope,
    Scope,
)

from ._accounting import PromptCache, Usage, input_tokens, output_tokens, prompt_segments
from ._config import ErrorSpec, LatencyModel, MockAPIConfig, ReplyRule
from ._records import (
    SECRET_HEADERS,
    RequestLog,
    RequestRecord,
    has_tool_result,
    last_user_message,
    message_text,
    system_text,
)
from ._request import BadRequest, check_request, decode_body
from ._sse import content_blocks, message_json, stream_events

REHEARSAL_PREFIX = "[rehearsal: fake Messages API, no model was called]"

Headers = list[tuple[bytes, bytes]]


def default_reply(prompt: str) -> str:
    """The reply when no rule matches: marked as a rehearsal, distinct per prompt."""
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:8]
    snippet = " ".join(prompt.split())
    if len(snippet) > 60:
        snippet = snippet[:57] + "..."
    return f"{REHEARSAL_PREFIX} reply {digest} to: {snippet or '(no text)'}"


class _TooLarge:
    """The body went past the size cap: refused with a 413, the rest never read."""


_TOO_LARGE = _TooLarge()


@dataclass(frozen=True, slots=True)
class _Decision:
    """What to do with one messages request: fail, or reply (text/tool_use) at some pace."""

    rule: ReplyRule | None
    label: str | None
    error: ErrorSpec | None
    latency: LatencyModel


class MockMessagesApp:
    """An ASGI app answering like ``api.anthropic.com``, scripted by a ``MockAPIConfig``."""

    def __init__(
        self,
        config: MockAPIConfig,
        on_request: Callable[[RequestRecord], object] | None = None,
        *,
        log: RequestLog | None = None,
    ) -> None:
        self.config = config
        self.log = log if log is not None else RequestLog()
        self.on_request = on_request
        self._cache = PromptCache(enabled=config.cache)
        self._rng = random.Random(config.seed)
        self._rule_matches = [0] * len(config.rules)

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    @staticmethod
    async def _lifespan(receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        headers = {}
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = "<redacted>" if name in SECRET_HEADERS else value
        record = RequestRecord(
            index=self.log.new_index(),
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode("latin-1"),
            headers=headers,
            started=trio.current_time(),
            client=(str(peer[0]), int(peer[1])) if (peer := scope["client"]) else None,
        )
        self.log.append(record)
        try:
            body = await self._read_body(record, receive)
            if body is None:  # the client went away before sending its body
                record.disconnected = True
                return
            if isinstance(body, _TooLarge):
                await _send_error(send, record, self._too_large())
                return
            finished = False

            async def tracking_send(message: ASGISendEvent) -> None:
                nonlocal finished
                # hypercorn reports http.disconnect as soon as the last body chunk is
                # written, so a finished response must be known as finished before that.
                if message["type"] == "http.response.body" and not message["more_body"]:
                    finished = True
                await send(message)

            async def watch_disconnect(scope: trio.CancelScope) -> None:
                # A client that hangs up (an agent cancelled mid-turn) must not leave this
                # request pacing out tokens to nobody.
                while (await receive())["type"] != "http.disconnect":
                    pass
                if not finished:
                    record.disconnected = True
                    scope.cancel()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch_disconnect, nursery.cancel_scope)
                await self._route(record, body, tracking_send)
                finished = True  # an injected drop ends here, unfinished on purpose
                nursery.cancel_scope.cancel()
        finally:
            record.ended = trio.current_time()
            self.log.finished(record)
            if self.on_request is not None:
                self.on_request(record)

    async def _read_body(
        self, record: RequestRecord, receive: ASGIReceiveCallable
    ) -> bytes | _TooLarge | None:
        """The body, None if the client hung up first, or _TOO_LARGE as soon as it is known
        to exceed the cap (from its content-length, or once the bytes read pass it)."""
        limit = self.config.max_request_bytes
        declared = record.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return _TOO_LARGE
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            if message["type"] == "http.request":
                chunk = message["body"]
                size += len(chunk)
                if size > limit:
                    return _TOO_LARGE
                chunks.append(chunk)
                if not message["more_body"]:
                    self.log.body_read(record, size)
                    return b"".join(chunks)

    def _too_large(self) -> ErrorSpec:
        limit = self.config.max_request_bytes
        return ErrorSpec(
            type="request_too_large",
            message=f"request body is larger than {limit} bytes ({limit / 2**20:g} MB), "
            "the most this server accepts (max_request_mb)",
        )

    async def _route(self, record: RequestRecord, body: bytes, send: ASGISendCallable) -> None:
        method, path = record.method, record.path.rstrip("/") or "/"
        try:
            if method == "POST" and path == "/v1/messages":
                await self._messages(record, _parse(body, record, messages_call=True), send)
            elif method == "POST" and path == "/v1/messages/count_tokens":
                parsed = _parse(body, record, messages_call=False)
                await _send_json(send, record, 200, {"input_tokens": input_tokens(parsed)})
            elif method in ("HEAD", "GET") and path in ("/", "/api/hello"):
                # Claude Code probes /api/hello for connectivity unless nonessential traffic is off.
                await _send_json(send, record, 200, {"ok": True}, head_only=method == "HEAD")
            else:
                error = ErrorSpec(
                    type="not_found_error", message=f"{method} {record.path} not found"
                )
                await _send_error(send, record, error)
        except BadRequest as bad:
            await _send_error(
                send, record, ErrorSpec(type="invalid_request_error", message=str(bad))
            )

    def _decide(self, prompt: str, system: str, tool_result: bool) -> _Decision:
        for index, rule in enumerate(self.config.rules):
            if rule.times is not None and self._rule_matches[index] >= rule.times:
                continue
            if not rule.matches(prompt, system, has_tool_result=tool_result):
                continue
            self._rule_matches[index] += 1
            seen = self._rule_matches[index]
            failing = rule.error is not None and (
                rule.fail_first is None or seen <= rule.fail_first
            )
            latency = rule.latency or self.config.latency
            error = rule.error if failing else self._random_error()
            return _Decision(rule, rule.label(index), error, latency)
        return _Decision(None, None, self._random_error(), self.config.latency)

    def _random_error(self) -> ErrorSpec | None:
        if self.config.error_rate <= 0 or not self.config.error_choices:
            return None
        if self._rng.random() >= self.config.error_rate:
            return None
        return self._rng.choice(self.config.error_choices)

    async def _messages(
        self, record: RequestRecord, body: dict[str, Any], send: ASGISendCallable
    ) -> None:
        user = last_user_message(record.messages)
        prompt = message_text(user)
        decision = self._decide(prompt, system_text(record.system), has_tool_result(user))
        record.rule = decision.label
        error = decision.error
        if error is not None and error.type != "connection_drop":
            await _send_error(send, record, error)
            return

        rule = decision.rule
        text = rule.text if rule is not None else None
        tool_uses = rule.tool_uses if rule is not None else ()
        if not text and not tool_uses:
            text = default_reply(prompt)
        stop_reason = "tool_use" if tool_uses else "end_turn"
        max_tokens = int(body["max_tokens"])
        if text and output_tokens([{"type": "text", "text": text}]) > max_tokens:
            text, tool_uses, stop_reason = text[: max_tokens * 4], (), "max_tokens"

        message_id = f"msg_mock{record.index:05d}{hashlib.sha256(prompt.encode()).hexdigest()[:12]}"
        content = content_blocks(text, tool_uses, message_id)
        usage = self._cache.account(
            str(record.model), prompt_segments(body), output_tokens(content)
        )
        record.content = content
        message = message_json(message_id, str(record.model), content, stop_reason, usage)
        if record.stream:
            await self._stream(record, message, usage, decision.latency, error, send)
        else:
            await self._json_reply(record, message, usage, decision.latency, error, send)

    async def _stream(
        self,
        record: RequestRecord,
        message: dict[str, Any],
        usage: Usage,
        latency: LatencyModel,
        drop: ErrorSpec | None,
        send: ASGISendCallable,
    ) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
        ]
        await _start(send, record, 200, headers)
        record.usage = usage.as_dict()
        deltas = 0
        for event in stream_events(message, usage, chunk_tokens=self.config.chunk_tokens):
            if drop is not None and (
                (event.is_delta and deltas >= drop.after_deltas) or event.event == "message_delta"
            ):
                record.error = drop.type
                return  # leaving the body unfinished makes hypercorn close the socket
            if event.tokens_before is not None:
                await trio.sleep_until(record.started + latency.delay_for(event.tokens_before))
            deltas += event.is_delta
            await send({"type": "http.response.body", "body": event.encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _json_reply(
        record: RequestRecord,
        message: dict[str, Any],
        usage: Usage,
        latency: LatencyModel,
        drop: ErrorSpec | None,
        send: ASGISendCallable,
    ) -> None:
        await trio.sleep_until(record.started + latency.delay_for(usage.output_tokens))
        payload = json.dumps(message).encode()
        record.usage = usage.as_dict()
        if drop is None:
            await _send_json(send, record, 200, message)
            return
        # Promise the whole body, send half of it, then hang up.
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        await _start(send, record, 200, headers)
        await send(
            {"type": "http.response.body", "body": payload[: len(payload) // 2], "more_body": True}
        )
        record.error = drop.type


def _parse(body: bytes, record: RequestRecord, *, messages_call: bool) -> dict[str, Any]:
    """Decode and check a Messages request (raise ``BadRequest``), then fill the record."""
    parsed = decode_body(body)
    record.body = parsed
    record.model = parsed.get("model") if isinstance(parsed.get("model"), str) else None
    check_request(parsed, messages_call=messages_call)
    record.messages = parsed["messages"]
    record.system = parsed.get("system")
    record.tools = [str(t["name"]) for t in parsed.get("tools") or ()]
    record.stream = parsed.get("stream") is True
    return parsed


async def _start(
    send: ASGISendCallable, record: RequestRecord, status: int, headers: Headers
) -> None:
    record.status = status
    request_id = f"req_mock{record.index:05d}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"request-id", request_id)],
        }
    )


async def _send_json(
    send: ASGISendCallable,
    record: RequestRecord,
    status: int,
    payload: dict[str, Any],
    *,
    extra: Sequence[tuple[bytes, bytes]] = (),
    head_only: bool = False,
) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await _start(send, record, status, [*headers, *extra])
    await send(
        {"type": "http.response.body", "body": b"" if head_only else body, "more_body": False}
    )


async def _send_error(send: ASGISendCallable, record: RequestRecord, error: ErrorSpec) -> None:
    record.error = error.type
    extra: Headers = []
    if error.retry_after is not None:
        extra.append((b"retry-after", f"{error.retry_after:g}".encode()))
    await _send_json(send, record, error.status, error.body(), extra=extra)
