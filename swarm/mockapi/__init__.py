"""A fake Anthropic Messages API for tests and free rehearsals of a swarm plan.

``open_mock_api()`` serves it on loopback inside the current trio run; the real Claude
Code CLI talks to it given ``cli_env(server.base_url, tmpdir)``.  Replies are scripted by
``ReplyRule``s (text, ``tool_use`` blocks or an ``ErrorSpec``), paced by a
``LatencyModel``, billed with simulated prompt caching (see ``_accounting``) and logged
as ``RequestRecord``s in ``server.requests`` (the last 1,000, with running counts of all).
Malformed bodies get the real API's 400 ``invalid_request_error`` (``_request``), bodies
over ``max_request_mb`` (32) a 413 ``request_too_large`` before they are read.

    async with open_mock_api(MockAPIConfig(rules=[ReplyRule(match="hi", text="hello")])) as server:
        client = anthropic.AsyncAnthropic(base_url=server.base_url, api_key="x")
        ...
        assert server.requests_matching("hi")
"""

from ._accounting import Usage, prompt_segments
from ._app import REHEARSAL_PREFIX, default_reply
from ._config import ErrorSpec, ErrorType, LatencyModel, MockAPIConfig, ReplyRule, ToolUse
from ._records import RequestLog, RequestLogTruncated, RequestRecord
from ._server import (
    MockAnthropicServer,
    banner,
    check_loopback,
    cli_env,
    open_mock_api,
    serve_forever,
)

__all__ = [
    "REHEARSAL_PREFIX",
    "ErrorSpec",
    "ErrorType",
    "LatencyModel",
    "MockAPIConfig",
    "MockAnthropicServer",
    "ReplyRule",
    "RequestLog",
    "RequestLogTruncated",
    "RequestRecord",
    "ToolUse",
    "Usage",
    "banner",
    "check_loopback",
    "cli_env",
    "default_reply",
    "open_mock_api",
    "prompt_segments",
    "serve_forever",
]
