"""The command line: exit codes, --json documents, and reading runs back later."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from swarm.cli import main

PLAN = """\
name: cli-test
base: {prompt: shared}
execution: {max_parallel: 2}
backend: {name: simulated, simulated: {latency_s: 0.01, jitter: 0}}
store: {url: "sqlite:///store.db"}
agents:
  - {id: a, prompt: do a, priority: high}
  - {id: b, prompt: do b}
  - {id: c, prompt: do c, priority: low}
"""


def write_plan(directory: Path, text: str = PLAN, name: str = "plan.yaml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_run_json_document(in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`swarm run --json` prints one document with per-agent results and metrics; exit 0."""
    code, doc = run_json(capsys, "run", str(write_plan(in_tmp_cwd)))
    assert code == 0
    assert doc["status"] == "succeeded" and doc["run_id"]
    assert [a["agent_id"] for a in doc["agents"]] == ["a", "b", "c"]
    for agent in doc["agents"]:
        assert agent["status"] == "succeeded"
        assert agent["session_id"] and agent["parent_session_id"] == doc["base_session_id"]
        assert agent["output_is_simulated"] is True
        assert "simulated" in agent["output"]
        for key in ("started_at", "ended_at", "duration_s", "turns", "usage", "cost_usd", "error"):
            assert key in agent
    for key in (
        "wall_s",
        "total_agent_s",
        "speedup",
        "peak_concurrency",
        "efficiency",
        "makespan_lower_bound_s",
        "usage",
        "cost_usd",
    ):
        assert key in doc["metrics"]
    assert doc["metrics"]["peak_concurrency"] == 2


def test_exit_code_1_when_an_agent_fails(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run with a failed agent exits 1 and still reports the others."""
    text = PLAN.replace(
        "{id: b, prompt: do b}", "{id: b, prompt: do b, simulated: {failure_rate: 1}}"
    )
    code, doc = run_json(capsys, "run", str(write_plan(in_tmp_cwd, text)))
    assert code == 1
    statuses = {a["agent_id"]: a["status"] for a in doc["agents"]}
    assert statuses == {"a": "succeeded", "b": "failed", "c": "succeeded"}


def test_exit_code_2_on_a_bad_plan(in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad plan exits 2 with file:line: field, and no traceback."""
    plan = write_plan(in_tmp_cwd, PLAN.replace("priority: high", "priority: hgih"))
    assert main(["run", str(plan)]) == 2
    err = capsys.readouterr().err
    assert f"swarm: error: {plan}:7: agents[0].priority:" in err
    assert "Traceback" not in err
    assert main(["validate", str(plan)]) == 2


@pytest.mark.parametrize(
    "args",
    [
        ["run", "missing.yaml"],
        ["run", "plan.yaml", "--max-parallel", "0"],
        ["run", "plan.yaml", "--mode", "sideways"],
        ["run", "plan.yaml", "--backend", "nope"],
        ["run", "plan.yaml", "--store", "ftp://x"],
        ["run"],
        ["frobnicate"],
        ["runs", "show", "no-such-run", "--store", "sqlite:///store.db"],
        ["--log-level", "loud", "schema"],
    ],
)
def test_exit_code_2_on_bad_arguments(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """Bad arguments or unknown ids exit 2 with a message and no traceback."""
    write_plan(in_tmp_cwd)
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert captured.err.strip()


def test_validate_and_schema(in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`swarm validate` accepts a good plan and `swarm schema` prints JSON Schema."""
    assert main(["validate", str(write_plan(in_tmp_cwd))]) == 0
    assert "ok: 3 agents" in capsys.readouterr().out
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "swarm plan" and "agents" in schema["properties"]


def test_no_backend_named_gives_a_clear_way_forward(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a backend and without credentials, run names --rehearse and --backend simulated."""
    monkeypatch.setenv("HOME", str(in_tmp_cwd))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    plan = write_plan(in_tmp_cwd, PLAN.replace("backend: {name: simulated, ", "backend: {"))
    assert main(["run", str(plan)]) == 2
    err = capsys.readouterr().err
    assert "--rehearse" in err and "--backend simulated" in err


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the swarm command in a new process."""
    return subprocess.run(
        [sys.executable, "-m", "swarm", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_runs_are_readable_from_a_new_process(in_tmp_cwd: Path) -> None:
    """After `swarm run` exits, runs list/show and history find the run in the store."""
    ran = cli("run", "plan.yaml", "--json", cwd=write_plan(in_tmp_cwd).parent)
    assert ran.returncode == 0, ran.stderr
    run_id = json.loads(ran.stdout)["run_id"]
    store = ["--store", "sqlite:///store.db"]
    listed = cli("runs", "list", "--json", *store, cwd=in_tmp_cwd)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run_id]
    shown = json.loads(cli("runs", "show", run_id[:12], "--json", *store, cwd=in_tmp_cwd).stdout)
    assert shown["run_id"] == run_id and len(shown["agents"]) == 3
    assert shown["plan"]["name"] == "cli-test"
    history = json.loads(cli("history", run_id, "b", "--json", *store, cwd=in_tmp_cwd).stdout)
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"]
    assert history["parent_session_id"] == shown["base_session_id"]
    full = json.loads(
        cli("history", "latest", "b", "--full", "--json", *store, cwd=in_tmp_cwd).stdout
    )
    assert len(full["messages"]) == 4  # the base's prompt and reply, then b's own
    table = cli("runs", "show", run_id, *store, cwd=in_tmp_cwd)
    assert table.returncode == 0 and "succeeded" in table.stdout


def test_ctrl_c_exits_130_and_keeps_finished_work(in_tmp_cwd: Path) -> None:
    """SIGINT stops the run: exit 130, finished agents kept, the rest marked cancelled."""
    plan = (
        PLAN.replace("latency_s: 0.01", "latency_s: 0.05")
        .replace(
            "{id: c, prompt: do c, priority: low}",
            "{id: c, prompt: do c, priority: low, simulated: {latency_s: 60}}",
        )
        .replace("max_parallel: 2", "max_parallel: 1")
    )
    write_plan(in_tmp_cwd, plan)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "swarm", "run", "plan.yaml"],
        cwd=in_tmp_cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stderr is not None
    for line in process.stderr:  # plain progress lines, since stderr is not a terminal
        if "started   c" in line:
            break
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    shown = cli("runs", "show", "latest", "--json", "--store", "sqlite:///store.db", cwd=in_tmp_cwd)
    doc = json.loads(shown.stdout)
    assert doc["status"] == "interrupted"
    statuses = {a["agent_id"]: a["status"] for a in doc["agents"]}
    assert statuses == {"a": "succeeded", "b": "succeeded", "c": "cancelled"}
