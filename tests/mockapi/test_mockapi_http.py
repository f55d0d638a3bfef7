"""The fake Messages API over real HTTP, seen through the official anthropic client and httpx."""

from __future__ import annotations

import json
import logging
from typing import Any

import anthropic
import httpx
import httpx2
import pytest
import trio

from swarm.errors import UsageError
from swarm.mockapi import (
    REHEARSAL_PREFIX,
    ErrorSpec,
    LatencyModel,
    MockAnthropicServer,
    MockAPIConfig,
    ReplyRule,
    RequestLogTruncated,
    RequestRecord,
    ToolUse,
    default_reply,
    open_mock_api,
)

from .asgi import app_for, call_app

MODEL = "claude-test-1"


def client_for(server: MockAnthropicServer, max_retries: int = 0) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=server.base_url, api_key="test-key", max_retries=max_retries
    )


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


async def test_json_reply_from_rule_parses_with_anthropic_client() -> None:
    """A non-streaming create returns the matching rule's text with full usage."""
    config = MockAPIConfig(rules=[ReplyRule(name="greet", match=r"\bhello\b", text="Hi there!")])
    async with open_mock_api(config) as server:
        message = await client_for(server).messages.create(
            model=MODEL, max_tokens=100, messages=[user("hello world")]
        )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hi there!"
    assert message.model == MODEL
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 3  # ceil(len("Hi there!") / 4)
    assert message.usage.input_tokens > 0
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.cache_creation_input_tokens == 0
    assert server.requests[0].rule == "greet"


async def test_stream_create_yields_anthropic_event_sequence() -> None:
    """create(stream=True) yields message_start, block start/deltas/stop, message_delta, stop."""
    async with open_mock_api(MockAPIConfig(chunk_tokens=2)) as server:
        stream = await client_for(server).messages.create(
            model=MODEL, max_tokens=500, messages=[user("count to three")], stream=True
        )
        events = [event async for event in stream]
    types = [e.type for e in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = [e for e in events if e.type == "content_block_delta"]
    assert len(deltas) > 1  # chunk_tokens=2 cuts the reply into 8-character pieces
    text = "".join(d.delta.text for d in deltas if d.delta.type == "text_delta")
    assert text == default_reply("count to three")
    final = events[-2]
    assert final.type == "message_delta"
    assert final.delta.stop_reason == "end_turn"
    assert final.usage.output_tokens == -(-len(text) // 4)


async def test_messages_stream_helper_accumulates_final_message() -> None:
    """messages.stream() accumulates the streamed text and the final usage."""
    async with (
        open_mock_api() as server,
        client_for(server).messages.stream(
            model=MODEL, max_tokens=500, system="be brief", messages=[user("What is 2+2?")]
        ) as stream,
    ):
        text = await stream.get_final_text()
        final = await stream.get_final_message()
    assert text.startswith(REHEARSAL_PREFIX)
    assert text == default_reply("What is 2+2?")
    assert final.usage.output_tokens == server.requests[0].usage["output_tokens"]  # type: ignore[index]
    assert final.usage.input_tokens == server.requests[0].usage["input_tokens"]  # type: ignore[index]


async def test_raw_sse_wire_format_with_beta_query() -> None:
    """The raw stream has event/data frames, a ping, and works on /v1/messages?beta=true."""
    body = {"model": MODEL, "max_tokens": 50, "stream": True, "messages": [user("hi")]}
    async with open_mock_api() as server, httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post("/v1/messages?beta=true", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in response.text.split("\n\n") if f]
    names = [f.split("\n")[0].removeprefix("event: ") for f in frames]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-1] == "message_stop"
    for frame in frames:
        event_line, data_line = frame.split("\n")
        assert json.loads(data_line.removeprefix("data: "))["type"] == event_line[7:]
    assert server.requests[0].query == "beta=true"
    assert server.requests[0].path == "/v1/messages"


async def test_tool_use_rule_then_tool_result_falls_back_to_default() -> None:
    """A tool_use rule streams the tool input; the tool_result follow-up ends the turn."""
    write = ToolUse.write_file("/tmp/x.txt", "content here")
    config = MockAPIConfig(rules=[ReplyRule(match="make a file", text="Sure.", tool_uses=(write,))])
    async with open_mock_api(config) as server:
        client = client_for(server)
        async with client.messages.stream(
            model=MODEL, max_tokens=500, messages=[user("please make a file")]
        ) as stream:
            first = await stream.get_final_message()
        assert first.stop_reason == "tool_use"
        text_block, tool_block = first.content
        assert text_block.type == "text" and text_block.text == "Sure."
        assert tool_block.type == "tool_use"
        assert tool_block.name == "Write"
        assert tool_block.input == {"file_path": "/tmp/x.txt", "content": "content here"}
        result = {"type": "tool_result", "tool_use_id": tool_block.id, "content": "File created"}
        second = await client.messages.create(
            model=MODEL,
            max_tokens=500,
            messages=[
                user("please make a file"),
                {"role": "assistant", "content": [b.model_dump() for b in first.content]},
                {"role": "user", "content": [result]},
            ],
        )
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text"
    assert second.content[0].text == default_reply("File created")
    assert [r.rule for r in server.requests] == ["rule[0]", None]


async def test_rules_match_system_prompt_order_and_times() -> None:
    """Rules match on the system prompt too, first match wins, and ``times`` retires a rule."""
    config = MockAPIConfig(
        rules=[
            ReplyRule(match="go", system="reviewer", text="LGTM"),
            ReplyRule(match="go", text="once", times=1),
            ReplyRule(match="go", text="always"),
        ]
    )
    async with open_mock_api(config) as server:
        client = client_for(server)

        async def ask(system: str) -> str:
            message = await client.messages.create(
                model=MODEL, max_tokens=50, system=system, messages=[user("go")]
            )
            block = message.content[0]
            assert block.type == "text"
            return block.text

        assert await ask("you are a reviewer") == "LGTM"
        assert await ask("you are a coder") == "once"
        assert await ask("you are a coder") == "always"


async def test_default_reply_is_deterministic_and_differs_per_prompt() -> None:
    """Two servers give the same default reply to the same prompt and different ones otherwise."""
    replies = []
    for _ in range(2):
        async with open_mock_api() as server:
            client = client_for(server)
            for prompt in ("alpha", "beta"):
                message = await client.messages.create(
                    model=MODEL, max_tokens=100, messages=[user(prompt)]
                )
                assert message.content[0].type == "text"
                replies.append(message.content[0].text)
    assert replies[0] == replies[2] and replies[1] == replies[3]
    assert replies[0] != replies[1]
    assert all(r.startswith(REHEARSAL_PREFIX) for r in replies)


async def test_count_tokens_equals_uncached_input_tokens() -> None:
    """count_tokens answers the same total a first, unmarked request is billed."""
    messages = [user("how many tokens is this prompt, roughly?")]
    async with open_mock_api() as server:
        client = client_for(server)
        counted = await client.messages.count_tokens(model=MODEL, system="sys", messages=messages)
        message = await client.messages.create(
            model=MODEL, max_tokens=50, system="sys", messages=messages
        )
    assert counted.input_tokens == message.usage.input_tokens > 0
    assert server.requests[0].path == "/v1/messages/count_tokens"


@pytest.mark.parametrize(
    ("error_type", "exception", "status"),
    [
        ("rate_limit_error", anthropic.RateLimitError, 429),
        ("overloaded_error", anthropic.OverloadedError, 529),
        ("api_error", anthropic.InternalServerError, 500),
        ("invalid_request_error", anthropic.BadRequestError, 400),
    ],
)
async def test_injected_http_errors_map_to_anthropic_exceptions(
    error_type: Any, exception: type[anthropic.APIStatusError], status: int
) -> None:
    """Each injected error reaches the client as the matching exception with Anthropic's body."""
    rule = ReplyRule(match="boom", error=ErrorSpec(type=error_type, retry_after=7, message="nope"))
    async with open_mock_api(MockAPIConfig(rules=[rule])) as server:
        with pytest.raises(exception) as caught:
            await client_for(server).messages.create(
                model=MODEL, max_tokens=50, messages=[user("boom")]
            )
    assert caught.value.status_code == status
    assert caught.value.body == {"type": "error", "error": {"type": error_type, "message": "nope"}}
    assert caught.value.response.headers["retry-after"] == "7"
    assert server.requests[0].status == status
    assert server.requests[0].error == error_type


async def test_fail_first_two_429s_then_success_with_client_retries() -> None:
    """fail_first=2 gives two 429s, then the anthropic client's third attempt succeeds."""
    rule = ReplyRule(
        match="flaky",
        text="made it",
        error=ErrorSpec(type="rate_limit_error", retry_after=0.01),
        fail_first=2,
    )
    async with open_mock_api(MockAPIConfig(rules=[rule])) as server:
        message = await client_for(server, max_retries=2).messages.create(
            model=MODEL, max_tokens=50, messages=[user("flaky call")]
        )
    assert message.content[0].type == "text" and message.content[0].text == "made it"
    assert [r.status for r in server.requests] == [429, 429, 200]
    assert [r.retry_count for r in server.requests] == [0, 1, 2]
    assert [r.error for r in server.requests] == ["rate_limit_error", "rate_limit_error", None]


async def test_retry_after_zero_is_sent_as_zero() -> None:
    """A 429 with retry_after=0 carries ``retry-after: 0`` so clients may retry at once."""
    rule = ReplyRule(error=ErrorSpec(type="rate_limit_error", retry_after=0), fail_first=1)
    body = {"model": MODEL, "max_tokens": 50, "messages": [user("x")]}
    async with (
        open_mock_api(MockAPIConfig(rules=[rule])) as server,
        httpx.AsyncClient(base_url=server.base_url) as http,
    ):
        first = await http.post("/v1/messages", json=body)
        second = await http.post("/v1/messages", json=body)
    assert first.status_code == 429
    assert first.headers["retry-after"] == "0"
    assert first.json()["error"]["type"] == "rate_limit_error"
    assert second.status_code == 200


async def test_connection_drop_mid_stream_after_some_deltas() -> None:
    """A dropped stream delivers message_start and two deltas, then the client sees an error."""
    rule = ReplyRule(match="drop", error=ErrorSpec(type="connection_drop", after_deltas=2))
    async with open_mock_api(MockAPIConfig(rules=[rule], chunk_tokens=1)) as server:
        client = client_for(server)
        seen = []
        with pytest.raises((anthropic.APIConnectionError, httpx2.RemoteProtocolError)):
            stream = await client.messages.create(
                model=MODEL, max_tokens=100, messages=[user("drop me")], stream=True
            )
            async for event in stream:
                seen.append(event.type)
        # The server keeps serving after hanging up on one client.
        message = await client.messages.create(model=MODEL, max_tokens=100, messages=[user("ok")])
    assert seen[:2] == ["message_start", "content_block_start"]
    assert seen[2:] == ["content_block_delta"] * 2
    assert message.content[0].type == "text"
    assert server.requests[0].error == "connection_drop"
    assert server.requests[1].error is None


async def test_connection_drop_on_json_reply_is_a_connection_error() -> None:
    """A dropped non-streaming reply surfaces as APIConnectionError."""
    rule = ReplyRule(error=ErrorSpec(type="connection_drop"))
    async with open_mock_api(MockAPIConfig(rules=[rule])) as server:
        with pytest.raises(anthropic.APIConnectionError):
            await client_for(server).messages.create(
                model=MODEL, max_tokens=100, messages=[user("x")]
            )


async def test_seeded_error_rate_is_reproducible() -> None:
    """The same seed fails the same requests, drawing from error_choices."""
    choices = (ErrorSpec(type="overloaded_error"), ErrorSpec(type="api_error"))
    config = MockAPIConfig(error_rate=0.5, seed=3, error_choices=choices)
    runs = []
    for _ in range(2):
        async with (
            open_mock_api(config) as server,
            httpx.AsyncClient(base_url=server.base_url) as http,
        ):
            for i in range(12):
                body = {"model": MODEL, "max_tokens": 20, "messages": [user(f"q{i}")]}
                await http.post("/v1/messages", json=body)
        runs.append([r.status for r in server.requests])
    assert runs[0] == runs[1]
    assert 200 in runs[0]
    assert set(runs[0]) - {200} <= {529, 500} and set(runs[0]) != {200}


async def test_caching_is_opt_in_and_automatic_caching_reads_the_prefix() -> None:
    """No breakpoint: a repeated prefix is paid in full; a top-level cache_control caches it."""
    auto = {"cache_control": {"type": "ephemeral"}}  # automatic caching: breakpoint at the end
    first_messages = [user("a long shared context " * 20)]
    reply = [{"type": "text", "text": "ok"}]
    second_messages = [*first_messages, {"role": "assistant", "content": reply}, user("next")]
    third_messages = [*second_messages, {"role": "assistant", "content": reply}, user("again")]
    async with open_mock_api() as server:
        client = client_for(server)
        first = await client.messages.create(model=MODEL, max_tokens=50, messages=first_messages)
        second = await client.messages.create(model=MODEL, max_tokens=50, messages=second_messages)
        total = await client.messages.count_tokens(model=MODEL, messages=second_messages)
        written = await client.messages.create(
            model=MODEL, max_tokens=50, messages=second_messages, extra_body=auto
        )
        read = await client.messages.create(
            model=MODEL, max_tokens=50, messages=third_messages, extra_body=auto
        )
    for plain in (first.usage, second.usage):
        assert plain.cache_read_input_tokens == plain.cache_creation_input_tokens == 0
    assert second.usage.input_tokens == total.input_tokens  # the repeated prefix paid again
    assert written.usage.cache_read_input_tokens == 0
    assert written.usage.cache_creation_input_tokens == total.input_tokens
    assert read.usage.cache_read_input_tokens == total.input_tokens


async def test_cache_control_markers_bill_cache_creation_then_reads() -> None:
    """With a cache_control breakpoint the first call writes the prefix and the next reads it."""
    system = [{"type": "text", "text": "rules " * 100, "cache_control": {"type": "ephemeral"}}]
    async with open_mock_api() as server:
        client = client_for(server)
        calls = [
            await client.messages.create(
                model=MODEL, max_tokens=50, system=system, messages=[user(q)]
            )
            for q in ("first question", "second question")
        ]
    write, read = calls[0].usage, calls[1].usage
    assert write.cache_creation_input_tokens is not None and write.cache_creation_input_tokens > 0
    assert write.cache_read_input_tokens == 0
    assert read.cache_read_input_tokens == write.cache_creation_input_tokens
    assert read.cache_creation_input_tokens == 0
    assert read.input_tokens == write.input_tokens  # only the differing question is uncached


async def test_latency_model_paces_the_stream() -> None:
    """A rule's latency delays the first delta by ttft and the end by output_tokens / tps."""
    slow = LatencyModel(ttft=0.3, tps=100)
    rule = ReplyRule(match="slow", text="x" * 80, latency=slow)  # 20 output tokens
    async with open_mock_api(MockAPIConfig(rules=[rule])) as server:
        client = client_for(server)
        start = trio.current_time()
        first_delta = None
        stream = await client.messages.create(
            model=MODEL, max_tokens=100, messages=[user("slow")], stream=True
        )
        async for event in stream:
            if event.type == "content_block_delta" and first_delta is None:
                first_delta = trio.current_time() - start
        total = trio.current_time() - start
        fast_start = trio.current_time()
        await client.messages.create(model=MODEL, max_tokens=100, messages=[user("fast")])
        fast = trio.current_time() - fast_start
    # Lower bounds are exact (trio.sleep_until); upper bounds leave room for a busy machine.
    assert first_delta is not None and 0.3 <= first_delta < 0.9
    assert 0.5 <= total < 1.5  # 0.3 + 20 / 100
    assert total - first_delta >= 0.19  # the remaining 19 tokens at 100 tokens/s
    assert fast < 0.3  # the global latency model is instant


async def test_max_tokens_truncates_reply() -> None:
    """A reply longer than max_tokens is cut and stops with stop_reason max_tokens."""
    rule = ReplyRule(text="y" * 400, tool_uses=(ToolUse(name="Bash", input={"command": "ls"}),))
    async with open_mock_api(MockAPIConfig(rules=[rule])) as server:
        message = await client_for(server).messages.create(
            model=MODEL, max_tokens=10, messages=[user("x")]
        )
    assert message.stop_reason == "max_tokens"
    assert [b.type for b in message.content] == ["text"]
    assert message.usage.output_tokens == 10


async def test_invalid_requests_and_unknown_routes_get_anthropic_errors() -> None:
    """Bad bodies get 400 invalid_request_error, unknown routes 404, health probes 200."""
    async with open_mock_api() as server, httpx.AsyncClient(base_url=server.base_url) as http:
        no_max = await http.post("/v1/messages", json={"model": MODEL, "messages": [user("x")]})
        not_json = await http.post("/v1/messages", content=b"{nope")
        unknown = await http.get("/v1/models/whatever")
        hello = await http.head("/api/hello")
        root = await http.head("/")
    assert no_max.status_code == 400
    assert no_max.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in no_max.json()["error"]["message"]
    assert not_json.status_code == 400
    assert unknown.status_code == 404
    assert unknown.json() == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "GET /v1/models/whatever not found"},
    }
    assert hello.status_code == 200 and root.status_code == 200
    assert [r.status for r in server.requests] == [400, 400, 404, 200, 200]


async def test_request_log_records_what_was_asked() -> None:
    """The log keeps messages, system, tools, headers (secrets redacted), usage and times."""
    tools = [{"name": "Read", "description": "read", "input_schema": {"type": "object"}}]
    headers = {"x-claude-code-session-id": "sess-1", "x-api-key": "secret"}
    body = {
        "model": MODEL,
        "max_tokens": 50,
        "system": "be kind",
        "tools": tools,
        "messages": [user("find the needle")],
    }
    seen: list[RequestRecord] = []
    async with (
        open_mock_api(on_request=seen.append) as server,
        httpx.AsyncClient(base_url=server.base_url) as http,
    ):
        await http.post("/v1/messages", json=body, headers=headers)
        await http.post("/v1/messages", json={**body, "messages": [user("other")]})
        await http.post("/v1/messages/count_tokens", json=body)
    first = server.requests[0]
    assert first.index == 0 and first.method == "POST" and first.path == "/v1/messages"
    assert first.model == MODEL and first.system == "be kind" and first.tools == ["Read"]
    assert first.messages == [user("find the needle")]
    assert first.stream is False and first.status == 200
    assert first.usage is not None and set(first.usage) == {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }
    assert first.session_id == "sess-1"
    assert first.headers["x-api-key"] == "<redacted>"
    assert first.ended is not None and first.ended >= first.started
    assert not any(r.disconnected for r in server.requests)
    assert first.last_user_text == "find the needle"
    assert first.reply_text == default_reply("find the needle")
    assert server.requests_matching("needle") == [first]
    assert len(server.message_requests) == 2
    assert server.session_ids() == ["sess-1"]
    assert seen == server.requests  # on_request saw every finished request
    assert "#0 POST /v1/messages 200" in first.one_line()
    # One keep-alive connection served all three requests.
    assert len({r.client for r in server.requests}) == 1


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
async def test_refuses_non_loopback_hosts(host: str) -> None:
    """Binding anywhere but loopback is refused before any socket is opened."""
    with pytest.raises(UsageError, match="loopback"):
        async with open_mock_api(host=host):
            pass  # pragma: no cover


async def test_localhost_binds_ipv4_loopback() -> None:
    """``localhost`` is accepted and served on 127.0.0.1 at a free port."""
    async with open_mock_api(host="localhost") as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.port > 0


async def test_client_hanging_up_stops_the_reply() -> None:
    """A client that closes a slow stream early is logged as disconnected and not paced further."""
    rule = ReplyRule(text="z" * 400, latency=LatencyModel(ttft=0, tps=20))  # 5 s to finish
    finished = trio.Event()
    async with open_mock_api(
        MockAPIConfig(rules=[rule]), on_request=lambda _: finished.set()
    ) as server:
        stream = await client_for(server).messages.create(
            model=MODEL, max_tokens=500, messages=[user("long")], stream=True
        )
        async for event in stream:
            if event.type == "content_block_delta":
                break
        await stream.close()
        with trio.fail_after(2):
            await finished.wait()
    record = server.requests[0]
    assert record.disconnected
    assert record.duration is not None and record.duration < 1


async def test_errors_raised_in_the_block_are_not_wrapped() -> None:
    """An exception raised inside ``open_mock_api`` comes out as itself, not in a group."""
    with pytest.raises(KeyError):
        async with open_mock_api():
            raise KeyError("mine")


# --- malformed bodies, the size cap and the bounded log ---------------------------------

GOOD_BODY: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 20,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
}


def _with(**changes: Any) -> bytes:
    return json.dumps({**GOOD_BODY, **changes}).encode()


def _deep(levels: int) -> bytes:
    return b'{"model": "m", "max_tokens": 5, "messages": ' + b"[" * levels + b"]" * levels + b"}"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_with(messages=[{"role": "user", "content": 5}]), "messages.0.content: Input should"),
        (_with(messages=[user("\ud800")]), "lone surrogate"),
        (_deep(100_000), "nested deeper than 100 levels"),
        (_deep(150), "nested deeper than 100 levels"),  # json parses it; the walk refuses
        (_with(messages=[{"role": "user", "content": [{"text": "x"}]}]), "content.0.type: Field"),
        (_with(tools=7), "tools: Input should be a valid list"),
        (_with(system=[1, 2]), "system.0: Input should be a valid dictionary"),
        (_with(stream="yes"), "stream: Input should be a valid boolean"),
        (_with(max_tokens=True), "max_tokens: Input should be a positive integer"),
        (_with(model=5), "model: Input should be a non-empty string"),
        (_with(messages=[5]), "messages.0: Input should be a valid dictionary"),
        (_with(messages=[{"content": "x"}]), "messages.0.role: Field required"),
        (_with(tools=[{}]), "tools.0.name: Field required"),
        (_with(tools=[{"name": "t"}]), "tools.0.input_schema: Field required"),
        (_with(system=[{"type": "image", "source": {}}]), "system.0.type: Input should be 'text'"),
        (
            _with(messages=[user("x"), {"role": "assistant", "content": [{"type": "tool_use"}]}]),
            "messages.1.content.0.id: Field required",
        ),
        (
            _with(
                messages=[
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "t", "content": 5}],
                    }
                ]
            ),
            "messages.0.content.0.content: Input should be",
        ),
        (_with(stop_sequences="END"), "stop_sequences: Input should be a valid list of strings"),
        (_with(temperature="hot"), "temperature: Input should be a valid number"),
        (
            b'{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "\xff"}]}',
            "not valid JSON",
        ),
    ],
)
async def test_malformed_bodies_get_a_400_naming_the_field(
    body: bytes, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Each malformed body is a 400 invalid_request_error naming the field, as the real API
    answers: not a 500 with a traceback in the server log (content: 5, a lone surrogate,
    JSON 100k deep) and not a 200 (a block without type, tools: 7, stream: "yes")."""
    async with open_mock_api() as server, httpx.AsyncClient(base_url=server.base_url) as http:
        answer = await http.post("/v1/messages", content=body)
        counted = await http.post("/v1/messages/count_tokens", content=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert field in error["error"]["message"]
    assert counted.status_code == 400 or "max_tokens" in field
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert server.status_counts == {400: 2} or "max_tokens" in field


async def test_what_the_clients_send_is_still_accepted() -> None:
    """The shapes swarm's clients send pass: string and block content, tool results with
    blocks, system blocks, server tools, Claude Code's `system` role, fields it does not know."""
    body = {
        **GOOD_BODY,
        "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
        "tools": [
            {"name": "Read", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search"},
        ],
        "messages": [
            user("x"),
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "r"}],
                    }
                ],
            },
            {"role": "system", "content": [{"type": "text", "text": "env"}]},
        ],
        "metadata": {"user_id": "u"},
        "stream": False,
        "temperature": 1,
        "context_management": {"edits": []},
    }
    async with open_mock_api() as server, httpx.AsyncClient(base_url=server.base_url) as http:
        answer = await http.post("/v1/messages", json=body)
    assert answer.status_code == 200, answer.text
    assert server.requests[0].tools == ["Read", "web_search"]


async def test_request_log_keeps_the_last_n_and_counts_them_all() -> None:
    """With log_size 3, five requests leave the last three in the log (full records), while
    request_count and status_counts cover all five; asking for dropped ones says so."""
    async with (
        open_mock_api(log_size=3) as server,
        httpx.AsyncClient(base_url=server.base_url) as http,
    ):
        for i in range(5):
            await http.post("/v1/messages", json={**GOOD_BODY, "messages": [user(f"n{i}")]})
        await http.post("/v1/messages", content=b"{nope")
    assert [r.index for r in server.requests] == [3, 4, 5]
    assert server.requests[0].body["messages"] == [user("n3")]
    assert server.request_count == 6
    assert server.status_counts == {200: 5, 400: 1}
    assert [r.index for r in server.requests_since(4)] == [4, 5]
    with pytest.raises(RequestLogTruncated, match=r"requests 0\.\.2 are no longer in the log"):
        server.requests_since(0)


async def test_request_log_keeps_bodies_within_its_byte_budget() -> None:
    """Bodies count toward log_bytes: ten 100 kB requests in a 250 kB log leave at most two
    (the newest), so a server used for hours does not grow with what it was sent."""
    big = {**GOOD_BODY, "messages": [user("x" * 100_000)]}
    async with (
        open_mock_api(log_bytes=250_000) as server,
        httpx.AsyncClient(base_url=server.base_url) as http,
    ):
        for _ in range(10):
            assert (await http.post("/v1/messages/count_tokens", json=big)).status_code == 200
    assert [r.index for r in server.requests] == [8, 9]
    assert sum(r.body_bytes for r in server.requests) <= 250_000
    assert server.request_count == 10


async def test_a_body_over_the_cap_gets_a_413_in_the_api_shape() -> None:
    """A body over max_request_mb is answered 413 request_too_large (the real API's error
    shape), whether its size is declared (content-length) or only found while reading; a
    body under the cap on the same server is answered as usual."""
    config = MockAPIConfig(max_request_mb=0.01)  # 10,485 bytes
    big = {**GOOD_BODY, "messages": [user("x" * 20_000)]}

    async def chunked() -> Any:
        payload = json.dumps(big).encode()
        for start in range(0, len(payload), 4096):
            yield payload[start : start + 4096]

    async with open_mock_api(config) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            declared = await http.post("/v1/messages", json=big)
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            streamed = await http.post("/v1/messages", content=chunked())
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            small = await http.post("/v1/messages", json=GOOD_BODY)
    for answer in (declared, streamed):
        assert answer.status_code == 413
        error = answer.json()
        assert error["type"] == "error" and error["error"]["type"] == "request_too_large"
        assert "larger than 10485 bytes" in error["error"]["message"]
    assert small.status_code == 200
    assert [r.status for r in server.requests] == [413, 413, 200]
    assert [r.body for r in server.requests[:2]] == [None, None]


async def test_the_server_reads_no_more_than_the_cap_and_one_chunk() -> None:
    """An endless body is refused once the bytes read pass the cap: the app asks for at most
    cap + one chunk; with a content-length over the cap it reads nothing at all."""
    app = app_for(MockAPIConfig(max_request_mb=1))
    chunk = b"x" * 65_536
    endless = await call_app(app, iter(lambda: chunk, None))
    assert endless.status == 413 and endless.complete
    assert 2**20 < endless.bytes_read <= 2**20 + len(chunk)
    declared = await call_app(
        app, iter(lambda: chunk, None), headers=[(b"content-length", b"200000000")]
    )
    assert declared.status == 413 and declared.bytes_read == 0
    assert declared.json()["error"]["type"] == "request_too_large"
