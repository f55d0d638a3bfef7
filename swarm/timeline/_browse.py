"""Session browsing: find sessions, list them with filters, draw a run's lineage tree.

Reads only records (sessions, agents, checkpoints), never whole histories,
so it stays quick on a store with many long sessions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import trio

from .._names import is_safe_id
from ..errors import IntegrityError, NotFoundError, Remedy, StoreError, UsageError
from ..records import AgentResult, Checkpoint, RunRecord, SessionRecord
from ..stores import SQLiteStore, Store, lineage, run_ids_in_file

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MAX_DAYS = timedelta.max.days


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """``90s``, ``30m``, ``12h``, ``7d`` or ``2w`` as a timedelta; ``what`` names it in errors."""
    match = _DURATION.match(text)
    if match is None:
        raise UsageError(f"{what} {text!r}: expected a number and s, m, h, d or w (e.g. 7d)")
    try:
        return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])
    except OverflowError:  # past timedelta's range (about 2.7 million years), or inf
        raise UsageError(
            f"{what} {text!r} is too long: expected at most {_MAX_DAYS} days"
        ) from None


def parse_since(text: str, now: datetime | None = None, what: str = "since") -> datetime:
    """A moment: a duration ago (``2h``, ``7d``) or an ISO date/time (UTC if no zone);
    ``what`` names it in errors."""
    now = now or datetime.now(UTC)
    if _DURATION.match(text):
        try:
            return now - parse_duration(text, what)
        except OverflowError:
            raise UsageError(
                f"{what} {text!r} reaches back before the year 1: expected a shorter duration"
            ) from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{what} {text!r}: expected a duration (2h, 7d) or an ISO date (2026-01-31)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_time(stamp: str) -> datetime:
    """A stored ISO timestamp as an aware datetime (naive ones are UTC)."""
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def find_session(store: Store, ref: str) -> SessionRecord:
    """A session by id or unique id prefix."""
    session = await store.get_session(ref)
    if session is not None:
        return session
    matches = [s for s in await store.list_sessions() if s.session_id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(f"no session {ref!r} in the store", remedy=Remedy.LIST_SESSIONS)
    ids = ", ".join(s.session_id[:12] for s in matches[:5])
    raise NotFoundError(f"session prefix {ref!r} is ambiguous: {ids}")


@dataclass(slots=True)
class SessionView:
    """A session with what browsing shows beside it; ``children`` only in a tree."""

    session: SessionRecord
    status: str
    latest: Checkpoint | None = None
    children: list[SessionView] = field(default_factory=list)

    @property
    def message_count(self) -> int | None:
        """Messages of the whole history as of the latest checkpoint, if there is one."""
        return self.latest.message_count if self.latest is not None else None

    def to_dict(self, *, tree: bool = False) -> dict[str, Any]:
        data = self.session.to_dict()
        data["status"] = self.status
        data["message_count"] = self.message_count
        data["latest_checkpoint"] = self.latest.to_dict() if self.latest is not None else None
        if tree:
            data["children"] = [child.to_dict(tree=True) for child in self.children]
        return data


class _Index:
    """Agents by run and latest checkpoint by session, loaded once per command."""

    def __init__(self, store: Store, checkpoints: list[Checkpoint]) -> None:
        self.store = store
        self.agents: dict[str, dict[str, AgentResult]] = {}
        self.latest: dict[str, Checkpoint] = {}
        for checkpoint in checkpoints:
            current = self.latest.get(checkpoint.session_id)
            if current is None or checkpoint.message_count >= current.message_count:
                self.latest[checkpoint.session_id] = checkpoint

    async def view(self, session: SessionRecord) -> SessionView:
        return SessionView(session, await self.status(session), self.latest.get(session.session_id))

    async def status(self, session: SessionRecord) -> str:
        if session.agent_id is None or session.run_id is None:
            return "base"
        if session.run_id not in self.agents:
            agents = await self.store.list_agents(session.run_id)
            self.agents[session.run_id] = {a.agent_id: a for a in agents}
        agent = self.agents[session.run_id].get(session.agent_id)
        return agent.status.value if agent is not None else "unknown"


async def list_session_views(
    store: Store,
    *,
    run_id: str | None = None,
    agent_id: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
) -> list[SessionView]:
    """Sessions, oldest first, filtered by run, agent id, status (or ``base``) and start time."""
    index = _Index(store, await store.list_checkpoints())
    views = []
    for session in await store.list_sessions(run_id):
        if agent_id is not None and session.agent_id != agent_id:
            continue
        if since is not None and parse_time(session.created_at) < since:
            continue
        view = await index.view(session)
        if status is not None and view.status != status:
            continue
        views.append(view)
    return views


async def session_tree(store: Store, run: RunRecord) -> list[SessionView]:
    """The lineage tree of a run: its base, forks and forks of forks, from any run.

    Forks made later from this run's sessions (``swarm fork``) appear under
    their parent; a base borrowed from another run appears as a root.
    """
    every = await store.list_sessions()
    index = _Index(store, await store.list_checkpoints())
    children: dict[str, list[SessionRecord]] = {}
    for session in every:
        if session.parent_session_id is not None:
            children.setdefault(session.parent_session_id, []).append(session)
    members = {s.session_id for s in every if s.run_id == run.run_id}
    if run.base_session_id is not None:
        members.add(run.base_session_id)
    by_id = {s.session_id: s for s in every}
    roots = [
        by_id[sid]
        for sid in sorted(members, key=lambda sid: (by_id[sid].created_at, sid))
        if sid in by_id and by_id[sid].parent_session_id not in members
    ]

    async def grow(session: SessionRecord, seen: set[str]) -> SessionView:
        view = await index.view(session)
        seen.add(session.session_id)
        for child in children.get(session.session_id, []):
            if child.session_id not in seen:  # a corrupt store must not loop
                view.children.append(await grow(child, seen))
        return view

    seen: set[str] = set()
    return [await grow(root, seen) for root in roots]


async def session_detail(store: Store, session: SessionRecord) -> dict[str, Any]:
    """One session for ``swarm sessions show``: lineage, checkpoints, children, counts."""
    chain = await lineage(store, session.session_id)
    checkpoints = await store.list_checkpoints(session.session_id)
    index = _Index(store, checkpoints)
    view = await index.view(session)
    own = await store.get_messages(session.session_id)
    kids = [s for s in await store.list_sessions() if s.parent_session_id == session.session_id]
    data = view.to_dict()
    data["own_message_count"] = len(own)
    data["lineage"] = [_link(s) for s in chain]
    data["checkpoints"] = [c.to_dict() for c in checkpoints]
    data["children"] = [_link(s) for s in kids]
    return data


def _link(session: SessionRecord) -> dict[str, Any]:
    return {
        "session_id": session.session_id,
        "run_id": session.run_id,
        "agent_id": session.agent_id,
        "fork_point": session.fork_point,
    }


# --- runs -----------------------------------------------------------------------


async def readable_runs(
    store: Store, limit: int | None = None
) -> tuple[list[RunRecord], list[str]]:
    """Runs, newest first, and the ids of damaged run records left out.

    ``list_runs`` fails whole on one damaged record; then each run is read on its
    own (SQLite stores only: their ids come from the read-only scanner of
    :func:`~swarm.stores.verify`), so one bad record hides only itself.
    """
    try:
        return await store.list_runs(limit=limit), []
    except StoreError as exc:
        if isinstance(exc, NotFoundError) or not isinstance(store, SQLiteStore):
            raise
        first = exc
        ids = await trio.to_thread.run_sync(run_ids_in_file, store.path)
    runs: list[RunRecord] = []
    damaged: list[str] = []
    checksums_only = True  # every failure was a record failing its checksum or decoding
    for run_id in ids:
        if limit is not None and len(runs) >= limit:
            break
        try:
            run = await store.get_run(run_id)
        except StoreError as exc:  # undecodable bytes, a bad page, ... or the whole file
            damaged.append(run_id)
            checksums_only = checksums_only and isinstance(exc, IntegrityError)
            continue
        if run is not None:
            runs.append(run)
    # Nothing readable and not only damaged records: the file is the trouble (locked, I/O).
    if not runs and not (damaged and checksums_only):
        raise first
    return runs, damaged


def check_run_ref(ref: str | None) -> None:
    """Refuse what cannot name a run (path traversal, odd characters) before any lookup."""
    if ref is not None and ref != "latest" and not is_safe_id(ref):
        raise UsageError(
            f"{ref!r} is not a run id: expected letters, digits, '_', '.' or '-' "
            "(at most 64, no '..'), a unique prefix of one, or 'latest'"
        )


async def find_run(
    store: Store, ref: str, *, on_damaged: Callable[[Sequence[str]], None] | None = None
) -> RunRecord:
    """A run by id, unique id prefix, or ``latest``. Damaged run records are left out of
    the search; ``on_damaged`` is told their ids (the CLI warns about them)."""
    check_run_ref(ref)
    if ref != "latest":
        run = await store.get_run(ref)
        if run is not None:
            return run
    runs, damaged = await readable_runs(store, limit=1 if ref == "latest" else None)
    hit = [d for d in damaged if ref != "latest" and d.startswith(ref)]
    if hit and not any(r.run_id.startswith(ref) for r in runs):
        raise IntegrityError(
            f"run {ref!r}: the record of {', '.join(hit)} is damaged",
            remedy=Remedy.VERIFY_OR_REPAIR,
        )
    if damaged and on_damaged is not None:
        on_damaged(damaged)
    if ref == "latest":
        if not runs:
            raise NotFoundError("the store has no runs yet")
        return runs[0]
    matches = [r for r in runs if r.run_id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(f"no run {ref!r} in the store", remedy=Remedy.LIST_RUNS)
    ids = ", ".join(r.run_id for r in matches[:5])
    raise NotFoundError(f"run prefix {ref!r} is ambiguous: {ids}")
