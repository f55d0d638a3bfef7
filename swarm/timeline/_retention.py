"""Retention: ``swarm gc`` drops runs that are inactive or beyond a cap, never a parent in use.

A run's last activity is the latest of its own timestamps, its sessions'
starts and its checkpoints (a named checkpoint taken today counts). A run
goes when it has been inactive longer than the TTL (default 7 days), or when
it falls outside the ``max_runs`` most recently active (LRU; running runs
are exempt from the cap). A run that would go but holds a session that a kept
session forks from (directly or further up) is kept, and the report says why.

A run that another live process drives is never deleted, whatever its age: gc
takes the lease of every run it would delete (see :mod:`swarm.stores._leases`) before
deciding, so a held, unexpired lease keeps the run ("running in another
process"), and ``swarm resume`` cannot start driving a run while gc deletes it.
A lease left by a crashed process of this host is taken over at once, as a
resume would; a dry run only reads the leases.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import trio

from ..errors import LeaseHeld
from ..records import Lease, RunRecord, RunStatus, SessionRecord
from ..stores import Clock, RunLease, Store, owner_is_dead, run_lease_name
from ._browse import parse_time

DEFAULT_TTL = timedelta(days=7)
DEFAULT_MAX_RUNS = 100
# How long gc holds the leases it took: long enough to delete thousands of runs in
# one go; if gc dies meanwhile, a resume on this host takes them over at once.
GC_LEASE_TTL_S = 300.0


@dataclass(frozen=True, slots=True)
class RunVerdict:
    """What gc does with one run, and why."""

    run_id: str
    last_activity: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "last_activity": self.last_activity, "reason": self.reason}


@dataclass(slots=True)
class GcReport:
    """Runs deleted (or to delete, in a dry run), runs kept because forks need them or
    because another process is running them, the rest."""

    dry_run: bool
    ttl: timedelta
    max_runs: int | None
    delete: list[RunVerdict] = field(default_factory=list)
    protected: list[RunVerdict] = field(default_factory=list)
    running: list[RunVerdict] = field(default_factory=list)
    kept: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "ttl_s": self.ttl.total_seconds(),
            "max_runs": self.max_runs,
            "deleted": [] if self.dry_run else [v.to_dict() for v in self.delete],
            "would_delete": [v.to_dict() for v in self.delete] if self.dry_run else [],
            "kept_for_forks": [v.to_dict() for v in self.protected],
            "kept_running": [v.to_dict() for v in self.running],
            "kept": self.kept,
        }


def _ago(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} seconds"


async def collect_garbage(
    store: Store,
    *,
    ttl: timedelta = DEFAULT_TTL,
    max_runs: int | None = DEFAULT_MAX_RUNS,
    dry_run: bool = False,
    now: datetime | None = None,
    lease_clock: Clock = time.time,
) -> GcReport:
    """Decide which runs go (see the module doc) and, unless ``dry_run``, delete them."""
    now = now or datetime.now(UTC)
    runs = await store.list_runs()
    sessions = await store.list_sessions()
    activity = {run.run_id: _activity(run) for run in runs}
    for session in sessions:
        _touch(activity, session.run_id, session.created_at)
    owner = {s.session_id: s.run_id for s in sessions}
    for checkpoint in await store.list_checkpoints():
        _touch(activity, owner.get(checkpoint.session_id), checkpoint.created_at)

    ranked = sorted(runs, key=lambda r: (activity[r.run_id], r.run_id), reverse=True)
    doomed: dict[str, RunVerdict] = {}
    for rank, run in enumerate(ranked):
        last = activity[run.run_id]
        idle = now - last
        if idle > ttl:
            reason = f"inactive for {_ago(idle)} (ttl {_ago(ttl)})"
        elif max_runs is not None and rank >= max_runs and run.status is not RunStatus.RUNNING:
            reason = f"beyond the {max_runs} most recently active runs"
        else:
            continue
        doomed[run.run_id] = RunVerdict(run.run_id, last.isoformat(), reason)

    report = GcReport(dry_run=dry_run, ttl=ttl, max_runs=max_runs)
    claims: list[RunLease] = []
    try:
        # Live runs first: their sessions are kept, so they protect the parents they fork.
        for run in ranked:
            if run.run_id not in doomed:
                continue
            holder = await _live_holder(store, run.run_id, claims, dry_run, lease_clock)
            if holder is not None:
                verdict = doomed.pop(run.run_id)
                why = f"kept (running in another process): its lease is held by {holder}"
                report.running.append(RunVerdict(run.run_id, verdict.last_activity, why))
        for run_id, why in _protect(sessions, doomed).items():
            verdict = doomed.pop(run_id)
            report.protected.append(RunVerdict(run_id, verdict.last_activity, why))
        report.delete = [doomed[r.run_id] for r in ranked if r.run_id in doomed]
        report.kept = len(runs) - len(report.delete)
        if not dry_run:
            for verdict in report.delete:
                await store.delete_run(verdict.run_id)
    finally:
        with trio.move_on_after(10) as scope:
            scope.shield = True  # even when cancelled: a resume should not wait for them
            for claim in claims:
                await claim.release()
    return report


async def _live_holder(
    store: Store, run_id: str, claims: list[RunLease], dry_run: bool, clock: Clock
) -> str | None:
    """Who drives ``run_id`` right now, or None when nobody does; unless ``dry_run``, the
    run's lease is taken (and added to ``claims``) so nobody starts to while gc runs."""
    name = run_lease_name(run_id)
    if dry_run:
        lease = await store.get_lease(name)
        live = lease is not None and not lease.expired(clock()) and not owner_is_dead(lease.owner)
        return _describe(lease) if live else None
    claim = RunLease(store, name, ttl_s=GC_LEASE_TTL_S, clock=clock)
    try:
        await claim.acquire()
    except LeaseHeld:
        return _describe(await store.get_lease(name))
    claims.append(claim)
    return None


def _describe(lease: Lease | None) -> str:
    return lease.describe() if lease is not None else "a process that just released it"


def _activity(run: RunRecord) -> datetime:
    stamps = [run.created_at, run.updated_at, run.ended_at]
    return max(parse_time(s) for s in stamps if s)


def _touch(activity: dict[str, datetime], run_id: str | None, stamp: str) -> None:
    if run_id in activity:
        activity[run_id] = max(activity[run_id], parse_time(stamp))


def _protect(sessions: list[SessionRecord], doomed: dict[str, RunVerdict]) -> dict[str, str]:
    """Runs in ``doomed`` that a kept session descends from, with the reason, to a fixpoint."""
    by_id = {s.session_id: s for s in sessions}
    protected: dict[str, str] = {}
    queue = [s for s in sessions if s.run_id not in doomed]  # kept sessions (and run-less ones)
    while queue:
        child = queue.pop()
        parent = by_id.get(child.parent_session_id or "")
        seen: set[str] = set()
        while parent is not None and parent.session_id not in seen:
            seen.add(parent.session_id)
            run_id = parent.run_id
            if run_id in doomed and run_id not in protected:
                protected[run_id] = (
                    f"kept: session {parent.session_id} is the parent of session "
                    f"{child.session_id} of kept run {child.run_id or '(none)'}"
                )
                queue.extend(s for s in sessions if s.run_id == run_id)
            child, parent = parent, by_id.get(parent.parent_session_id or "")
    return protected
