"""The options several commands take, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL (sqlite:///sessions/swarm.db, memory://, "
        "postgresql://user@host/db). "
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
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="Where agents run: local, or dask (a Dask cluster; needs swarm[distributed]). "
        "Default: the plan's execution.engine.",
    ),
]
DaskAddressOption = Annotated[
    str | None,
    typer.Option(
        "--dask-address",
        help="A running Dask scheduler (tcp://host:8786); implies --engine dask. Default: "
        "the plan's execution.dask.address, else a LocalCluster started for the run.",
    ),
]


def engine_choice(engine: str | None, dask_address: str | None) -> str | None:
    """The engine ``--engine`` and ``--dask-address`` pick (None: the plan's)."""
    if engine is not None and engine not in ("local", "dask"):
        raise typer.BadParameter("expected local or dask", param_hint="--engine")
    if dask_address is not None:
        if not dask_address.strip():
            raise typer.BadParameter("expected a scheduler address", param_hint="--dask-address")
        if engine == "local":
            raise typer.BadParameter(
                "--dask-address names a Dask scheduler; it needs --engine dask",
                param_hint="--engine",
            )
        return "dask"
    return engine


QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress, one summary line.")]


def progress_mode(*, as_json: bool, quiet: bool, tty: bool) -> str:
    """How a run shows its progress: not at all (JSON or one summary line), live in a
    terminal, else plain lines."""
    return "none" if (as_json or quiet) else ("live" if tty else "plain")
