"""``--otel`` / ``--otel-content`` (and ``SWARM_OTEL=1``): the observers that trace a run
with OpenTelemetry, for ``run``, ``resume`` and ``fork``. The ``otel`` extra is imported only here,
only when asked for."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from ..errors import UsageError
from ..events import RunObserver

OtelOption = Annotated[
    bool,
    typer.Option(
        "--otel",
        help="Trace the run with OpenTelemetry (GenAI conventions) and record its metrics; "
        "OTEL_TRACES_EXPORTER=otlp (default) or console. Also: SWARM_OTEL=1. "
        "Needs: pip install 'swarm[otel]'.",
    ),
]
OtelContentOption = Annotated[
    bool,
    typer.Option(
        "--otel-content",
        help="Record message content in the spans (redacted; implies --otel).",
    ),
]

_TRUE = {"1", "true", "yes", "on"}


def otel_wanted(otel: bool, content: bool) -> bool:
    return otel or content or os.environ.get("SWARM_OTEL", "").strip().lower() in _TRUE


@contextmanager
def run_observers(
    otel: bool, content: bool, *, to_stderr: bool = False
) -> Iterator[tuple[RunObserver, ...]]:
    """The observers of a run (none unless tracing is asked for); on exit the spans and
    metrics still buffered are flushed. ``to_stderr``: console exporters print there
    (stdout holds the command's JSON)."""
    if not otel_wanted(otel, content):
        yield ()
        return
    try:
        from ..telemetry import telemetry_from_env
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("opentelemetry"):
            raise
        raise UsageError(
            "--otel needs OpenTelemetry, which is not installed: "
            "pip install 'swarm[otel]' (or unset SWARM_OTEL)"
        ) from None
    with telemetry_from_env(content=content, out=sys.stderr if to_stderr else None) as telemetry:
        yield telemetry.observers
