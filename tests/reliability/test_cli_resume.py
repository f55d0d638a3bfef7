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
