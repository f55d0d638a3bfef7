"""Running ``git``: every operation of the workspace layer is a ``git`` subprocess, run with
``trio.run_process``, never a git of our own."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import WorkspaceError

#: Who commits an agent's change (the agent's id goes in the name).
AUTHOR_EMAIL = "swarm@localhost"


@dataclass(frozen=True, slots=True)
class GitResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def problem(self) -> str:
        """The line of git's complaint worth quoting (its last non-empty one)."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        lines = lines or [line.strip() for line in self.stdout.splitlines() if line.strip()]
        return lines[-1] if lines else f"git exited with status {self.returncode}"


def _environment(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    # Messages in one language (some are parsed), never a prompt for a password, and no
    # pager or editor: nobody is there to answer.
    env.update(
        LC_ALL="C",
        LANGUAGE="C",
        GIT_TERMINAL_PROMPT="0",
        GIT_PAGER="cat",
        GIT_EDITOR="true",
    )
    env.update(extra or {})
    return env


async def git(
    *args: str,
    cwd: str | Path,
    env: dict[str, str] | None = None,
    check: bool = True,
    what: str | None = None,
) -> GitResult:
    """Run ``git args`` in ``cwd``; with ``check``, a failure raises :class:`WorkspaceError`
    saying ``what`` was being done and git's own complaint."""
    import trio  # here, not with the module: reading a plan imports this layer, not trio

    program = shutil.which("git")
    if program is None:
        raise WorkspaceError("workspace: worktree needs git, and no `git` is on PATH")
    try:
        done = await trio.run_process(
            [program, *args],
            cwd=os.fspath(cwd),
            env=_environment(env),
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    except OSError as exc:  # the directory is gone, or git cannot be started
        raise WorkspaceError(f"{what or 'git ' + args[0]}: {exc.strerror or exc}") from None
    result = GitResult(
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )
    if check and not result.ok:
        raise WorkspaceError(f"{what or 'git ' + args[0]}: {result.problem()}")
    return result


# Sync helpers for the few file-system looks the layer takes (instant, local).
def is_dir(path: str | Path) -> bool:
    return Path(path).is_dir()


def real_path(path: str | os.PathLike[str]) -> Path:
    return Path(path).resolve()


def author_env(agent_id: str | None) -> dict[str, str]:
    """The author and committer of a commit swarm makes (for an agent, naming it)."""
    name = f"swarm agent {agent_id}" if agent_id else "swarm"
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL,
    }
