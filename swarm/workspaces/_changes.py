"""An agent's change: whatever it left in its worktree, committed on its branch, and what
the store keeps of it (commit id, files, diff stat, patch)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .._redaction import redact_text
from ..errors import WorkspaceError
from ._git import author_env, git, is_dir

#: The most of a patch the store keeps (bytes of UTF-8). The commit holds all of it: a
#: longer patch is cut here, marked ``patch_truncated``, and read whole from git.
PATCH_CAP_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class WorkspaceChange:
    """What one agent changed, as the store keeps it: ``commit`` is None when it changed
    nothing (``start`` is then its branch's head)."""

    branch: str
    worktree: str
    start: str  # the commit its worktree started at (the base's, or its parent agent's)
    commit: str | None = None
    files: tuple[str, ...] = ()
    diff_stat: str = ""
    patch: str | None = None  # None in the agent's record; the final checkpoint has it
    patch_bytes: int = 0
    patch_truncated: bool = False

    @property
    def changed(self) -> bool:
        return self.commit is not None

    @property
    def head(self) -> str:
        """Where its branch ends: its commit, or where it started."""
        return self.commit or self.start

    def summary(self) -> WorkspaceChange:
        """The change without its patch (what the agent's record keeps)."""
        return replace(self, patch=None)

    def describe(self) -> str:
        if self.commit is None:
            return f"no change (branch {self.branch})"
        files = len(self.files)
        return (
            f"{files} file{'s' if files != 1 else ''} changed, {self.commit[:12]} on {self.branch}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "worktree": self.worktree,
            "start": self.start,
            "commit": self.commit,
            "files": list(self.files),
            "diff_stat": self.diff_stat,
            "patch": self.patch,
            "patch_bytes": self.patch_bytes,
            "patch_truncated": self.patch_truncated,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkspaceChange:
        return cls(
            branch=str(data["branch"]),
            worktree=str(data.get("worktree") or ""),
            start=str(data["start"]),
            commit=data.get("commit"),
            files=tuple(data.get("files") or ()),
            diff_stat=str(data.get("diff_stat") or ""),
            patch=data.get("patch"),
            patch_bytes=int(data.get("patch_bytes") or 0),
            patch_truncated=bool(data.get("patch_truncated")),
        )


def commit_message(run_id: str, agent_id: str, prompt: str, status: str) -> str:
    """``swarm run R, agent A (succeeded): first line of its prompt`` (redacted)."""
    first = redact_text(prompt).strip().splitlines()[0] if prompt.strip() else ""
    if len(first) > 120:
        first = first[:117] + "..."
    subject = f"swarm run {run_id}, agent {agent_id} ({status})"
    return f"{subject}: {first}" if first else subject


async def commit_change(
    worktree: Path,
    *,
    branch: str,
    start: str,
    agent_id: str,
    message: str,
) -> WorkspaceChange:
    """Commit whatever is in ``worktree`` (added, changed, deleted) on its branch, then
    describe everything the branch holds since ``start``: a resumed agent's earlier
    commit counts, and nothing is committed twice (a clean tree makes no commit)."""
    if not is_dir(worktree):
        head = await _branch_head(worktree.parent, branch)
        raise WorkspaceError(
            f"agent {agent_id}: its worktree {worktree} is gone (deleted while it ran?): "
            f"what it had not committed is lost; its branch {branch} is kept"
            + (f" at {head[:12]}" if head else "")
        )
    what = f"agent {agent_id}: committing its change on {branch}"
    kept = f"; the change is still in its worktree {worktree}, uncommitted"
    added = await git("add", "-A", cwd=worktree, check=False)
    if not added.ok:
        raise WorkspaceError(f"{what}: {added.problem()}{kept}")
    staged = await git("diff", "--cached", "--quiet", cwd=worktree, check=False)
    if staged.returncode == 1:
        made = await git(
            "commit",
            "-q",
            "--no-verify",
            "-m",
            message,
            cwd=worktree,
            env=author_env(agent_id),
            check=False,
        )
        if not made.ok:
            raise WorkspaceError(f"{what}: {made.problem()}{kept}")
    elif not staged.ok:
        raise WorkspaceError(f"{what}: {staged.problem()}{kept}")
    head = (await git("rev-parse", "HEAD", cwd=worktree, what=what)).stdout.strip()
    change = WorkspaceChange(branch=branch, worktree=str(worktree), start=start)
    if head == start:
        return change
    return await describe_range(worktree, change, head)


async def describe_range(cwd: Path, change: WorkspaceChange, head: str) -> WorkspaceChange:
    """``change`` with the files, diff stat and (capped) patch of ``start..head``."""
    span = f"{change.start}..{head}"
    what = f"reading the change {span}"
    files = (await git("diff", "--name-only", "-z", span, cwd=cwd, what=what)).stdout
    stat = (await git("diff", "--stat=100", span, cwd=cwd, what=what)).stdout
    patch = (await git("diff", "--binary", span, cwd=cwd, what=what)).stdout
    encoded = patch.encode()
    truncated = len(encoded) > PATCH_CAP_BYTES
    kept = encoded[:PATCH_CAP_BYTES].decode("utf-8", "ignore") if truncated else patch
    return replace(
        change,
        commit=head,
        files=tuple(name for name in files.split("\0") if name),
        diff_stat=stat.rstrip("\n"),
        patch=kept,
        patch_bytes=len(encoded),
        patch_truncated=truncated,
    )


async def _branch_head(cwd: Path, branch: str) -> str | None:
    while not is_dir(cwd) and cwd != cwd.parent:
        cwd = cwd.parent
    found = await git("rev-parse", "--verify", "-q", f"refs/heads/{branch}", cwd=cwd, check=False)
    return found.stdout.strip() or None
