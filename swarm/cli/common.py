"""Pieces the commands share: store resolution, JSON output, run lookup."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import NotFoundError, UsageError
from ..plan import default_config_path, is_safe_id, load_config
from ..records import RunRecord
from ..stores import DEFAULT_STORE_URL
from ..stores.base import Store

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL (sqlite:///sessions/swarm.db, memory://). "
        "Default: $SWARM_STORE, then configs/default.yaml, then sqlite:///sessions/swarm.db.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def store_url(explicit: str | None, config_path: Path | None = None) -> str:
    """The store a command reads or writes when the user names none."""
    if explicit:
        return explicit
    if os.environ.get("SWARM_STORE"):
        return os.environ["SWARM_STORE"]
    path = config_path or default_config_path()
    if path is not None:
        data, _, _ = load_config(path)
        url = (data.get("store") or {}).get("url")
        if isinstance(url, str) and url:
            return url
    return DEFAULT_STORE_URL


def print_json(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


async def find_run(store: Store, ref: str) -> RunRecord:
    """A run by id, unique id prefix, or ``latest``."""
    if ref != "latest" and not is_safe_id(ref):
        raise UsageError(
            f"{ref!r} is not a run id: expected letters, digits, '_', '.' or '-' "
            "(at most 64, no '..'), a unique prefix of one, or 'latest'"
        )
    if ref == "latest":
        runs = await store.list_runs(limit=1)
        if not runs:
            raise NotFoundError("the store has no runs yet")
        return runs[0]
    run = await store.get_run(ref)
    if run is not None:
        return run
    matches = [r for r in await store.list_runs() if r.run_id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(f"no run {ref!r} in the store (see `swarm runs list`)")
    ids = ", ".join(r.run_id for r in matches[:5])
    raise NotFoundError(f"run prefix {ref!r} is ambiguous: {ids}")


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"
