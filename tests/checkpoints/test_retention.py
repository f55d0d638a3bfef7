"""`swarm gc`: activity-based TTL, LRU cap, dry runs, and parents of kept forks."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from swarm import Checkpoint, MemoryStore, RunRecord, RunStatus, SessionRecord
from swarm.cli import main
from swarm.stores import run_lease_name
from swarm.timeline import collect_garbage

from .helpers import cli_json, run_plan_cli

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


async def add_run(
    store: MemoryStore,
    run_id: str,
    days_ago: float,
    *,
    parent: str | None = None,
    status: RunStatus = RunStatus.SUCCEEDED,
) -> None:
    """A run with one session (s-RUN) started ``days_ago``, optionally forking ``parent``."""
    stamp = ago(days_ago)
    await store.save_run(
        RunRecord(run_id, plan={}, status=status, created_at=stamp, updated_at=stamp)
    )
    await store.save_session(
        SessionRecord(
            f"s-{run_id}", "simulated", run_id=run_id, parent_session_id=parent, created_at=stamp
        )
    )


async def test_ttl_deletes_inactive_runs_and_dry_run_deletes_nothing() -> None:
    """Runs idle longer than the TTL go; a dry run only reports them."""
    store = MemoryStore()
    await add_run(store, "old", 10)
    await add_run(store, "new", 1)
    dry = await collect_garbage(store, dry_run=True, now=NOW)
    assert [v.run_id for v in dry.delete] == ["old"] and "inactive for 10.0 days" in dry.delete[
        0
    ].reason
    assert await store.get_run("old") is not None
    assert dry.to_dict()["would_delete"][0]["run_id"] == "old" and dry.to_dict()["deleted"] == []
    done = await collect_garbage(store, now=NOW)
    assert [v.run_id for v in done.delete] == ["old"] and done.kept == 1
    assert await store.get_run("old") is None and await store.get_session("s-old") is None
    assert await store.get_run("new") is not None


async def test_activity_includes_checkpoints() -> None:
    """A named checkpoint taken recently keeps an old run alive (the TTL slides)."""
    store = MemoryStore()
    await add_run(store, "old", 30)
    await store.save_checkpoint(Checkpoint("c1", "s-old", "m1", 1, created_at=ago(2), kind="named"))
    report = await collect_garbage(store, now=NOW)
    assert report.delete == [] and report.kept == 1


async def test_lru_cap_keeps_the_most_recently_active_and_running_runs() -> None:
    """Beyond max_runs the least recently active runs go, but never a running one."""
    store = MemoryStore()
    for i, run_id in enumerate(["r0", "r1", "r2", "r3"]):
        await add_run(store, run_id, i)
    await add_run(store, "busy", 5, status=RunStatus.RUNNING)
    report = await collect_garbage(store, max_runs=2, dry_run=True, now=NOW)
    assert [v.run_id for v in report.delete] == ["r2", "r3"]
    assert all("beyond the 2 most recently active" in v.reason for v in report.delete)


async def test_parents_of_kept_sessions_are_kept_and_reported() -> None:
    """A run that would go is kept when a kept session forks from it, even transitively."""
    store = MemoryStore()
    await add_run(store, "grand", 20)
    await add_run(store, "parent", 15, parent="s-grand")
    await add_run(store, "child", 1, parent="s-parent")
    await add_run(store, "lonely", 20)
    report = await collect_garbage(store, now=NOW)
    assert [v.run_id for v in report.delete] == ["lonely"]
    reasons = {v.run_id: v.reason for v in report.protected}
    assert set(reasons) == {"grand", "parent"}
    assert reasons["parent"] == (
        "kept: session s-parent is the parent of session s-child of kept run child"
    )
    assert await store.get_session("s-grand") is not None
    # With the child gone too, nothing protects them any more.
    again = await collect_garbage(store, ttl=timedelta(hours=1), now=NOW)
    assert {v.run_id for v in again.delete} == {"grand", "parent", "child"}


def test_gc_command(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`swarm gc --max-runs 1` keeps the fork's parent run, says why, and deletes the rest."""
    monkeypatch.setenv("SWARM_STORE", "sqlite:///store.db")
    first: Any = run_plan_cli(in_tmp_cwd, capsys)
    second: Any = run_plan_cli(in_tmp_cwd, capsys)
    _, checkpoints = cli_json(
        capsys, "checkpoints", "list", "--run", first["run_id"], "--agent", "b"
    )
    code, forked = cli_json(capsys, "fork", checkpoints[-1]["checkpoint_id"], "--prompt", "again")
    assert code == 0
    code, dry = cli_json(capsys, "gc", "--max-runs", "1", "--dry-run")
    assert code == 0 and dry["dry_run"] is True
    assert [v["run_id"] for v in dry["would_delete"]] == [second["run_id"]]
    (kept,) = dry["kept_for_forks"]
    assert kept["run_id"] == first["run_id"] and "of kept run " + forked["run_id"] in kept["reason"]
    assert main(["gc", "--max-runs", "1"]) == 0
    out = capsys.readouterr().out
    assert second["run_id"] in out and "forks still need" in out
    _, runs = cli_json(capsys, "runs", "list")
    assert {r["run_id"] for r in runs} == {first["run_id"], forked["run_id"]}
    assert main(["gc", "--ttl", "soon"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("swarm: error:") and "'soon'" in err


async def test_a_run_whose_lease_is_live_is_never_deleted() -> None:
    """A held, unexpired lease keeps a run whatever its age, and its sessions keep the
    parents they fork; an expired lease or a dead holder does not; a dry run takes none."""
    store = MemoryStore()
    clock = 1_000_000.0
    await add_run(store, "parent", 30)
    await add_run(store, "live", 20, parent="s-parent", status=RunStatus.RUNNING)
    await add_run(store, "expired", 20, status=RunStatus.RUNNING)
    await add_run(store, "dead", 20, status=RunStatus.RUNNING)
    live_owner = f"{socket.gethostname()}:{os.getpid()}:live"  # this very process: alive
    dead_owner = f"{socket.gethostname()}:{2**22 + 7}:x"  # above Linux's pid_max: no such pid
    await store.acquire_lease(run_lease_name("live"), live_owner, 30, now=clock)
    await store.acquire_lease(run_lease_name("expired"), "elsewhere:1:x", 30, now=clock - 60)
    await store.acquire_lease(run_lease_name("dead"), dead_owner, 30, now=clock)

    dry = await collect_garbage(store, dry_run=True, now=NOW, lease_clock=lambda: clock)
    assert await store.get_lease(run_lease_name("expired")) is not None  # only read
    done = await collect_garbage(store, now=NOW, lease_clock=lambda: clock)
    for report in (dry, done):
        assert sorted(v.run_id for v in report.delete) == ["dead", "expired"]
        (running,) = report.running
        assert running.run_id == "live" and running.reason == (
            f"kept (running in another process): its lease is held by {live_owner} "
            "until 1970-01-12T13:47:10+00:00"
        )
        assert [v.run_id for v in report.protected] == ["parent"]
        assert report.to_dict()["kept_running"][0]["run_id"] == "live" and report.kept == 2
    assert {r.run_id for r in await store.list_runs()} == {"parent", "live"}
    # gc let go of every lease it took; the live run's is untouched
    assert await store.get_lease(run_lease_name("dead")) is None
    lease = await store.get_lease(run_lease_name("live"))
    assert lease is not None and lease.owner == live_owner
