"""`swarm gc` beside a live `swarm run` on one SQLite file: the live run is never deleted."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from .killing import (
    fault_plan,
    read_store,
    swarm_cli,
    swarm_run_until_started,
    write_plan,
)

GC = ("gc", "--store", "sqlite:///store.db", "--ttl", "0s", "--max-runs", "0", "--json")


def test_gc_keeps_a_run_another_process_is_running(tmp_path: Path) -> None:
    """While `swarm run` holds its run's lease, `swarm gc --ttl 0s --max-runs 0` (dry or not)
    keeps that run as running in another process; the run ends well, the store verifies
    clean, and once the run is over the same gc deletes it."""
    plan_doc = fault_plan("sqlite:///store.db")
    # two 20-second agents: the run is surely still going when both gc calls are done, even
    # on a loaded machine where each `swarm gc` process takes seconds to start
    plan_doc["agents"] = [
        {"id": f"slow{i}", "prompt": f"task {i}", "simulated": {"latency_s": 20.0, "jitter": 0}}
        for i in range(2)
    ]
    plan = write_plan(tmp_path, plan_doc)
    with swarm_run_until_started(plan, tmp_path, agents=2) as run:
        assert run.stderr is not None
        run_id = read_store(tmp_path / "store.db").run.run_id  # type: ignore[union-attr]
        reports = []
        for extra in (("--dry-run",), ()):
            done = swarm_cli(*GC, *extra, cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            reports.append(json.loads(done.stdout))
        assert run.poll() is None, "the run ended before gc ran: make its agents slower"
        rest = run.stderr.read()
        code = run.wait()
    assert code == 0 and "vanished" not in rest, rest
    holder = f"its lease is held by {socket.gethostname()}:{run.pid}:"
    for report in reports:
        assert report["deleted"] == report["would_delete"] == []
        (kept,) = report["kept_running"]
        assert kept["run_id"] == run_id and kept["reason"].startswith(
            f"kept (running in another process): {holder}"
        )
        assert report["kept"] == 1
    view = read_store(tmp_path / "store.db", run_id)
    assert view.run is not None and view.run.status.value == "succeeded"
    assert {a.status.value for a in view.agents.values()} == {"succeeded"}
    verified = swarm_cli("store", "verify", "--store", "sqlite:///store.db", cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout

    after = swarm_cli(*GC, cwd=tmp_path)  # the run is over and its lease released
    assert [v["run_id"] for v in json.loads(after.stdout)["deleted"]] == [run_id]
    verified = swarm_cli("store", "verify", "--store", "sqlite:///store.db", cwd=tmp_path)
    assert verified.returncode == 0 and "leases 0" in verified.stdout, verified.stdout
