"""Serving the dashboard: the store opened read-only, hypercorn (which swarm already
ships) on trio, loopback unless told otherwise, and then only with a token."""

from __future__ import annotations

import ipaddress
import logging
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from ..stores import open_store
from ._app import create_app

_log = logging.getLogger("swarm.ui")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


async def serve_dashboard(
    store_url: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    on_ready: Callable[[str], object] | None = None,
) -> None:
    """Serve the dashboard over the store at ``store_url`` until cancelled; ``on_ready``
    is called with the URL to open (the token in it, when there is one). A host other
    than loopback gets a token whether or not one is given."""
    loopback = is_loopback(host)
    if not loopback and token is None:
        token = new_token()
    async with open_store(store_url, read_only=True) as store:
        app = create_app(store, token=token, loopback=loopback)
        config = HypercornConfig()
        config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
        config.accesslog = None
        config.errorlog = _log
        async with trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(
                partial(serve, cast(Any, app), config, mode="asgi")
            )
            bound_port = int(binds[0].rsplit(":", 1)[1])
            shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            shown = f"[{shown}]" if ":" in shown else shown
            url = f"http://{shown}:{bound_port}/"
            if token is not None:
                url += f"?token={token}"
            if on_ready is not None:
                on_ready(url)
