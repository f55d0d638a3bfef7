"""``swarm ui``: the local, read-only web dashboard over a store (the ``ui`` extra)."""

from __future__ import annotations

import sys
import webbrowser
from pathlib import Path
from typing import Annotated

import trio
import typer

from .._redaction import mask_url
from ..errors import UsageError
from ..stores import sqlite_path
from ._common import store_url
from ._errors import EXIT_OK
from ._options import StoreOption

#: How often a store that does not exist yet is looked for.
WAIT_FOR_STORE_S = 0.5


def ui(
    store: StoreOption = None,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on (default 127.0.0.1). Any other than loopback "
            "requires the token printed at start.",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port (default: a free one).")
    ] = 0,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the dashboard in a web browser.")
    ] = False,
) -> int:
    """Serve a read-only dashboard of the store's runs: live agents, timeline, lineage,
    sessions. It follows runs in progress in other processes."""
    try:
        from ..ui import is_loopback, serve_dashboard
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("starlette", "jinja2", "markupsafe"):
            raise
        raise UsageError(
            "swarm ui needs the dashboard's packages, which are not installed: "
            "pip install 'swarm[ui]'"
        ) from None
    url = store_url(store)
    path = sqlite_path(url)
    if path is None:
        raise UsageError(
            f"--store {url}: a memory store lives only inside the process that runs it; "
            "expected a SQLite store (sqlite:///path/to/swarm.db)"
        )

    def ready(address: str) -> None:
        print(f"swarm ui: {mask_url(url)} at {address}", flush=True)
        if not is_loopback(host):
            print(f"listening on {host} too: every request needs the token above", flush=True)
        print("read-only; Ctrl-C to stop", flush=True)
        if open_browser:
            webbrowser.open(address)

    async def main() -> None:
        await _wait_for(path)
        await serve_dashboard(url, host=host, port=port, on_ready=ready)

    try:
        trio.run(main)
    except KeyboardInterrupt:
        print("swarm ui: stopped", file=sys.stderr)
    return EXIT_OK


async def _wait_for(path: Path) -> None:
    """A store that does not exist yet is made by the first run: wait for it."""
    store = trio.Path(path)
    if await store.exists():
        return
    print(f"swarm ui: no store at {path} yet; waiting for a run to create it", flush=True)
    # another process creates it: nothing here can signal that, so look again and again
    while not await store.exists():  # noqa: ASYNC110
        await trio.sleep(WAIT_FOR_STORE_S)
