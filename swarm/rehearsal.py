"""Rehearsing a plan for free: real Claude Code sessions against the bundled fake API.

``open_rehearsal()`` serves :mod:`swarm.mockapi` on loopback inside the current
trio run and yields the environment that points every Claude Code CLI at it,
with a throwaway config dir so no user settings, credentials or transcripts are
touched. ``swarm run PLAN --backend claude --rehearse`` runs a plan inside it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from .errors import UsageError
from .mockapi import MockAnthropicServer, MockAPIConfig, cli_env, open_mock_api

#: Runtime settings for every rehearsal CLI process, on top of :func:`swarm.mockapi.cli_env`.
#: ``BUN_GC_TIMER_DISABLE`` turns off Bun's repeating idle-GC timer, whose collections
#: only hand memory back while a process waits; JSC still collects as the heap grows.
#: A rehearsal CLI lives for a few turns, so that work is wasted, and with several
#: CLIs starting at once on few cores it is CPU taken from their start-up: on 2 cores,
#: 6 parallel forks used ~0.82 s of CPU each with the timer, ~0.63 s without, and a
#: lone fork ~0.61 s against ~0.55 s. The requests the API sees are the same (ids aside).
REHEARSAL_CLI_ENV: Mapping[str, str] = {"BUN_GC_TIMER_DISABLE": "1"}


@dataclass(frozen=True, slots=True)
class Rehearsal:
    """A running fake API and the CLI environment that uses it."""

    server: MockAnthropicServer
    config_dir: Path
    env: Mapping[str, str]


def rehearsal_config(plan_options: Mapping[str, Any], path: Path | None = None) -> MockAPIConfig:
    """The fake API's script: ``--rehearse-config FILE``, else ``backend.options.rehearsal``."""
    if path is not None:
        return MockAPIConfig.from_file(path)
    return MockAPIConfig.model_validate(plan_options.get("rehearsal") or {})


@asynccontextmanager
async def open_rehearsal(
    config: MockAPIConfig | None = None, config_dir: Path | None = None
) -> AsyncIterator[Rehearsal]:
    """Serve the fake API and yield the environment for the CLI; clean up on exit.

    Without ``config_dir`` a temporary one is made and removed afterwards (the
    transcripts live on in the store through the session-store mirror).
    """
    owned = config_dir is None
    home = Path(tempfile.mkdtemp(prefix="swarm-rehearsal-")) if config_dir is None else config_dir
    try:
        async with open_mock_api(config or MockAPIConfig()) as server:
            env = {**cli_env(server.base_url, home), **REHEARSAL_CLI_ENV}
            yield Rehearsal(server, home, env)
    finally:
        if owned:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(lambda: shutil.rmtree(home, ignore_errors=True))


@asynccontextmanager
async def maybe_rehearsal(config: MockAPIConfig | None) -> AsyncIterator[Mapping[str, str] | None]:
    """The CLI environment of a rehearsal when ``config`` is given, else ``None``."""
    if config is None:
        yield None
        return
    async with open_rehearsal(config) as rehearsal:
        yield rehearsal.env


def rehearsal_backend(requested: str | None) -> str:
    """``--rehearse`` drives the ``claude`` backend; any other named one is a usage error."""
    if requested not in (None, "claude"):
        raise UsageError(
            f"--rehearse runs real Claude Code sessions against the fake API, so it needs "
            f"--backend claude (got --backend {requested})"
        )
    return "claude"
