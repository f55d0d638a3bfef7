"""``swarm mock-api``: serve the fake Anthropic Messages API until Ctrl-C."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import trio
import typer

from ..mockapi import MockAPIConfig, serve_forever
from ._errors import EXIT_INTERRUPTED


def mock_api_config(
    rules: Path | None,
    *,
    ttft: float | None = None,
    tps: float | None = None,
    error_rate: float | None = None,
    seed: int | None = None,
    max_request_mb: float | None = None,
) -> MockAPIConfig:
    """The fake API's configuration: the rules file, with the flags given overriding it."""
    base = MockAPIConfig.from_file(rules) if rules is not None else MockAPIConfig()
    overrides: dict[str, Any] = {}
    if error_rate is not None:
        overrides["error_rate"] = error_rate
    if seed is not None:
        overrides["seed"] = seed
    if max_request_mb is not None:
        overrides["max_request_mb"] = max_request_mb
    latency = {k: v for k, v in (("ttft", ttft), ("tps", tps)) if v is not None}
    data = {**base.model_dump(), **overrides}
    data["latency"] = {**data["latency"], **latency}
    return MockAPIConfig.model_validate(data)  # flag values get the file's range checks


def mock_api(
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 0,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", help="YAML/JSON file: a list of reply rules, or a full config."),
    ] = None,
    ttft: Annotated[
        float | None, typer.Option("--ttft", min=0, help="Seconds to the first token.")
    ] = None,
    tps: Annotated[
        float | None, typer.Option("--tps", min=0, help="Output tokens per second.")
    ] = None,
    error_rate: Annotated[
        float | None,
        typer.Option("--error-rate", min=0, max=1, help="Fraction of requests failed (429/529)."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the error draws.")] = None,
    max_request_mb: Annotated[
        float | None,
        typer.Option(
            "--max-request-mb",
            help="Largest request body accepted (default 32, as the real API); a larger "
            "one gets a 413 request_too_large without being read.",
        ),
    ] = None,
) -> int:
    """Serve a fake Anthropic Messages API on loopback, for rehearsals and tests.

    Prints its base URL and the environment that points the Claude Code CLI (or
    the anthropic SDK) at it, then one line per request, until Ctrl-C.
    """
    if max_request_mb is not None and not (0 < max_request_mb < math.inf):
        raise typer.BadParameter(
            "expected a positive number of megabytes", param_hint="--max-request-mb"
        )
    config = mock_api_config(
        rules,
        ttft=ttft,
        tps=tps,
        error_rate=error_rate,
        seed=seed,
        max_request_mb=max_request_mb,
    )
    try:
        trio.run(serve_forever, config, host, port)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_INTERRUPTED
