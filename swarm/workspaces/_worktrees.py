"""Worktree lifecycle: the repository a run works in, each agent's worktree and branch.

Every agent with ``workspace: worktree`` gets ``git worktree add`` of its own under
``<repo>/.swarm/worktrees/<run>/<agent>`` on branch ``swarm/<run>/<agent>``, started at
the run's base commit (HEAD when the run began, kept in its record) or, for a
``fork_from`` agent, at its parent agent's branch head. ``.swarm/`` is ignored through
the repository's ``.git/info/exclude``, never the user's ``.gitignore``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._names import SAFE_ID_RULE, is_safe_id
from ..errors import WorkspaceError, WorkspaceRefused
from ._changes import WorkspaceChange, commit_change, commit_message
from ._git import git, is_dir, real_path

if TYPE_CHECKING:
    import trio

#: Where swarm keeps its worktrees, relative to the repository's root.
WORKTREES_DIR = Path(".swarm") / "worktrees"
_EXCLUDE_LINE = "/.swarm/"
#: How many uncommitted paths a run record names (the count is always kept).
_UNCOMMITTED_SHOWN = 20


def branch_name(run_id: str, agent_id: str) -> str:
    return f"swarm/{run_id}/{agent_id}"


def merged_branch_name(run_id: str) -> str:
    return f"swarm/{run_id}/merged"


@dataclass(frozen=True, slots=True)
class RepoState:
    """The repository a run's agents work in, as the run found it when it began."""

    root: str
    base_commit: str
    uncommitted: tuple[str, ...] = ()  # the first few paths with uncommitted changes
    uncommitted_count: int = 0

    def warning(self) -> str | None:
        """What a user must know when the tree was dirty: it is not in the worktrees."""
        if not self.uncommitted_count:
            return None
        shown = ", ".join(self.uncommitted[:3]) + (", ..." if self.uncommitted_count > 3 else "")
        count = self.uncommitted_count
        return (
            f"{self.root} has uncommitted changes ({count} path{'s' if count != 1 else ''}: "
            f"{shown}); agents' worktrees start at HEAD ({self.base_commit[:12]}) without them"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "repository": self.root,
            "base_commit": self.base_commit,
            "uncommitted": list(self.uncommitted),
            "uncommitted_count": self.uncommitted_count,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RepoState:
        return cls(
            root=str(data["repository"]),
            base_commit=str(data["base_commit"]),
            uncommitted=tuple(data.get("uncommitted") or ()),
            uncommitted_count=int(data.get("uncommitted_count") or 0),
        )


async def inspect_repository(directory: str | os.PathLike[str]) -> RepoState:
    """The repository holding ``directory``, its HEAD and what is uncommitted in it; a
    :class:`WorkspaceRefused` when there is no repository or no commit yet."""
    where = real_path(directory)
    if not is_dir(where):
        raise WorkspaceRefused(
            f"workspace: worktree: {where} is not a directory; expected a directory inside "
            "a git repository"
        )
    top = await git("rev-parse", "--show-toplevel", cwd=where, check=False)
    if not top.ok:
        raise WorkspaceRefused(
            f"workspace: worktree needs a git repository, and {where} is not inside one "
            "(run `git init` and commit, or use workspace: shared)"
        )
    root = Path(top.stdout.strip())
    head = await git("rev-parse", "--verify", "-q", "HEAD^{commit}", cwd=root, check=False)
    if not head.ok:
        raise WorkspaceRefused(
            f"workspace: worktree: the repository {root} has no commit yet; agents' "
            "worktrees start at a commit: commit something first"
        )
    status = await git(
        "status", "--porcelain", "-z", "--untracked-files=all", cwd=root, what="git status"
    )
    paths = [entry[3:] for entry in status.stdout.split("\0") if len(entry) > 3]
    # Our own folder, before its exclude line exists, and the rename sources -z lists apart.
    paths = [p for p in paths if not p.startswith(".swarm/")]
    return RepoState(
        root=str(root),
        base_commit=head.stdout.strip(),
        uncommitted=tuple(paths[:_UNCOMMITTED_SHOWN]),
        uncommitted_count=len(paths),
    )


async def check_name(run_id: str, agent_id: str, root: str) -> None:
    """Refuse an id that would make an unsafe path or a branch git would not take."""
    for kind, value in (("run id", run_id), ("agent id", agent_id)):
        if not is_safe_id(value):
            raise WorkspaceRefused(
                f"workspace: worktree: {kind} {value!r} cannot name a branch or a folder; "
                + SAFE_ID_RULE
            )
    branch = branch_name(run_id, agent_id)
    checked = await git("check-ref-format", "--branch", branch, cwd=root, check=False)
    if not checked.ok:
        raise WorkspaceRefused(
            f"workspace: worktree: agent id {agent_id!r} makes branch {branch!r}, which git "
            "does not take (a name may not end in '.' or '.lock'); rename the agent"
        )


async def git_common_dir(root: str) -> Path:
    """The repository's ``.git`` folder, the one its worktrees share."""
    found = await git("rev-parse", "--git-common-dir", cwd=root, what="finding .git")
    common = Path(found.stdout.strip())
    return common if common.is_absolute() else Path(root) / common


@contextlib.asynccontextmanager
async def worktree_commands_lock(root: str) -> AsyncIterator[None]:
    """Held while git's worktree commands run in the repository at ``root``, by every
    process (two runs in one repository): an ``flock`` on a file in its ``.git``."""
    import fcntl

    import trio  # here: reading a plan imports this layer, not trio

    path = await git_common_dir(root) / "swarm-worktrees.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        await trio.to_thread.run_sync(fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


async def ensure_excluded(root: str) -> None:
    """``/.swarm/`` in the repository's ``info/exclude`` (shared by its worktrees)."""
    exclude = await git_common_dir(root) / "info" / "exclude"
    text = exclude.read_text() if exclude.exists() else ""
    if _EXCLUDE_LINE in text.splitlines():
        return
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a") as out:
        out.write(("" if not text or text.endswith("\n") else "\n") + _EXCLUDE_LINE + "\n")


async def existing_branches(root: str, prefix: str) -> set[str]:
    """The branch names under ``prefix`` (``swarm/<run>/``)."""
    listed = await git(
        "for-each-ref",
        "--format=%(refname:short)",
        f"refs/heads/{prefix}",
        cwd=root,
        what="listing branches",
    )
    return {line.strip() for line in listed.stdout.splitlines() if line.strip()}


class RunWorkspaces:
    """The worktrees of one run's agents in ``repo`` (see the module doc)."""

    def __init__(self, repo: RepoState, run_id: str) -> None:
        self.repo = repo
        self.run_id = run_id
        self.root = Path(repo.root)
        # git's worktree commands are not safe to run at once in one repository: an
        # `add` reads every entry under .git/worktrees, including one another `add` is
        # still writing ("failed to read .git/worktrees/<name>/commondir"), and a
        # `prune` may remove it. The agents of a run make theirs one at a time, and so do
        # two runs in one repository (:func:`worktree_commands_lock`).
        self._worktree_lock: trio.Lock | None = None

    def branch(self, agent_id: str) -> str:
        return branch_name(self.run_id, agent_id)

    def path(self, agent_id: str) -> Path:
        return self.root / WORKTREES_DIR / self.run_id / agent_id

    async def check_new_run(self, agent_ids: list[str]) -> None:
        """Before a new run writes anything: every name is safe and no branch exists."""
        for agent_id in agent_ids:
            await check_name(self.run_id, agent_id, self.repo.root)
        taken = await existing_branches(self.repo.root, f"swarm/{self.run_id}/")
        clash = sorted(taken & {self.branch(a) for a in agent_ids})
        if clash:
            raise WorkspaceRefused(
                f"workspace: worktree: branch {clash[0]} exists already in {self.repo.root}; "
                "swarm makes a new branch per agent: delete it (git branch -D) or run again "
                "(a new run id names new branches)"
            )

    async def open(self, agent_id: str, start: str, cwd: str | None) -> str:
        """The directory agent ``agent_id`` runs in: its worktree, made at ``start`` (or
        reused, as a resume finds it, with what it left uncommitted), plus the part of
        ``cwd`` below the repository's root."""
        await check_name(self.run_id, agent_id, self.repo.root)
        path = self.path(agent_id)
        branch = self.branch(agent_id)
        what = f"agent {agent_id}: making its worktree {path}"
        if not await _is_worktree_of(path, branch):
            if self._worktree_lock is None:
                import trio  # here: reading a plan imports this layer, not trio

                self._worktree_lock = trio.Lock()
            async with self._worktree_lock, worktree_commands_lock(self.repo.root):
                await self._add_worktree(path, branch, start, what)
        else:
            await _drop_stale_lock(path)
        return str(path / _below_root(self.root, cwd))

    async def _add_worktree(self, path: Path, branch: str, start: str, what: str) -> None:
        await ensure_excluded(self.repo.root)
        # A worktree deleted by hand leaves an entry that blocks adding it again.
        await git("worktree", "prune", cwd=self.root, what=what)
        path.parent.mkdir(parents=True, exist_ok=True)
        if branch in await existing_branches(self.repo.root, branch):
            # Resumed after its folder went: its branch, with what it committed, stays.
            await git("worktree", "add", "-q", str(path), branch, cwd=self.root, what=what)
        else:
            await git(
                "worktree", "add", "-q", "-b", branch, str(path), start, cwd=self.root, what=what
            )

    def directory_in(self, cwd: str | None) -> str:
        """Where ``cwd`` is below the repository's root; refused when it is outside."""
        return _below_root(self.root, cwd)

    async def close(
        self, agent_id: str, *, start: str, prompt: str, status: str
    ) -> WorkspaceChange:
        """Commit what the agent changed on its branch and describe it (the worktree is
        kept: ``swarm worktrees prune`` removes finished ones)."""
        return await commit_change(
            self.path(agent_id),
            branch=self.branch(agent_id),
            start=start,
            agent_id=agent_id,
            message=commit_message(self.run_id, agent_id, prompt, status),
        )


def _below_root(root: Path, cwd: str | None) -> str:
    if cwd is None:
        return "."
    where = Path(cwd).resolve()
    try:
        return str(where.relative_to(root))
    except ValueError:
        raise WorkspaceRefused(
            f"workspace: worktree: cwd {cwd} is outside the repository {root}; an agent "
            "in a worktree works inside the run's repository"
        ) from None


async def _drop_stale_lock(worktree: Path) -> None:
    """A worktree reused on resume may hold the index lock of a git killed with its run
    (kill -9 mid-commit); only this run's holder of the lease works in it, so it is stale."""
    found = await git("rev-parse", "--git-path", "index.lock", cwd=worktree, check=False)
    if found.ok:
        lock = Path(found.stdout.strip())
        _unlink(lock if lock.is_absolute() else worktree / lock)


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


async def _is_worktree_of(path: Path, branch: str) -> bool:
    if not (path / ".git").exists():
        return False
    on = await git("symbolic-ref", "-q", "--short", "HEAD", cwd=path, check=False)
    if on.ok and on.stdout.strip() == branch:
        return True
    raise WorkspaceError(
        f"{path} is not the worktree of branch {branch} (it is on "
        f"{on.stdout.strip() or 'a detached HEAD'}); move it away and resume again"
    )
