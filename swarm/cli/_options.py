"""The options several commands take, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL (sqlite:///sessions/swarm.db, memory://). "
        "Default: $SWARM_STORE, then configs/default.yaml, then sqlite:///sessions/swarm.db.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
RehearseConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--rehearse-config",
        help="Rules/latency/errors file of the fake API (see `swarm mock-api --help`; "
        "implies --rehearse).",
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Configuration merged under the plan (default: ./configs/default.yaml, "
        "else the one packaged with swarm).",
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress, one summary line.")]


def progress_mode(*, as_json: bool, quiet: bool, tty: bool) -> str:
    """How a run shows its progress: not at all (JSON or one summary line), live in a
    terminal, else plain lines."""
    return "none" if (as_json or quiet) else ("live" if tty else "plain")
