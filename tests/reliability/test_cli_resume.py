"""`swarm resume` through the CLI entry point (in-process, SQLite store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio
import yaml

from swarm import AgentStatus, RunStatus, SQLiteStore
from swarm.cli.app import main


def write_plan(folder: Path) -> Path:
    plan = {
        "base": {"prompt": "shared context"},
        "agents": [{"id": f"a{i}", "prompt": f"task {i}"} for i in range(3)],
        "backend": {"name": "simulated", "simulated": {"latency_s": 0.01, "jitter": 0}},
        "store": {"url": "sqlite:///store.db"},
    }
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def interrupt_agent(run_id: str, agent_id: str) -> None:
    """Make the stored run look killed mid-way: one agent back to running, the run running."""

    async def edit() -> None:
        store = await SQLiteStore.open(Path("store.db"))
        try:
            run = await store.get_run(run_id)
            assert run is not None
            await store.save_run(run.evolve(status=RunStatus.RUNNING, ended_at=None))
            (agent,) = [a for a in await store.list_agents(run_id) if a.agent_id == agent_id]
            await store.save_agents(run_id, [agent.evolve(status=AgentStatus.RUNNING)])
        finally:
            await store.aclose()

    trio.run(edit)


def test_resume_runs_what_is_left_and_prints_the_result(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a run, resume says there is nothing to do; after a "crash", it finishes the run."""
    plan = write_plan(in_tmp_cwd)
    assert main(["run", str(plan), "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]

    assert main(["resume", run_id, "--store", "sqlite:///store.db", "--json"]) == 0
    captured = capsys.readouterr()
    assert "nothing to resume" in captured.err
    assert json.loads(captured.out)["status"] == "succeeded"

    interrupt_agent(run_id, "a1")
    assert main(["resume", "latest", "--store", "sqlite:///store.db", "--json"]) == 0
    captured = capsys.readouterr()
    assert "nothing to resume" not in captured.err
    document = json.loads(captured.out)
    assert {a["agent_id"]: a["status"] for a in document["agents"]} == dict.fromkeys(
        ("a0", "a1", "a2"), "succeeded"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["resume", "nope", "--store", "sqlite:///store.db"], "no run 'nope' in the store"),
        (["resume", "latest", "--on-resume", "later"], "expected continue or restart"),
    ],
)
def test_bad_resume_arguments_exit_2(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """An unknown run or a bad --on-resume is a one-line error with exit code 2."""
    write_plan(in_tmp_cwd)
    assert main(["run", "plan.yaml", "-q"]) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_see_again_names_the_store_unless_it_is_the_default(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run` and `resume` print a `swarm runs show` hint that finds the run: with --store
    for another store, without it for the default one, and none for a memory store."""
    monkeypatch.setenv("COLUMNS", "200")
    write_plan(in_tmp_cwd)
    assert main(["run", "plan.yaml", "--store", "sqlite:///other.db"]) == 0
    hint = capsys.readouterr().out.splitlines()[-1]
    run_id = hint.split()[6]
    assert hint == f"see it again: swarm runs show {run_id} --store sqlite:///other.db"
    assert main(["resume", run_id, "--store", "sqlite:///other.db"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == hint
    assert main(hint.removeprefix("see it again: swarm ").split()) == 0  # the hint works
    assert run_id in capsys.readouterr().out

    monkeypatch.setenv("SWARM_STORE", "sqlite:///other.db")  # now it is the default
    assert main(["resume", run_id]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"see it again: swarm runs show {run_id}"

    assert main(["run", "plan.yaml", "--store", "memory://"]) == 0
    assert "see it again" not in capsys.readouterr().out
