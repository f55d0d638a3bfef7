"""What a rehearsal leaves behind: the mark on its run record, how later commands read
it, how listings show it, and no stale config dirs (no Claude Code CLI needed here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import trio

from swarm import ExecutorOptions, MemoryStore, ParallelSwarmExecutor, SQLiteStore, parse_plan
from swarm._scratch import LEGACY_HOME_PREFIX, sweep_stale
from swarm.backends import AgentRequest, RehearsalSetup, SimulatedBackend
from swarm.cli import main
from swarm.cli._rehearse import rehearsal_again
from swarm.errors import UsageError
from swarm.mockapi import MockAPIConfig

PLAN = """
name: marked
base: {prompt: shared}
agents: [{id: a, prompt: one}, {id: b, prompt: two}]
backend: {name: simulated}
"""


async def test_a_rehearsed_run_is_marked_from_its_first_record_to_the_end() -> None:
    """ExecutorOptions(rehearsal=...) is on the run record's first write (before anything
    runs) and stays to the end, and the record still names the real backend."""
    store = MemoryStore()
    setup = RehearsalSetup(MockAPIConfig(seed=3), "rules.yaml")
    first_marks: list[object] = []

    async def note_first_record(request: AgentRequest) -> None:
        if not first_marks:
            record = await store.get_run(request.run_id)
            first_marks.append(record.rehearsal if record is not None else None)

    executor = ParallelSwarmExecutor(
        SimulatedBackend(store),
        store,
        options=ExecutorOptions(rehearsal=setup.record()),
        pre_agent=[note_first_record],
    )
    result = await executor.run(parse_plan(PLAN), run_id="r1")
    record = await store.get_run("r1")
    assert result.succeeded and record is not None and record.ended_at is not None
    assert record.rehearsal == {"config": {"seed": 3}, "config_file": "rules.yaml"}
    assert first_marks == [record.rehearsal]
    assert record.backend == "simulated"
    assert RehearsalSetup.from_record(record.rehearsal) == setup


RECORDED = {"config": {"seed": 5}, "config_file": None}


@pytest.mark.parametrize(
    ("recorded", "rehearse", "seed", "note"),
    [
        (None, None, None, None),  # a real run stays real
        (RECORDED, None, 5, "was a rehearsal: rehearsing again"),  # a rehearsal stays one
        (RECORDED, True, 5, None),  # asked for: no note needed
        (RECORDED, False, None, "--no-rehearse: this one calls the real API"),
        (None, True, 9, None),  # a real run rehearsed: the plan's script
    ],
)
def test_rehearsal_again_defaults_to_what_the_run_was(
    recorded: dict[str, Any] | None, rehearse: bool | None, seed: int | None, note: str | None
) -> None:
    """A rehearsed run is rehearsed again with the script it recorded unless --no-rehearse,
    and the default is said out loud; a real run is rehearsed only when asked."""
    setup, said = rehearsal_again(
        recorded,
        rehearse=rehearse,
        config_file=None,
        plan_options={"rehearsal": {"seed": 9}},
        what="run r",
    )
    assert (setup.config.seed if setup else None) == seed
    assert (said is None) == (note is None)
    assert note is None or (said is not None and note in said)


def test_rehearse_config_wins_and_conflicts_with_no_rehearse(tmp_path: Path) -> None:
    """--rehearse-config replaces the recorded script; with --no-rehearse it is an error."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("seed: 11\n", encoding="utf-8")
    setup, _ = rehearsal_again(
        RECORDED, rehearse=None, config_file=rules, plan_options={}, what="run r"
    )
    assert setup is not None and setup.config.seed == 11 and setup.config_file == str(rules)
    with pytest.raises(UsageError, match="--rehearse-config needs --rehearse"):
        rehearsal_again(RECORDED, rehearse=False, config_file=rules, plan_options={}, what="r")


def test_scratch_folders_of_dead_processes_are_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scratch folders (and the rehearsal config dirs older versions left in the system temp
    folder) of processes that died are removed; those of live processes, of this process,
    and folders not named after a pid are kept."""
    scratch, temp = tmp_path / "host", tmp_path / "temp"
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(dead.stdout)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            names = {
                "dead": f"{dead_pid}-abc",
                "live": f"{live.pid}-abc",
                "mine": f"{os.getpid()}-abc",
                "other": "k3j_x9q1",
            }
            for folder, prefix in ((scratch, ""), (temp, LEGACY_HOME_PREFIX)):
                for name in names.values():
                    (folder / f"{prefix}{name}" / "claude-resume-x").mkdir(parents=True)
            removed = sweep_stale(scratch)
        finally:
            live.kill()
    assert removed == [scratch / names["dead"], temp / f"{LEGACY_HOME_PREFIX}{names['dead']}"]
    kept = sorted(names[k] for k in ("live", "mine", "other"))
    assert sorted(p.name for p in scratch.iterdir()) == kept
    assert sorted(p.name for p in temp.iterdir()) == [f"{LEGACY_HOME_PREFIX}{k}" for k in kept]


def test_listings_mark_a_rehearsal_and_its_cost(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`runs list` shows a rehearsed run's backend as `claude (rehearsal)` and `runs show`
    titles it a rehearsal whose cost is the fake API's pricing."""
    monkeypatch.setenv("COLUMNS", "200")
    (in_tmp_cwd / "plan.yaml").write_text(PLAN, encoding="utf-8")
    store = ["--store", "sqlite:///store.db"]
    assert main(["run", "plan.yaml", "--json", *store]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]

    async def mark() -> None:
        db = await SQLiteStore.open(Path("store.db"))
        try:
            record = await db.get_run(run_id)
            assert record is not None
            await db.save_run(record.evolve(backend="claude", rehearsal=RECORDED))
        finally:
            await db.aclose()

    trio.run(mark)
    assert main(["runs", "list", *store]) == 0
    assert "claude (rehearsal)" in capsys.readouterr().out
    assert main(["runs", "show", run_id, *store]) == 0
    shown = capsys.readouterr().out
    shown = " ".join(shown.split())  # the title and caption wrap at the table's width
    assert "rehearsal: fake Messages API" in shown and "(fake API pricing)" in shown
    assert main(["runs", "list", "--json", *store]) == 0
    assert json.loads(capsys.readouterr().out)[0]["rehearsal"] == RECORDED
