"""The dashboard's web application: server-rendered pages, Server-Sent Events that push a
page's live part when the store changes, and the security every response passes.

Read-only by construction: the store it is given was opened read-only, and only GET
and HEAD exist. Every piece of text is escaped by the templates (autoescape on), ids
in URLs are path-escaped, and a strict Content-Security-Policy allows no inline
script or style, so a message that holds ``<script>`` or a ``javascript:`` link shows
as text.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import jinja2
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import NotFoundError, StoreError, SwarmError, UsageError
from ..stores import Store
from ._views import run_fingerprint, run_page, runs_fingerprint, runs_page, session_page

HERE = Path(__file__).parent
#: How often a live page's store is read for changes.
POLL_S = 0.5
TOKEN_COOKIE = "swarm_ui_token"
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["u"] = lambda value: quote(str(value), safe="")
    env.filters["usd"] = lambda value: f"${float(value or 0):.4f}"
    env.filters["secs"] = lambda value: "" if value is None else f"{float(value):.1f}s"
    env.filters["short"] = lambda value, n=12: "" if value is None else str(value)[:n]
    env.filters["num"] = lambda value: f"{int(value or 0):,}"
    # an agent that has not started waits in the queue: the dashboard says so
    env.filters["state"] = lambda status: "queued" if status == "pending" else str(status)
    return env


class Security:
    """Every request: GET/HEAD only; the Host a browser sent is this server's (no DNS
    rebinding); the token, when one is set (query ``token`` once, then a cookie),
    compared in constant time; and the security headers on every response."""

    def __init__(self, app: ASGIApp, *, token: str | None, loopback: bool) -> None:
        self.app = app
        self.token = token
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        set_cookie = False
        if scope["method"] not in ("GET", "HEAD"):
            refused = _plain(405, "read-only: only GET and HEAD")
            refused.headers["allow"] = "GET, HEAD"
            response: Response | None = refused
        elif self.loopback and _host_name(request) not in LOOPBACK_NAMES:
            response = _plain(403, "this dashboard answers on its loopback address only")
        elif self.token is not None:
            offered = parse_qs(scope.get("query_string", b"").decode()).get("token", [None])[0]
            by_query = offered is not None and _same(offered, self.token)
            by_cookie = _same(request.cookies.get(TOKEN_COOKIE), self.token)
            response = None if by_query or by_cookie else _plain(401, "a valid token is needed")
            set_cookie = by_query and not by_cookie
        else:
            response = None
        extra = list(SECURITY_HEADERS)
        if set_cookie and self.token is not None:
            cookie = f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
            extra.append((b"set-cookie", cookie.encode()))

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if response is not None:
            await response(scope, receive, send_secured)
        else:
            await self.app(scope, receive, send_secured)


def _same(offered: str | None, token: str) -> bool:
    return offered is not None and hmac.compare_digest(offered.encode(), token.encode())


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status_code=status, media_type="text/plain")


def create_app(
    store: Store, *, token: str | None = None, loopback: bool = True, poll_s: float = POLL_S
) -> ASGIApp:
    """The dashboard over ``store`` (open it read-only); ``token``: required of every
    request (set it whenever the server listens beyond loopback)."""
    templates = _templates()

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**context), status_code=status)

    def page(handler: Callable[[Request], Awaitable[Response]]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except NotFoundError as exc:
                return render("error.html", 404, title="not found", message=str(exc))
            except UsageError as exc:
                return render("error.html", 400, title="bad request", message=str(exc))
            except StoreError as exc:
                return render("error.html", 503, title="store unavailable", message=str(exc))

        return endpoint

    async def runs(request: Request) -> Response:
        rows, damaged = await runs_page(store)
        return render("runs.html", rows=rows, damaged=damaged, live=True)

    async def run(request: Request) -> Response:
        view = await run_page(store, request.path_params["run_id"])
        return render("run.html", page=view)

    async def session(request: Request) -> Response:
        a, b = request.query_params.get("a"), request.query_params.get("b")
        view = await session_page(store, request.path_params["session_id"], a, b)
        return render("session.html", page=view)

    def stream(
        fingerprint: Callable[[], Awaitable[str]], fragment: Callable[[], Awaitable[str]]
    ) -> StreamingResponse:
        async def events() -> AsyncIterator[str]:
            seen = None
            yield "retry: 1000\n\n"
            while True:
                try:
                    now = await fingerprint()
                    if now != seen:
                        seen = now
                        html = await fragment()
                        yield (
                            "event: refresh\n"
                            + "".join(f"data: {line}\n" for line in html.splitlines())
                            + "\n"
                        )
                except SwarmError as exc:  # the store is busy or the run went: say so, go on
                    yield f"event: problem\ndata: {' '.join(str(exc).split())}\n\n"
                await trio.sleep(poll_s)

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"x-accel-buffering": "no"}
        )

    async def runs_stream(request: Request) -> Response:
        async def fragment() -> str:
            rows, damaged = await runs_page(store)
            return templates.get_template("_runs_live.html").render(rows=rows, damaged=damaged)

        return stream(lambda: runs_fingerprint(store), fragment)

    async def run_stream(request: Request) -> Response:
        ref = request.path_params["run_id"]
        await run_fingerprint(store, ref)  # an unknown run is a 404, not an endless stream

        async def fragment() -> str:
            view = await run_page(store, ref)
            return templates.get_template("_run_live.html").render(page=view)

        return stream(lambda: run_fingerprint(store, ref), fragment)

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [
        Route("/", page(runs), methods=["GET", "HEAD"]),
        Route("/favicon.ico", no_icon, methods=["GET", "HEAD"]),
        Route("/stream", page(runs_stream), methods=["GET", "HEAD"]),
        Route("/runs/{run_id}", page(run), methods=["GET", "HEAD"]),
        Route("/runs/{run_id}/stream", page(run_stream), methods=["GET", "HEAD"]),
        Route("/sessions/{session_id}", page(session), methods=["GET", "HEAD"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Security(Starlette(routes=routes), token=token, loopback=loopback)
