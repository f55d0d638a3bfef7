"""The ``anthropic`` backend: agents on the Messages API, forks as pointers into the store.

A fork is not a copy: the agent's session record points at its parent and
fork point, and the history sent to the API is materialised from the store's
lineage on each call. Prompt caching makes forks pay for the shared base once:
the base call marks its prompt with ``cache_control``, and every fork marks the
same block (a cache read) plus the end of its inherited history.
``prompt_caching=False`` sends the same requests without any ``cache_control``,
so every call pays its whole prompt (the counterfactual ``swarm bench`` measures).

Agents here are single-turn: the Messages API runs no tools. Use the
``claude`` backend for tool-using Claude Code agents.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import anthropic

# The HTTP library the SDK reads a stream with (httpx2 from anthropic 2, httpx before): a
# body that breaks off mid-stream raises its TransportError, which the SDK leaves unwrapped.
try:
    from httpx2 import TransportError as StreamBroken
except ImportError:  # pragma: no cover - an anthropic SDK older than 2.0
    from httpx import TransportError as StreamBroken  # type: ignore[assignment]

from ...errors import APIError, BackendError, NotFoundError, TransientAPIError
from ...records import Message, Usage
from ...stores import Store, history, lineage
from .._protocol import AgentOutcome, AgentRequest, AgentSink, BaseRequest, BaseSession
from .._retries import call_with_retries
from .._retry_policy import RetryPolicy
from ._defaults import DEFAULT_MAX_TOKENS, DEFAULT_MODEL

CACHE = {"type": "ephemeral"}

#: The HTTP status of each error type the API documents, for an error that arrives as an
#: ``error`` event inside a stream already answered 200 (an overload mid-reply, say).
STREAM_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens; cache writes and reads are priced separately."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_creation_tokens * self.cache_write
            + usage.cache_read_tokens * self.cache_read
        ) / 1e6


# List prices by model family (the API reports tokens, not dollars); override with
# backend.options.prices in a plan when they change.
PRICES = {
    "opus": Price(15.0, 75.0, 18.75, 1.5),
    "sonnet": Price(3.0, 15.0, 3.75, 0.3),
    "haiku": Price(1.0, 5.0, 1.25, 0.1),
}


def price_of(model: str, overrides: Mapping[str, Any] | None = None) -> Price | None:
    for family, price in {**PRICES, **_parse_prices(overrides)}.items():
        if family in model:
            return price
    return None


def _parse_prices(overrides: Mapping[str, Any] | None) -> dict[str, Price]:
    return {name: Price(**values) for name, values in (overrides or {}).items()}


def api_error(exc: anthropic.APIError) -> APIError:
    """Our error for an SDK error: transient ones carry status and retry-after."""
    if isinstance(exc, anthropic.APIConnectionError):
        return TransientAPIError(f"connection failed: {exc}")
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        message = _error_message(exc)
        if status < 400:
            # An ``error`` event inside a 200 stream: its type says what the status would be.
            status = STREAM_ERROR_STATUS.get(_error_type(exc) or "", 500)
        if status in (408, 409, 429) or status >= 500:
            retry_after = _retry_after(exc.response.headers)
            return TransientAPIError(message, status=status, retry_after_s=retry_after)
        return APIError(message, status=status)
    return APIError(str(exc))


def _error_type(exc: anthropic.APIStatusError) -> str | None:
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) else None


def _error_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return f"{error.get('type', 'error')}: {error['message']}"
    return str(exc.message)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) / scale
            except ValueError:
                return None
    return None


def _usage(raw: Any) -> Usage:
    return Usage(
        input_tokens=raw.input_tokens or 0,
        output_tokens=raw.output_tokens or 0,
        cache_creation_tokens=getattr(raw, "cache_creation_input_tokens", 0) or 0,
        cache_read_tokens=getattr(raw, "cache_read_input_tokens", 0) or 0,
    )


def _blocks(message: Message) -> list[dict[str, Any]]:
    raw = message.raw or {}
    content = raw.get("content")
    if isinstance(content, list) and content:
        return [dict(block) for block in content]
    return [{"type": "text", "text": message.content}]


def to_api_messages(
    messages: Sequence[Message], breakpoints: Collection[str] = ()
) -> list[dict[str, Any]]:
    """API messages from stored ones: roles alternate, ``breakpoints`` get cache_control."""
    result: list[dict[str, Any]] = []
    for message in messages:
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if message.uuid in breakpoints:
            blocks[-1] = {**blocks[-1], "cache_control": CACHE}
        if result and result[-1]["role"] == role:
            result[-1]["content"].extend(blocks)
        else:
            result.append({"role": role, "content": blocks})
    if result and result[0]["role"] != "user":
        result.insert(0, {"role": "user", "content": [{"type": "text", "text": "(continue)"}]})
    return result


class AnthropicBackend:
    """Single-turn agents on the Messages API with store-backed forks and prompt caching."""

    name = "anthropic"

    def __init__(
        self,
        store: Store,
        *,
        client: anthropic.AsyncAnthropic | None = None,
        model: str = DEFAULT_MODEL,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        retry: RetryPolicy | None = None,
        prices: Mapping[str, Any] | None = None,
        prompt_caching: bool = True,
    ) -> None:
        self._store = store
        # Retries are ours (counted, window-aware), so the SDK's own are off.
        self._client = client or anthropic.AsyncAnthropic(max_retries=0)
        self._model = model
        self._max_tokens = max_tokens
        self._retry = retry or RetryPolicy()
        self._prices = prices
        self._caching = prompt_caching

    async def _create(
        self, sink: AgentSink, *, model: str, system: str | None, messages: list[dict[str, Any]]
    ) -> Any:
        async def call() -> Any:
            try:
                kwargs: dict[str, Any] = {}
                if system:
                    block: dict[str, Any] = {"type": "text", "text": system}
                    if self._caching:
                        block["cache_control"] = CACHE
                    kwargs["system"] = [block]
                # Always streamed: the SDK refuses a non-streaming call that may run past
                # ten minutes (max_tokens above ~21,333), and a stream keeps a long reply's
                # connection busy; the final message is the same either way.
                async with self._client.messages.stream(
                    model=model,
                    max_tokens=self._max_tokens,
                    messages=cast(Any, messages),
                    **kwargs,
                ) as stream:
                    return await stream.get_final_message()
            except anthropic.APIError as exc:
                raise api_error(exc) from None
            except StreamBroken as exc:
                raise TransientAPIError(f"connection dropped mid-stream: {exc}") from None

        return await call_with_retries(call, sink, self._retry)

    def _cost(self, model: str, usage: Usage) -> float:
        price = price_of(model, self._prices)
        return price.cost(usage) if price is not None else 0.0

    async def _turn(
        self,
        sink: AgentSink,
        session_id: str,
        inherited: list[Message],
        prompt: Message,
        *,
        model: str,
        system: str | None,
        breakpoints: set[str],
    ) -> tuple[Message, Usage]:
        await sink.message(prompt)
        # Without caching no breakpoint at all: the API then caches nothing (it is opt-in).
        messages = to_api_messages([*inherited, prompt], breakpoints if self._caching else ())
        response = await self._create(sink, model=model, system=system, messages=messages)
        usage = _usage(response.usage)
        content = [block.model_dump(mode="json", exclude_none=True) for block in response.content]
        text = "\n".join(b.get("text", "") for b in content if b.get("type") == "text")
        reply = Message(
            str(uuid.uuid4()),
            session_id,
            "assistant",
            text,
            parent_uuid=prompt.uuid,
            usage=usage,
            raw={"content": content, "model": response.model, "stop_reason": response.stop_reason},
        )
        await sink.message(reply)
        return reply, usage

    async def open_base(self, request: BaseRequest, sink: AgentSink) -> BaseSession:
        if request.session_id is not None:
            try:
                await history(self._store, request.session_id, upto=request.at)
            except NotFoundError as exc:
                raise BackendError(f"base session: {exc}") from None
            return BaseSession(request.session_id, fork_point=request.at)
        session_id = str(uuid.uuid4())
        model = request.model or self._model
        await sink.session_started(session_id, metadata={"backend": "anthropic", "model": model})
        prompt = Message(str(uuid.uuid4()), session_id, "user", request.prompt or "")
        # The base's prompt is the block every fork will read back from the cache.
        _, usage = await self._turn(
            sink,
            session_id,
            [],
            prompt,
            model=model,
            system=request.system_prompt,
            breakpoints={prompt.uuid},
        )
        return BaseSession(session_id, usage=usage, cost_usd=self._cost(model, usage))

    async def run_agent(self, request: AgentRequest, sink: AgentSink) -> AgentOutcome:
        model = request.model or self._model
        try:
            if request.resume_session_id is not None:
                session_id = request.resume_session_id
                inherited = await history(self._store, session_id)
            else:
                session_id = str(uuid.uuid4())
                inherited = await history(
                    self._store, request.parent_session_id, upto=request.fork_point
                )
                # It runs no tools, so it changes no files; where it was asked to work
                # (an agent's own worktree, say) is kept with its session all the same.
                where = {"cwd": request.cwd} if request.cwd is not None else {}
                await sink.session_started(
                    session_id, metadata={"backend": "anthropic", "model": model, **where}
                )
            breakpoints = await self._breakpoints(request.parent_session_id, inherited)
        except NotFoundError as exc:
            raise BackendError(f"cannot fork {request.parent_session_id}: {exc}") from None
        prompt = Message(str(uuid.uuid4()), session_id, "user", request.prompt)
        reply, usage = await self._turn(
            sink,
            session_id,
            inherited,
            prompt,
            model=model,
            system=request.system_prompt,
            breakpoints=breakpoints,
        )
        return AgentOutcome(
            session_id=session_id,
            output=reply.content,
            turns=1,
            usage=usage,
            cost_usd=self._cost(model, usage),
        )

    async def _breakpoints(self, parent: str, inherited: list[Message]) -> set[str]:
        """Cache the last user message of each ancestor's part, and the inherited end.

        The API allows four breakpoints; the system prompt takes one.
        """
        if not inherited:
            return set()
        points = {inherited[-1].uuid}
        owners = {r.session_id for r in await lineage(self._store, parent)}
        last_user: dict[str, str] = {}
        for message in inherited:
            if message.role == "user" and message.session_id in owners:
                last_user[message.session_id] = message.uuid
        for uuid_ in list(last_user.values())[:2]:
            points.add(uuid_)
        return points

    async def aclose(self) -> None:
        await self._client.close()
