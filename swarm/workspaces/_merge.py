"""Bringing agents' branches together (``swarm merge``).

Each agent's change is checked before it is made (``git merge-tree --write-tree``
computes the merged tree, or the conflicting files, without touching any work tree or
index), and made with ``git commit-tree``: no merge ever runs in a checkout, so no
repository is ever left mid-merge, and the target branch moves once, at the end, with
``git update-ref`` checked against the head it started from (a checked-out target, when
asked for, by a fast-forward in its checkout). ``cherry-pick`` applies
only an agent's own commits (not a ``fork_from`` parent's) to a temporary index of
swarm's own. An agent whose change conflicts is left out and reported with its files.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from ..errors import Remedy, WorkspaceRefused
from ._changes import WorkspaceChange
from ._git import author_env, git
from ._worktrees import merged_branch_name

Strategy = Literal["merge", "squash", "cherry-pick"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)


@dataclass(frozen=True, slots=True)
class MergeStep:
    """What became of one agent's branch: merged, conflict, no change, already in."""

    agent_id: str
    branch: str
    outcome: str
    conflicts: tuple[str, ...] = ()
    commit: str | None = None  # the commit made for it on the target (None: none)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "branch": self.branch,
            "outcome": self.outcome,
            "conflicts": list(self.conflicts),
            "commit": self.commit,
        }


@dataclass(frozen=True, slots=True)
class MergeReport:
    target: str
    created: bool  # a new branch (the default), not an existing one (``into``)
    strategy: str
    dry_run: bool
    start: str  # the target's head before
    head: str  # the target's head after (what it would be, for a dry run)
    steps: list[MergeStep] = field(default_factory=list)
    checkout_updated: str | None = None  # the worktree fast-forwarded, when asked

    @property
    def merged(self) -> list[MergeStep]:
        return [s for s in self.steps if s.outcome == "merged"]

    @property
    def conflicted(self) -> list[MergeStep]:
        return [s for s in self.steps if s.outcome == "conflict"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "created": self.created,
            "strategy": self.strategy,
            "dry_run": self.dry_run,
            "start": self.start,
            "head": self.head,
            "steps": [s.to_dict() for s in self.steps],
            "checkout_updated": self.checkout_updated,
        }


@dataclass(frozen=True, slots=True)
class Candidate:
    """An agent to merge, in the order given (the caller's: priority order)."""

    agent_id: str
    change: WorkspaceChange


async def checked_out_in(root: str, branch: str) -> str | None:
    """The worktree (the user's checkout or another) where ``branch`` is checked out."""
    listed = await git("worktree", "list", "--porcelain", cwd=root, what="listing worktrees")
    where = None
    for line in listed.stdout.splitlines():
        if line.startswith("worktree "):
            where = line[len("worktree ") :]
        elif line == f"branch refs/heads/{branch}":
            return where
    return None


async def _head_of(root: str, branch: str) -> str | None:
    found = await git("rev-parse", "--verify", "-q", f"refs/heads/{branch}", cwd=root, check=False)
    return found.stdout.strip() or None


async def merge_agents(
    root: str,
    run_id: str,
    candidates: Sequence[Candidate],
    *,
    base_commit: str,
    into: str | None = None,
    strategy: str = "merge",
    dry_run: bool = False,
    update_checkout: bool = False,
) -> MergeReport:
    """Merge each candidate's branch into ``into`` (an existing branch) or into a new
    branch ``swarm/<run>/merged`` at the run's base commit, each checked first."""
    if strategy not in STRATEGIES:
        raise WorkspaceRefused(f"strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}")
    target = into or merged_branch_name(run_id)
    start = await _head_of(root, target)
    checkout: str | None = None
    if into is None:
        if start is not None:
            raise WorkspaceRefused(
                f"branch {target} exists already (an earlier merge of this run?); delete it "
                f"(git branch -D {target}) or merge into it as an existing branch",
                remedy=Remedy.MERGE_INTO_EXISTING,
            )
        start = base_commit
    else:
        if start is None:
            raise WorkspaceRefused(
                f"no branch {into!r} in {root} to merge into; name an existing branch, or "
                f"let the merge make {merged_branch_name(run_id)}"
            )
        checkout = await checked_out_in(root, into)
        if checkout is not None and not update_checkout:
            raise WorkspaceRefused(
                f"branch {into} is checked out in {checkout}: moving it would leave that "
                "work tree behind its branch",
                remedy=Remedy.UPDATE_CHECKOUT,
            )
        if checkout is not None:
            dirty = await git("status", "--porcelain", cwd=checkout, what="git status")
            if dirty.stdout.strip():
                raise WorkspaceRefused(
                    f"branch {into} is checked out in {checkout}, which has uncommitted "
                    "changes: commit or stash them first"
                )
    head = start
    steps: list[MergeStep] = []
    for candidate in candidates:
        step, head = await _merge_one(root, run_id, candidate, head, strategy)
        steps.append(step)
    report = MergeReport(
        target=target,
        created=into is None,
        strategy=strategy,
        dry_run=dry_run,
        start=start,
        head=head,
        steps=steps,
    )
    if dry_run or (head == start and into is not None):
        return report
    if checkout is not None:
        # A checked-out branch moves with its work tree, by a fast-forward there (it
        # succeeds whole or changes nothing), never by moving the ref under it.
        await git("merge", "--ff-only", "-q", head, cwd=checkout, what=f"updating {checkout}")
        return MergeReport(**{**_fields(report), "checkout_updated": checkout})
    # Checked against where it started: a branch someone moved meanwhile is not overwritten.
    old = start if into is not None else ""
    await git(
        "update-ref",
        "-m",
        f"swarm merge {run_id}",
        f"refs/heads/{target}",
        head,
        old,
        cwd=root,
        what=f"moving branch {target}",
    )
    return report


def _fields(report: MergeReport) -> dict[str, Any]:
    return {name: getattr(report, name) for name in report.__slots__}


async def _merge_one(
    root: str, run_id: str, candidate: Candidate, head: str, strategy: str
) -> tuple[MergeStep, str]:
    change = candidate.change
    step = MergeStep(candidate.agent_id, change.branch, "no change")
    if change.commit is None:
        return step, head
    # The branch as it is now (a user may have added to it), else the recorded commit.
    change = replace(change, commit=await _head_of(root, change.branch) or change.commit)
    assert change.commit is not None
    ancestor = await git("merge-base", "--is-ancestor", change.commit, head, cwd=root, check=False)
    if ancestor.ok:
        return MergeStep(candidate.agent_id, change.branch, "already in"), head
    message = f"swarm merge {run_id}: agent {candidate.agent_id} ({change.branch})"
    env = author_env(None)
    if strategy == "cherry-pick":
        tree, conflicts = await _apply_own_change(root, change, head)
        parents = ["-p", head]
    else:
        tree, conflicts = await _merge_tree(root, head, change.commit)
        parents = ["-p", head] + (["-p", change.commit] if strategy == "merge" else [])
    if tree is None:
        return MergeStep(candidate.agent_id, change.branch, "conflict", conflicts), head
    made = await git(
        "commit-tree",
        tree,
        *parents,
        "-m",
        message,
        cwd=root,
        env=env,
        what=f"committing the merge of {change.branch}",
    )
    commit = made.stdout.strip()
    return MergeStep(candidate.agent_id, change.branch, "merged", commit=commit), commit


async def _merge_tree(root: str, ours: str, theirs: str) -> tuple[str | None, tuple[str, ...]]:
    """The merged tree of two commits, or None and the conflicting files."""
    done = await git(
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        ours,
        theirs,
        cwd=root,
        check=False,
    )
    lines = done.stdout.splitlines()
    if done.returncode == 0:
        return lines[0].strip(), ()
    if done.returncode == 1:
        files = []
        for line in lines[1:]:
            if not line.strip():
                break
            files.append(line.strip())
        return None, tuple(dict.fromkeys(files))
    raise WorkspaceRefused(f"checking the merge of {theirs[:12]}: {done.problem()}")


async def _apply_own_change(
    root: str, change: WorkspaceChange, head: str
) -> tuple[str | None, tuple[str, ...]]:
    """The tree of ``head`` with only the agent's own commits (``start..commit``) applied,
    in a temporary index (three-way where the target moved), or None and the files."""
    assert change.commit is not None
    patch = await git(
        "diff",
        "--binary",
        f"{change.start}..{change.commit}",
        cwd=root,
        what=f"reading {change.branch}",
    )
    with tempfile.TemporaryDirectory(prefix="swarm-merge-") as scratch:
        index = os.path.join(scratch, "index")
        patch_file = Path(scratch) / "change.patch"
        patch_file.write_text(patch.stdout)
        env = {"GIT_INDEX_FILE": index}
        await git("read-tree", head, cwd=root, env=env, what="reading the target's tree")
        applied = await git(
            "apply",
            "--cached",
            "--3way",
            "--binary",
            str(patch_file),
            cwd=root,
            env=env,
            check=False,
        )
        if not applied.ok:
            return None, _conflicting_files(applied.stderr + applied.stdout, change.files)
        tree = await git("write-tree", cwd=root, env=env, what="writing the merged tree")
        return tree.stdout.strip(), ()


def _conflicting_files(output: str, fallback: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("U "):
            found.append(line[2:].strip())
        elif "patch failed: " in line:
            found.append(line.split("patch failed: ", 1)[1].rsplit(":", 1)[0])
        elif line.startswith("Applied patch to '") and "conflicts" in line:
            found.append(line.split("'")[1])
    return tuple(dict.fromkeys(found)) or fallback
