"""Request bodies fuzzed with hypothesis against the fake Messages API's app: every body,
a mutated valid request or raw bytes, gets a 200 or a 4xx in the API's error shape, never
an exception (a 500 with a traceback under hypercorn) and never a hang."""

from __future__ import annotations

import copy
import json
from typing import Any

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarm.mockapi import MockAPIConfig

from ..mockapi.asgi import app_for, call_app
from .test_plan_fuzz import paths

VALID: dict[str, Any] = {
    "model": "m",
    "max_tokens": 50,
    "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
    "tools": [{"name": "Read", "input_schema": {"type": "object", "properties": {}}}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "read it"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {"p": "a"}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "text"}],
        },
    ],
    "stream": False,
    "metadata": {"user_id": "u"},
}
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["\ud800", "\udfff", "text", "tool_use", "tool_result", "user", "", "yes"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """The valid request with 1-3 values replaced, deleted, or given a new sibling."""
    body = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(body)[1:]))
        parent: Any = body
        for part in where[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[where[-1]] = draw(values)
        elif action == "delete":
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(values)
        else:
            parent.append(draw(values))
        if not paths(body)[1:]:
            break
    return body


def answer_is_sound(body: bytes, path: str) -> None:
    async def main() -> None:
        answer = await call_app(app_for(MockAPIConfig(max_request_mb=1)), [body], path=path)
        assert answer.complete and answer.status is not None
        assert answer.status == 200 or 400 <= answer.status < 500, answer.body
        if answer.status != 200:
            error = answer.json()
            assert error["type"] == "error" and error["error"]["message"]

    trio.run(main)


@SETTINGS
@given(body=mutated_bodies(), count=st.booleans())
def test_mutated_requests_get_a_200_or_a_4xx(body: dict[str, Any], count: bool) -> None:
    """A valid request with random values replaced, deleted or added (lone surrogates,
    wrong types, blocks without a type) is answered, never raises."""
    raw = json.dumps(body).encode()  # lone surrogates travel as \\ud800 escapes
    answer_is_sound(raw, "/v1/messages/count_tokens" if count else "/v1/messages")


@SETTINGS
@given(
    raw=st.one_of(
        st.binary(max_size=200),
        st.integers(1, 3000).map(lambda n: b'{"messages": ' + b"[" * n + b"]" * n + b"}"),
        st.integers(1, 3000).map(lambda n: b'{"a": ' * n + b"1" + b"}" * n),
    )
)
def test_raw_bytes_and_deep_nesting_get_a_4xx(raw: bytes) -> None:
    """Bytes that are not JSON, or JSON nested thousands deep, get a 4xx."""
    answer_is_sound(raw, "/v1/messages")
