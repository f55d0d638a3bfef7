"""Session metadata: where and with what a session ran (cwd, git, model, versions).

Git is asked through a subprocess on a worker thread, once per working
directory per run, and its absence (no git, not a repository, no commit yet)
simply leaves the git fields out.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Mapping
from importlib import metadata as importlib_metadata
from typing import Any

import trio

from .._version import __version__

GIT_TIMEOUT_S = 5.0


@functools.cache
def swarm_version() -> str:
    """The installed swarm version (the package's own when it is not installed)."""
    try:
        return importlib_metadata.version("swarm")
    except importlib_metadata.PackageNotFoundError:
        return __version__


def _git_sync(cwd: str) -> dict[str, str]:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD", "--abbrev-ref", "HEAD"],  # commit, then branch
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git, no such directory, too slow
        return {}
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 2:
        return {}  # not a repository, or one without a commit yet
    commit, branch = lines
    return {"git_branch": branch, "git_commit": commit}


async def git_state(cwd: str) -> dict[str, str]:
    """``git_branch`` and ``git_commit`` of the repository at ``cwd``; empty when there is none."""
    return await trio.to_thread.run_sync(_git_sync, cwd, abandon_on_cancel=True)


def _absolute(cwd: str | None) -> str:
    return os.path.abspath(cwd or os.getcwd())


class SessionDescriber:
    """Builds the metadata recorded with each session of a run.

    Keys: ``cwd``, ``model``, ``swarm_version``, ``git_branch`` and ``git_commit``
    (with ``git=True``, in a repository), ``cli_version`` when the backend
    reports one (as ``cli_version`` or ``claude_code_version``), plus whatever
    else the backend reported; the backend's values win.
    """

    def __init__(self, *, git: bool) -> None:
        self.git = git
        self._git: dict[str, dict[str, str]] = {}
        self._lock = trio.Lock()
        # Resolved once per run: a run's sessions all start from the same directory.
        self._absolute: dict[str | None, str] = {}

    async def describe(
        self, *, cwd: str | None, model: str | None, reported: Mapping[str, Any]
    ) -> dict[str, Any]:
        where = self._absolute.get(cwd)
        if where is None:
            where = self._absolute[cwd] = _absolute(cwd)
        described: dict[str, Any] = {"cwd": where, "swarm_version": swarm_version()}
        if model is not None:
            described["model"] = model
        if self.git:
            if where not in self._git:  # known after the first: no lock, no yield
                async with self._lock:  # one git call per directory, however many agents
                    if where not in self._git:
                        self._git[where] = await git_state(where)
            described.update(self._git[where])
        described.update(reported)
        if "cli_version" not in described and "claude_code_version" in reported:
            described["cli_version"] = reported["claude_code_version"]  # the claude backend's
        return described
