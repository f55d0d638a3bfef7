"""kill -9 of a real `swarm run` at random points, then `swarm resume`: nothing lost or re-run.

SWARM_FAULT_TRIALS sets the number of trials (default 20); SWARM_FAULT_SEED
replays a sequence of kill points; SWARM_FAULT_REPORT names a JSON file that
receives the figures (trials, kill points, failures).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from swarm.cli.app import main

from .killing import (
    Killed,
    StoreView,
    fault_plan,
    json_result,
    outcome,
    read_store,
    run_and_kill,
    swarm_cli,
    write_plan,
)

TRIALS = int(os.environ.get("SWARM_FAULT_TRIALS", "20"))
SEED = int(os.environ.get("SWARM_FAULT_SEED", str(random.SystemRandom().randrange(10**6))))
PROGRESS_LINES = 2 + 2 * 12  # base started/ready, then started + finished per agent


def check_trial(
    killed: Killed, at_kill: StoreView, after: StoreView, resumed: dict[str, Any], ref: StoreView
) -> list[str]:
    """Every way a resumed run can differ from an uninterrupted one, as readable problems."""
    problems = []
    if after.run is None or ref.run is None:
        return ["the run vanished from the store"]
    if after.run.status != ref.run.status:
        problems.append(f"run status {after.run.status} != {ref.run.status}")
    for agent_id, expected in ref.agents.items():
        got = after.agents.get(agent_id)
        if got is None or not got.status.is_final:
            problems.append(f"{agent_id}: not final ({got.status if got else 'missing'})")
            continue
        if outcome(got) != outcome(expected):
            problems.append(f"{agent_id}: {outcome(got)} != {outcome(expected)}")
        before = at_kill.agents.get(agent_id)
        if before is not None and before.status.is_final:
            if got != before:
                problems.append(f"{agent_id}: its final record changed on resume")
            if after.executions.get(agent_id, 0) != at_kill.executions.get(agent_id, 0):
                problems.append(f"{agent_id}: finished before the kill, yet ran again")
            if got.session_id and after.messages.get(got.session_id) != at_kill.messages.get(
                got.session_id
            ):
                problems.append(f"{agent_id}: its session grew after it had finished")
        if expected.session_id and after.executions.get(agent_id, 0) < 1:
            problems.append(f"{agent_id}: never executed")
        if agent_id in after.repeated:
            problems.append(f"{agent_id}: a session of it was sent the same prompt twice")
    statuses = {a["agent_id"]: a["status"] for a in resumed["agents"]}
    if statuses != {i: a.status.value for i, a in after.agents.items()}:
        problems.append("`swarm resume --json` disagrees with the store")
    if ref.run.metrics and after.run.metrics:
        if after.run.metrics.counts != ref.run.metrics.counts:
            problems.append(f"counts {after.run.metrics.counts} != {ref.run.metrics.counts}")
        if after.run.metrics.usage != ref.run.metrics.usage:
            problems.append("merged token usage differs from the uninterrupted run's")
    return problems


def test_kill_9_at_random_points_then_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed anywhere, `swarm resume` keeps every finished agent, runs the rest once more,
    and ends with the results of an uninterrupted run."""
    rng = random.Random(SEED)
    ref_dir = tmp_path / "reference"
    ref_dir.mkdir()
    ref_plan = write_plan(ref_dir, fault_plan("sqlite:///store.db"))
    done = swarm_cli("run", str(ref_plan), "--json", cwd=ref_dir)
    assert done.returncode == 1, done.stderr  # one agent fails by design
    reference = read_store(ref_dir / "store.db")

    trials = []
    for i in range(TRIALS):
        folder = tmp_path / f"trial{i:03d}"
        folder.mkdir()
        plan = write_plan(folder, fault_plan("sqlite:///store.db"))
        trials.append((folder, plan, rng.randint(1, PROGRESS_LINES)))
    with ThreadPoolExecutor(max_workers=3) as pool:  # the kills are I/O bound: overlap them
        killed = list(
            pool.map(lambda t: run_and_kill(t[1], "sqlite:///store.db", t[2], t[0]), trials)
        )

    failures: dict[str, list[str]] = {}
    phases: Counter[str] = Counter()
    cwd = Path.cwd()
    for (folder, _, _), kill in zip(trials, killed, strict=True):
        at_kill = read_store(folder / "store.db")
        if at_kill.run is None:
            phases["before the run record"] += 1  # nothing to resume; nothing lost either
            continue
        finished = sum(a.status.is_final for a in at_kill.agents.values())
        if kill.exited_first:
            phase = "after the run ended"
        elif at_kill.run.base_session_id is None:
            phase = "while the base was built"
        elif finished == len(at_kill.agents):
            phase = "all agents final, run not closed"
        else:
            phase = f"{finished // 4 * 4}-{finished // 4 * 4 + 3} agents final"
        phases[phase] += 1
        os.chdir(folder)
        try:
            code = main(["resume", at_kill.run.run_id, "--store", "sqlite:///store.db", "--json"])
        finally:
            os.chdir(cwd)
        resumed = json_result(capsys.readouterr().out)
        after = read_store(folder / "store.db", at_kill.run.run_id)
        problems = check_trial(kill, at_kill, after, resumed, reference)
        if code != 1:
            problems.append(f"exit code {code}, expected 1 (one agent fails by design)")
        if problems:
            failures[folder.name] = problems

    figures = {
        "trials": TRIALS,
        "seed": SEED,
        "kill_points": dict(sorted(phases.items())),
        "failures": len(failures),
    }
    with capsys.disabled():
        print(f"\nkill -9 fault injection: {json.dumps(figures)}")
    if os.environ.get("SWARM_FAULT_REPORT"):
        Path(os.environ["SWARM_FAULT_REPORT"]).write_text(json.dumps(figures, indent=2))
    assert not failures, json.dumps(failures, indent=2)
    assert sum(phases.values()) == TRIALS
