"""Rehearsing a plan for free: real Claude Code sessions against the bundled fake API.

``open_rehearsal()`` serves :mod:`swarm.mockapi` on loopback inside the current
trio run and yields the environment that points every Claude Code CLI at it,
with a throwaway config dir so no user settings, credentials or transcripts are
touched; :func:`open_backend` builds a plan's backend inside one.

A rehearsed run says so in its record (``RunRecord.rehearsal``: the fake API's
script, :meth:`RehearsalSetup.record`), so a resume or a fork can rehearse it again
and the listings never show it as a billed run (the CLI's choices: ``swarm.cli``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio
from pydantic import ValidationError

from .._log import get_logger
from .._scratch import cache_folder, scratch_dir
from ..errors import UsageError, failure_reason
from ..stores import Store
from ._entry import BackendConfig
from ._protocol import Backend
from ._registry import create_backend

if TYPE_CHECKING:
    from ..mockapi import MockAnthropicServer, MockAPIConfig

# The fake API (swarm.mockapi) is imported by the functions that serve or read one, so
# importing the backends (and swarm) never loads it.

log = get_logger("swarm.rehearsal")

#: Runtime settings for every rehearsal CLI process, on top of :func:`swarm.mockapi.cli_env`.
#: ``BUN_GC_TIMER_DISABLE`` turns off Bun's repeating idle-GC timer, whose collections
#: only hand memory back while a process waits; JSC still collects as the heap grows.
#: A rehearsal CLI lives for a few turns, so that work is wasted, and with several
#: CLIs starting at once on few cores it is CPU taken from their start-up: on 2 cores,
#: 6 parallel forks used ~0.82 s of CPU each with the timer, ~0.63 s without, and a
#: lone fork ~0.61 s against ~0.55 s. The requests the API sees are the same (ids aside).
REHEARSAL_CLI_ENV: Mapping[str, str] = {"BUN_GC_TIMER_DISABLE": "1"}


class RecordedRehearsalInvalid(UsageError):
    """The fake API's script recorded with a run no longer validates (another version of
    swarm wrote it): the caller must give the script again."""


@dataclass(frozen=True, slots=True)
class Rehearsal:
    """A running fake API and the CLI environment that uses it."""

    server: MockAnthropicServer
    config_dir: Path
    env: Mapping[str, str]


def rehearsal_config(plan_options: Mapping[str, Any], path: Path | None = None) -> MockAPIConfig:
    """The fake API's script: ``--rehearse-config FILE``, else ``backend.options.rehearsal``."""
    from ..mockapi import MockAPIConfig

    if path is not None:
        return MockAPIConfig.from_file(path)
    return MockAPIConfig.model_validate(plan_options.get("rehearsal") or {})


@dataclass(frozen=True, slots=True)
class RehearsalSetup:
    """How a run is rehearsed: the fake API's script, and the file it came from (if any)."""

    config: MockAPIConfig
    config_file: str | None = None

    @classmethod
    def of_plan(cls, plan_options: Mapping[str, Any], path: Path | None = None) -> RehearsalSetup:
        """``--rehearse-config FILE``, else the plan's ``backend.options.rehearsal``."""
        return cls(rehearsal_config(plan_options, path), str(path) if path is not None else None)

    def record(self) -> dict[str, Any]:
        """What ``RunRecord.rehearsal`` keeps: the script itself, as the file may change."""
        config = self.config.model_dump(mode="json", exclude_defaults=True)
        return {"config": config, "config_file": self.config_file}

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> RehearsalSetup:
        from ..mockapi import MockAPIConfig

        try:
            config = MockAPIConfig.model_validate(data.get("config") or {})
        except ValidationError as exc:
            raise RecordedRehearsalInvalid(
                f"the rehearsal recorded with this run no longer validates "
                f"({exc.error_count()} errors)"
            ) from None
        file = data.get("config_file")
        return cls(config, file if isinstance(file, str) else None)


@asynccontextmanager
async def open_rehearsal(
    config: MockAPIConfig | None = None, config_dir: Path | None = None
) -> AsyncIterator[Rehearsal]:
    """Serve the fake API and yield the environment for the CLI; clean up on exit.

    Without ``config_dir`` a temporary one is made in this process's scratch folder
    (:mod:`swarm._scratch`) and removed afterwards (the transcripts live on in the
    store through the session-store mirror); a kill -9 leaves it to the next sweep.
    """
    with scratch_dir() as scratch:
        owned = config_dir is None
        home = Path(tempfile.mkdtemp(prefix="rehearsal-", dir=scratch)) if owned else config_dir
        assert home is not None
        try:
            from ..mockapi import MockAPIConfig, cli_env, open_mock_api

            async with open_mock_api(config or MockAPIConfig()) as server:
                env = {**cli_env(server.base_url, home), **REHEARSAL_CLI_ENV}
                yield Rehearsal(server, home, env)
        finally:
            if owned:
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(lambda: shutil.rmtree(home, ignore_errors=True))


@asynccontextmanager
async def maybe_rehearsal(
    config: MockAPIConfig | None, config_dir: Path | None = None
) -> AsyncIterator[Mapping[str, str] | None]:
    """The CLI environment of a rehearsal when ``config`` is given, else ``None``."""
    if config is None:
        yield None
        return
    async with open_rehearsal(config, config_dir) as rehearsal:
        yield rehearsal.env


def kept_transcripts_home(spec: BackendConfig) -> Path | None:
    """The config dir that outlives a rehearsal whose transcripts stay on local disk.

    With ``session_store: false`` the store mirrors no transcript, so continuing a
    session after a kill, or forking one later, needs Claude Code's own files: such a
    rehearsal keeps them where Claude Code keeps a user's, in one config dir of its own
    that stays (``<cache>/rehearsal``), not in a throwaway one. ``None`` otherwise.
    """
    if spec.options.get("session_store", True) is not False:
        return None
    return cache_folder("rehearsal")


@asynccontextmanager
async def open_backend(
    spec: BackendConfig, store: Store, name: str | None, rehearsal: RehearsalSetup | None
) -> AsyncIterator[Backend]:
    """The backend a plan (or ``name``) picks, closed on exit. With ``rehearsal``, its
    Claude Code CLIs talk to a fake API served for the block (the executor records the
    run as a rehearsal: ``ExecutorOptions(rehearsal=setup.record())``)."""
    home = kept_transcripts_home(spec) if rehearsal is not None else None
    async with maybe_rehearsal(rehearsal.config if rehearsal else None, home) as env:
        backend = create_backend(spec, store, name, cli_env=env)
        try:
            yield backend
        finally:
            with trio.CancelScope(shield=True):
                try:
                    await backend.aclose()
                except Exception as exc:  # the run is over and recorded: say so, go on
                    log.warning("backend.close_failed", error=failure_reason(exc))
