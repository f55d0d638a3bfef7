"""Serving the fake API on loopback inside the caller's trio event loop."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from swarm.errors import UsageError

from ._app import MockMessagesApp
from ._config import MockAPIConfig
from ._records import DEFAULT_LOG_BYTES, DEFAULT_LOG_SIZE, RequestLog, RequestRecord

_log = logging.getLogger("swarm.mockapi")


def check_loopback(host: str) -> str:
    """Return the address to bind for ``host``; raise ``UsageError`` unless it is loopback.

    The fake API has no authentication and replies to anyone, so it must never listen
    where another machine could reach it.
    """
    if host == "localhost":
        return "127.0.0.1"  # one family, so the printed base URL is the bound address
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise UsageError(
            f"the mock API only listens on loopback; got host {host!r}, "
            "expected 127.0.0.1, ::1 or localhost"
        )
    return str(address)


def cli_env(
    base_url: str, config_dir: str | os.PathLike[str], *, max_retries: int | None = 0
) -> dict[str, str]:
    """Environment overrides that make the real Claude Code CLI talk only to ``base_url``.

    ``HOME`` is ``config_dir`` and ``CLAUDE_CONFIG_DIR`` is ``config_dir/.claude``, so
    transcripts land in ``config_dir/.claude/projects/`` and no user settings or
    credentials are read.  Pass the result as ``ClaudeAgentOptions(env=...)`` (the SDK
    layers it over ``os.environ``) together with ``setting_sources=[]``.  To read the
    transcripts in-process (``list_sessions``), set ``CLAUDE_CONFIG_DIR`` the same way.
    ``max_retries=None`` leaves the CLI's own retry count alone.
    """
    home = Path(config_dir)
    env = {
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": "dummy-key-for-the-fake-api",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    if max_retries is not None:
        env["CLAUDE_CODE_MAX_RETRIES"] = str(max_retries)
    return env


class MockAnthropicServer:
    """A running fake API: where it listens and what it was asked (from ``open_mock_api``)."""

    def __init__(self, app: MockMessagesApp, host: str, port: int) -> None:
        self._app = app
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: the value for ``ANTHROPIC_BASE_URL`` or ``base_url=``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def config(self) -> MockAPIConfig:
        """The configuration scripting this server."""
        return self._app.config

    @property
    def requests(self) -> list[RequestRecord]:
        """The requests the log holds, in arrival order (in-flight ones included): every
        one received, unless more than ``log_size`` (or ``log_bytes`` of bodies) came."""
        return list(self._app.log)

    @property
    def request_count(self) -> int:
        """How many requests were received in all, kept in the log or not."""
        return self._app.log.received

    @property
    def status_counts(self) -> dict[int, int]:
        """How many finished requests got each HTTP status, kept in the log or not."""
        return dict(self._app.log.by_status)

    def requests_since(self, index: int) -> list[RequestRecord]:
        """The requests from ``index`` on (``request_count`` read before a phase); raises
        :class:`RequestLogTruncated` if the log dropped some of them."""
        return self._app.log.since(index)

    @property
    def message_requests(self) -> list[RequestRecord]:
        """The ``POST /v1/messages`` requests the log holds."""
        return [r for r in self._app.log if r.is_messages]

    def requests_matching(self, pattern: str | re.Pattern[str]) -> list[RequestRecord]:
        """Messages requests whose system prompt or any message contains ``pattern``."""
        return [r for r in self.message_requests if r.mentions(pattern)]

    def session_ids(self) -> list[str]:
        """The distinct Claude Code session ids seen, in order of first appearance."""
        return list(dict.fromkeys(r.session_id for r in self.requests if r.session_id))

    def cli_env(
        self, config_dir: str | os.PathLike[str], *, max_retries: int | None = 0
    ) -> dict[str, str]:
        """``cli_env`` for this server's base URL."""
        return cli_env(self.base_url, config_dir, max_retries=max_retries)


def _hypercorn_config(host: str, port: int) -> HypercornConfig:
    config = HypercornConfig()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None  # the request log replaces it
    config.errorlog = _log
    # Bun keeps connections open between turns; stay out of its way for a whole turn.
    config.keep_alive_timeout = 75
    return config


@asynccontextmanager
async def open_mock_api(
    config: MockAPIConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    on_request: Callable[[RequestRecord], object] | None = None,
    log_size: int = DEFAULT_LOG_SIZE,
    log_bytes: int = DEFAULT_LOG_BYTES,
) -> AsyncIterator[MockAnthropicServer]:
    """Serve a fake Messages API in the current trio run for the duration of the block.

    ``port=0`` picks a free port (read ``server.port`` / ``server.base_url``).
    ``on_request`` is called with each record once its response is finished.  The log
    (``server.requests``) keeps the last ``log_size`` requests within ``log_bytes`` of
    bodies; ``server.request_count`` counts them all.  Leaving the block closes the
    listener and every open connection at once.
    """
    bind_host = check_loopback(host)
    log = RequestLog(log_size, log_bytes)
    app = MockMessagesApp(config or MockAPIConfig(), on_request, log=log)
    try:
        async with trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(
                partial(serve, app, _hypercorn_config(bind_host, port), mode="asgi")
            )
            bound_port = int(binds[0].rsplit(":", 1)[1])
            try:
                yield MockAnthropicServer(app, bind_host, bound_port)
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The server task never fails on its own, so a lone error is the caller's: hand it
        # back as raised (KeyboardInterrupt, a failed assert) instead of inside a group.
        if len(group.exceptions) == 1 and not isinstance(group.exceptions[0], BaseExceptionGroup):
            raise group.exceptions[0] from None
        raise


def banner(server: MockAnthropicServer) -> str:
    """The start-up text: the base URL and the variables that point the CLI at it."""
    env = cli_env(server.base_url, "<an empty directory>")
    lines = [f"fake Anthropic Messages API listening on {server.base_url}", "export:"]
    lines += [f"  export {name}={value}" for name, value in env.items()]
    lines.append("and pass setting_sources=[] (SDK) so no user settings are read.")
    return "\n".join(lines)


async def serve_forever(
    config: MockAPIConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[MockAnthropicServer], object] | None = None,
    on_request: Callable[[RequestRecord], object] | None = None,
) -> None:
    """Run the fake API until cancelled or Ctrl-C: the body of ``swarm mock-api``.

    By default prints ``banner()`` once listening and one line per finished request;
    pass callbacks to send those elsewhere.  On SIGINT (main thread only) it closes the
    server, then raises a plain ``KeyboardInterrupt`` for the caller's exit code 130.
    """

    def print_ready(server: MockAnthropicServer) -> None:
        print(banner(server), flush=True)

    def print_request(record: RequestRecord) -> None:
        print(record.one_line(), flush=True)

    if threading.current_thread() is not threading.main_thread():
        async with open_mock_api(config, host, port, on_request=on_request or print_request) as s:
            (on_ready or print_ready)(s)
            await trio.sleep_forever()
    # Taking SIGINT as a message, rather than letting trio raise KeyboardInterrupt in
    # whichever server task runs, shuts down cleanly instead of in nested exception groups.
    with trio.open_signal_receiver(signal.SIGINT) as signals:
        async with open_mock_api(config, host, port, on_request=on_request or print_request) as s:
            (on_ready or print_ready)(s)
            async for _ in signals:
                break
    raise KeyboardInterrupt
