"""The command line: exit codes, --json documents, and reading runs back later."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from swarm.cli import main
from tests.faults.store_helpers import fill_store, raw

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


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["runs", "list", "--limit", "x"], "--limit: invalid value 'x' (expected a valid integer)"),
        (["runs", "list", "--limit=0"], "--limit: invalid value '0' (expected at least 1)"),
        (
            ["run", "plan.yaml", "--mode", "x"],
            "--mode: invalid value 'x' (expected window or batch)",
        ),
        (
            ["--log-level", "loud", "schema"],
            "--log-level: invalid value 'loud' (expected debug, info, warning or error)",
        ),
        (
            ["export", "latest", "-f", "xml"],
            "--format: invalid value 'xml' (expected json, jsonl, csv or md)",
        ),
        (["runs", "show"], "missing argument RUN (see `swarm runs show --help`)"),
        (
            ["checkpoints", "create", "s"],
            "missing option --name (see `swarm checkpoints create --help`)",
        ),
        (
            ["runs", "list", "--lim", "3"],
            "no such option --lim; did you mean --limit? (see `swarm runs list --help`)",
        ),
        (["frobnicate"], "no such command 'frobnicate' (see `swarm --help`)"),
    ],
)
def test_usage_errors_are_one_line_in_our_words(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], args: list[str], line: str
) -> None:
    """typer's own usage errors print as one `swarm: error:` line naming the value, exit 2."""
    write_plan(in_tmp_cwd)
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err == f"swarm: error: {line}\n"
    assert captured.out == ""


def test_help_shows_no_value_for_flags(capsys: pytest.CaptureFixture[str]) -> None:
    """In help, a flag (--json, --help, --full) shows no `<bool>` type; a valued option
    keeps its type."""
    for args in (["runs", "list", "--help"], ["history", "--help"], ["--help"]):
        assert main(args) == 0
        out = capsys.readouterr().out
        assert "<bool>" not in out, args
        assert "--help" in out
    assert main(["runs", "list", "--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("--limit" in line and "<int" in line for line in lines)
    assert any("--json" in line and "Print one JSON document" in line for line in lines)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["runs", "list"], 0),
        (["runs", "show", "nope"], 2),
        (["runs", "show", "latest"], 2),
        (["history", "latest", "a"], 2),
        (["sessions", "list"], 0),
        (["sessions", "tree", "latest"], 2),
        (["sessions", "show", "abc"], 2),
        (["checkpoints", "list"], 0),
        (["checkpoints", "show", "x"], 2),
        (["checkpoints", "diff", "x", "y"], 2),
        (["checkpoints", "create", "s", "--name", "n"], 2),
        (["export", "latest"], 2),
        (["resume", "latest"], 2),
        (["fork", "x", "--prompt", "p"], 2),
        (["runs", "list", "--store", "sqlite:///deep/er/x.db?mode=rw"], 0),
    ],
)
def test_read_only_commands_never_create_a_store(
    in_tmp_cwd: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: int,
) -> None:
    """Where there is no store, a reading command says so (exit 0 for a list, 2 for an id)
    and creates no file or folder; a list with --json prints []."""
    monkeypatch.delenv("SWARM_STORE", raising=False)
    assert main(args) == code
    captured = capsys.readouterr()
    said = captured.out if code == 0 else captured.err
    where = "deep/er/x.db" if "--store" in args else "sessions/swarm.db"
    prefix = "" if code == 0 else "swarm: error: "
    assert said.startswith(f"{prefix}no store at {where} ("), said
    assert said.endswith("run a plan first)\n") and said.count("\n") == 1
    if code == 0:
        assert main([*args, "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []
    assert list(in_tmp_cwd.iterdir()) == []


def test_a_bad_store_url_is_still_refused_where_there_is_no_file(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no file there, a bad option in the store URL is reported as the user wrote it."""
    assert main(["runs", "list", "--store", "sqlite:///x.db?mode=zz"]) == 2
    assert capsys.readouterr().err == (
        "swarm: error: store URL 'sqlite:///x.db?mode=zz': mode must be rw or ro\n"
    )
    assert list(in_tmp_cwd.iterdir()) == []


def test_runs_list_fits_80_columns_with_whole_run_ids(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80 columns every run id and status is whole; a long name folds instead."""
    long_name = "a-plan-name-long-enough-that-it-has-to-fold-in-the-table"
    text = PLAN.replace("name: cli-test", f"name: {long_name}")
    ids = [run_json(capsys, "run", str(write_plan(in_tmp_cwd, text)))[1]["run_id"]]
    failing = text.replace(
        "{id: b, prompt: do b}", "{id: b, prompt: do b, simulated: {failure_rate: 1}}"
    )
    ids.append(run_json(capsys, "run", str(write_plan(in_tmp_cwd, failing)))[1]["run_id"])
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["runs", "list", "--store", "sqlite:///store.db"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = [line for line in lines if line.strip().startswith(tuple(ids))]
    assert [row.split()[0] for row in rows] == ids[::-1]
    assert "failed" in rows[0].split() and "succeeded" in rows[1].split()
    assert "…" not in "\n".join(lines)


def damaged_store(path: Path) -> None:
    """A store of runs run-0, run-1, run-2 whose run-1 record fails its checksum."""

    async def fill() -> None:
        await (await fill_store(path, runs=3, messages=1)).aclose()

    trio.run(fill)
    conn = raw(path)
    conn.execute("UPDATE runs SET data = replace(data, 'run 1', 'run X') WHERE run_id = 'run-1'")
    conn.close()


def test_one_damaged_run_record_hides_only_itself(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`runs list` shows the readable runs and names the damaged one in one warning line
    pointing to verify/repair; `runs show` of it fails in one line, exit 1."""
    path = in_tmp_cwd / "store.db"
    damaged_store(path)
    store = ["--store", str(path)]
    assert main(["runs", "list", *store]) == 0
    captured = capsys.readouterr()
    assert "run-0" in captured.out and "run-2" in captured.out and "run-1" not in captured.out
    assert captured.err == (
        "swarm: warning: 1 run record damaged, not shown: run-1 (`swarm store verify` says "
        "what is wrong, `swarm store repair` quarantines it)\n"
    )
    code, listed = run_json(capsys, "runs", "list", *store)
    assert code == 0 and sorted(r["run_id"] for r in listed) == ["run-0", "run-2"]
    assert main(["runs", "show", "run-1", *store]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("swarm: error: runs record run-1")
    assert main(["runs", "show", "run-2", *store]) == 0
    capsys.readouterr()


def test_store_verify_and_repair_speak_for_themselves(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """verify/repair never tell you to run `swarm store verify`, and say "schema version
    unknown" for a file they cannot read."""
    junk = in_tmp_cwd / "junk.db"
    junk.write_bytes(b"not a database at all " * 400)
    assert main(["store", "verify", "--store", str(junk)]) == 1
    out = capsys.readouterr().out
    assert "schema version unknown" in out.replace("\n", " ") and "vNone" not in out
    assert "run `swarm store verify`" not in out and "file: " in out
    assert main(["store", "repair", "--store", str(junk)]) == 1
    captured = capsys.readouterr()
    assert "run `swarm store verify`" not in captured.out + captured.err
    assert captured.err.startswith("swarm: error:") and captured.err.count("\n") == 1
    damaged = in_tmp_cwd / "damaged.db"
    damaged_store(damaged)
    assert main(["store", "verify", "--store", str(damaged)]) == 1
    out = capsys.readouterr().out
    assert "schema version 2;" in out.replace("\n", " ")
    assert "\n1 problem; `swarm store repair`" in out


def test_gc_without_a_store_collects_nothing_and_creates_nothing(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`swarm gc` where there is no store says so, exits 0, and leaves the folder empty."""
    monkeypatch.delenv("SWARM_STORE", raising=False)
    assert main(["gc"]) == 0
    assert capsys.readouterr().out == "no store at sessions/swarm.db (nothing to collect)\n"
    assert main(["gc", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"] == []
    assert main(["gc", "--dry-run"]) == 0
    assert capsys.readouterr().out == "no store at sessions/swarm.db (nothing to collect)\n"
    assert list(in_tmp_cwd.iterdir()) == []


def test_an_unforeseen_exception_is_one_line_not_a_traceback(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception no code path anticipated (a bug) prints one `swarm: error:` line naming
    it and exits 1; its traceback shows only with --log-level debug."""
    from swarm import ParallelSwarmExecutor

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug somewhere")

    monkeypatch.setattr(ParallelSwarmExecutor, "run", broken)
    plan = str(write_plan(in_tmp_cwd))
    assert main(["run", plan]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "swarm: error: unexpected RuntimeError: a bug somewhere "
        "(a bug in swarm; --log-level debug shows where)"
    ]
    assert main(["--log-level", "debug", "run", plan]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "a bug somewhere" in err


def test_the_help_listing_matches_each_command() -> None:
    """`swarm --help` lists each command from cli/app.py's table without importing it; each
    line there is the command's own (its docstring's first line, or its group's help)."""
    from swarm.cli.app import COMMANDS, help_line, load_command

    for name, entry in COMMANDS.items():
        command = load_command(name)
        assert command.name == name
        assert help_line(command.help or "") == entry.help, name


def test_the_summary_says_how_long_the_user_waited(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run's summary gives, beside the run's own wall time, the time since the process
    started (imports, plan, store: what the run's wall leaves out), never less than it."""
    assert main(["run", str(write_plan(in_tmp_cwd))]) == 0
    out = " ".join(capsys.readouterr().out.split())
    found = re.search(
        r"wall ([0-9.]+)s \(base [0-9.]+s, agents [0-9.]+s; ([0-9.]+)s since swarm started\)", out
    )
    assert found is not None, out
    assert float(found.group(2)) >= float(found.group(1))
