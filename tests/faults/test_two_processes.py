"""Two real `swarm` processes on one SQLite store: nothing lost, one resumer per run."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
from pathlib import Path

from .killing import (
    SWARM,
    fault_plan,
    read_store,
    swarm_cli,
    swarm_env,
    swarm_run_until_started,
    write_plan,
)


def test_two_runs_at_once_on_one_store_lose_nothing(tmp_path: Path) -> None:
    """Two `swarm run` processes writing one store at the same time both keep every record."""
    plan = write_plan(tmp_path, fault_plan("sqlite:///store.db", agents=16, latency_s=0.05))
    procs = [
        subprocess.Popen(
            [*SWARM, "run", str(plan), "--json"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=swarm_env(),
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [1, 1], [err for _, err in outputs]

    with sqlite3.connect(tmp_path / "store.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        run_ids = [row[0] for row in db.execute("SELECT run_id FROM runs")]
    assert len(run_ids) == 2
    for run_id in run_ids:
        view = read_store(tmp_path / "store.db", run_id)  # every checksum verified on read
        assert view.run is not None and view.run.status.value == "failed"
        statuses = {i: a.status.value for i, a in view.agents.items()}
        assert statuses == {i: "failed" if i == "a05" else "succeeded" for i in statuses}
        assert len(statuses) == 16
        for agent in view.agents.values():
            assert agent.session_id is not None
            assert view.executions[agent.agent_id] == 1
            if agent.status.value == "succeeded":  # the prompt and 3 turns, none lost
                assert view.messages[agent.session_id] == 4


def test_a_run_is_resumed_by_one_process_only(tmp_path: Path) -> None:
    """`swarm resume` of a live run exits 2 naming the holder; of two racing resumers after
    a kill -9, one resumes and the other exits 2, so no session is continued twice."""
    plan_doc = fault_plan("sqlite:///store.db", latency_s=0.05)
    # four 4-second agents: the first process is surely alive when the resume is refused
    plan_doc["agents"] = [
        {"id": f"slow{i}", "prompt": f"task {i}", "simulated": {"latency_s": 4.0}} for i in range(4)
    ]
    plan = write_plan(tmp_path, plan_doc)
    with swarm_run_until_started(plan, tmp_path, agents=4) as first:
        assert first.stderr is not None
        run_id = read_store(tmp_path / "store.db").run.run_id  # type: ignore[union-attr]
        refused = swarm_cli("resume", run_id, "--store", "sqlite:///store.db", cwd=tmp_path)
        assert refused.returncode == 2, refused.stderr
        holder = f"{socket.gethostname()}:{first.pid}:"
        assert f"swarm: error: run {run_id} is held by {holder}" in refused.stderr
        assert " until 20" in refused.stderr and "Traceback" not in refused.stderr
        first.send_signal(signal.SIGKILL)
        first.stderr.close()
        first.wait()
    # On a loaded machine an agent may finish before the kill: the resume continues the
    # ones the store shows running at that moment, and keeps the rest.
    at_kill = read_store(tmp_path / "store.db", run_id)
    running = sorted(i for i, a in at_kill.agents.items() if a.status.value == "running")
    assert running, "the kill came after every agent had finished"

    racers = [
        subprocess.Popen(
            [*SWARM, "resume", run_id, "--store", "sqlite:///store.db", "-q"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=swarm_env(),
        )
        for _ in range(2)
    ]
    outputs = [r.communicate(timeout=120) for r in racers]
    codes = [r.returncode for r in racers]
    assert sorted(codes) == [0, 2], outputs
    winner, loser = (0, 1) if codes[0] == 0 else (1, 0)
    assert f":{racers[winner].pid}:" in outputs[loser][1]
    view = read_store(tmp_path / "store.db", run_id)
    assert view.run is not None and view.run.status.value == "succeeded"
    assert len(view.run.attempts) == 2
    assert view.run.attempts[1].continued == running
    # each running session: the first attempt's prompt, then exactly one continuation
    assert view.executions == {i: 2 if i in running else 1 for i in view.agents}
