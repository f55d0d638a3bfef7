"""kill -9 of a `swarm run` on the Dask engine, then `swarm resume` on the same cluster:
what finished is kept and not run again, the rest runs, and the run ends as an
uninterrupted one does (the local engine's kill tests, tests/faults, on a cluster)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.killing import (
    fault_plan,
    json_result,
    read_store,
    run_and_kill,
    swarm_cli,
    write_plan,
)
from tests.faults.test_kill_resume import check_trial

distributed = pytest.importorskip("distributed", reason="the swarm[distributed] extra")

# Progress lines: base started and ready, then a started and a finished line per agent.
KILL_AFTER = (4, 9, 16)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes that outlive the killed `swarm` process, as a real cluster's
    workers do."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=4, processes=True, dashboard_address=None
    ) as local:
        yield local


def dask_plan(folder: Path, address: str) -> Path:
    """The fault plan (12 agents, 4 at a time, two forks, one that always fails) on the
    cluster, its store a SQLite file every worker of this machine opens."""
    plan = fault_plan(f"sqlite:///{folder / 'store.db'}")
    plan["execution"].update(engine="dask", dask={"address": address})
    return write_plan(folder, plan)


def test_kill_9_of_a_dask_run_then_resume_on_the_cluster(tmp_path: Path, cluster: Any) -> None:
    address = cluster.scheduler_address
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    done = swarm_cli("run", str(dask_plan(reference_dir, address)), "--json", cwd=reference_dir)
    assert done.returncode == 1, done.stderr[-2000:]  # one agent fails by design
    reference = read_store(reference_dir / "store.db")

    failures: dict[int, list[str]] = {}
    for kill_after in KILL_AFTER:
        folder = tmp_path / f"killed-after-{kill_after}"
        folder.mkdir()
        store_url = f"sqlite:///{folder / 'store.db'}"
        killed = run_and_kill(dask_plan(folder, address), store_url, kill_after, folder)
        assert not killed.exited_first, killed.lines
        at_kill = read_store(folder / "store.db")
        assert at_kill.run is not None and at_kill.run.base_session_id is not None
        finished = [a for a in at_kill.agents.values() if a.status.is_final]
        assert len(finished) < len(at_kill.agents), "killed after the last agent ended"
        resumed = swarm_cli(
            "resume", at_kill.run.run_id, "--store", store_url, "--json", cwd=folder
        )
        if resumed.returncode != 1:
            failures[kill_after] = [f"resume exited {resumed.returncode}: {resumed.stderr[-800:]}"]
            continue
        after = read_store(folder / "store.db", at_kill.run.run_id)
        problems = check_trial(killed, at_kill, after, json_result(resumed.stdout), reference)
        if problems:
            failures[kill_after] = problems
    assert not failures, failures
