"""`swarm resume` and `swarm fork` of rehearsed runs, on real Claude Code CLI processes.

There are no Claude credentials here (CLAUDE_CONFIG_DIR is an empty folder), as on a
machine that only ever rehearsed: everything must go to the fake API unless told not to.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
import trio
import yaml

from swarm import AgentStatus, RunStatus, SQLiteStore
from swarm._scratch import CACHE_ENV, host_dir
from swarm.cli import main
from swarm.plan import DEFAULT_CONTINUE_PROMPT

from ..faults.killing import swarm_process
from ..reliability.test_cli_resume import interrupt_agent

pytestmark = pytest.mark.cli

STORE = "sqlite:///store.db"


@pytest.fixture
def no_login(in_tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Claude config dir (no credentials) and wide output; returns the cwd."""
    (in_tmp_cwd / "no-login").mkdir()
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(in_tmp_cwd / "no-login"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("SWARM_STORE", raising=False)
    return in_tmp_cwd


WRITE = {"file_path": "out.txt", "content": "written"}


def write_plan(
    folder: Path,
    agents: int,
    rehearsal: dict[str, Any] | None = None,
    *,
    session_store: bool = True,
    defaults: dict[str, Any] | None = None,
) -> Path:
    options: dict[str, Any] = {"rehearsal": rehearsal or {}}
    if not session_store:
        options["session_store"] = False
    plan = {
        "name": "rehearsed",
        "base": {"prompt": "shared context"},
        "defaults": defaults or {"max_turns": 2, "allowed_tools": []},
        "agents": [{"id": f"a{i}", "prompt": f"task {i}"} for i in range(agents)],
        "execution": {"max_parallel": 2},
        "backend": {"name": "claude", "options": options},
        "store": {"url": STORE},
    }
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def stored_agents(run_id: str) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        store = await SQLiteStore.open(Path("store.db"))
        try:
            return {a.agent_id: a for a in await store.list_agents(run_id)}
        finally:
            await store.aclose()

    return trio.run(read)


def session_messages(session_id: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        store = await SQLiteStore.open(Path("store.db"))
        try:
            return [(m.role, m.content) for m in await store.get_messages(session_id)]
        finally:
            await store.aclose()

    return trio.run(read)


def wait_gone(processes: list[psutil.Process]) -> None:
    """Until every process has exited (orphaned CLIs end once their fake API is gone)."""
    _, alive = psutil.wait_procs(processes, timeout=60)
    still = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not still, f"CLI processes still running after 60 s: {[p.pid for p in still]}"


def session_id_in(line: str) -> str:
    return line.split("session_id=")[1].split()[0]


def session_in_store(db: Path, session_id: str) -> bool:
    """Whether the store file holds the session (read by a connection of its own: what is
    committed only)."""
    if not db.exists():
        return False
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT 1 FROM sessions WHERE session_id = ?", (session_id,))
        return row.fetchone() is not None
    except sqlite3.OperationalError:  # the schema is not made yet
        return False
    finally:
        conn.close()


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def kill_after(
    args: list[str],
    cwd: Path,
    marker: str,
    count: int,
    until: Callable[[str], bool] | None = None,
) -> tuple[int, list[str]]:
    """Start `swarm --log-level debug ARGS`, kill -9 it right after the ``count``-th stderr
    line holding ``marker`` (its own progress is the clock) and, with ``until``, once
    ``until(that line)`` holds; then wait until the Claude Code processes it left have
    ended too; returns its pid and the marked lines."""
    seen: list[str] = []
    with swarm_process("--log-level", "debug", *args, cwd=cwd) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            if marker in line:
                seen.append(line)
                if len(seen) == count:
                    if until is not None:
                        wait_for(lambda line=line: until(line))
                    children = psutil.Process(proc.pid).children(recursive=True)
                    proc.send_signal(signal.SIGKILL)
                    break
        proc.stderr.close()
        assert proc.wait() == -signal.SIGKILL, f"ended before {count} lines with {marker!r}"
    wait_gone(children)
    return proc.pid, seen


def test_a_killed_rehearsal_leaves_nothing_in_the_system_temp_folder(
    no_login: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 of `swarm run --rehearse` while two agents' CLIs run: nothing of it is in the
    system temp folder (not the SDK's claude-resume-* copies of the session, not the CLI's
    own files, not the rehearsal's config dir), all of it is in the killed process's 0700
    scratch folder, and the next start (a plain `swarm resume`, rehearsed again) sweeps
    that folder and finishes the run."""
    temp, cache = no_login / "tmp", no_login / "cache"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # the system temp folder of the child and of us
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setenv(CACHE_ENV, str(cache))
    write_plan(no_login, 3, {"latency": {"ttft": 2.0}})  # agents still waiting at the kill
    # The base's CLI starts first, then two agents' at once (max_parallel 2).
    pid, _ = kill_after(["run", "plan.yaml", "--rehearse"], no_login, "claude.started", 3)
    assert sorted(temp.iterdir()) == []
    (left,) = host_dir().iterdir()
    assert left.name.startswith(f"{pid}-") and stat.S_IMODE(left.stat().st_mode) == 0o700
    resumed = list(left.glob("claude-resume-*"))  # the base's transcript, for both agents
    assert len(resumed) == 2 and all(list(p.glob("projects/*/*.jsonl")) for p in resumed)
    assert len(list(left.glob("rehearsal-*/.claude"))) == 1

    code = main(["resume", "latest", "--store", STORE, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "was a rehearsal: rehearsing again against the fake Messages API" in captured.err
    document = json.loads(captured.out)
    assert {a["status"] for a in document["agents"]} == {"succeeded"}
    assert all("rehearsal" in a["output"] for a in document["agents"])
    assert not left.exists() and sorted(host_dir().iterdir()) == []
    assert sorted(temp.iterdir()) == []


def test_a_killed_rehearsal_without_session_store_continues_from_claude_codes_files(
    no_login: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With `session_store: false` the store mirrors no transcript: kill -9 while an agent
    waits on its second request, then `swarm resume` continues that agent's own session
    from Claude Code's transcript files, which the rehearsal keeps in a config dir that
    outlives it, and the run finishes."""
    write_plan(
        no_login,
        1,
        {
            "rules": [
                {"match": "^task", "tool_uses": [{"name": "Write", "input": WRITE}]},
                # The Write's result comes back slowly; the resume's continuation (the task
                # again or the continue message, sent with that result) is answered at once.
                {
                    "after_tool_result": True,
                    "match": "^(?!.*(interrupted|task 0))(?=.*out\\.txt)",
                    "latency": {"ttft": 60},
                },
            ]
        },
        session_store=False,
        defaults={"max_turns": 3, "allowed_tools": ["Write"], "permission_mode": "acceptEdits"},
    )
    args = ["run", "plan.yaml", "--rehearse"]

    def stored(line: str) -> bool:
        # The journal writes an agent's session behind its log line, within a moment:
        # the kill waits for it (a0 then waits 60 s on its second request).
        return session_in_store(no_login / "store.db", session_id_in(line))

    _, lines = kill_after(args, no_login, "session.started", 2, stored)  # the base's, a0's
    assert "agent_id=a0" in lines[1]
    session = session_id_in(lines[1])

    code = main(["resume", "latest", "--store", STORE, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (a0,) = json.loads(captured.out)["agents"]
    assert (a0["status"], a0["session_id"]) == ("succeeded", session), a0["error"]
    assert (no_login / "out.txt").read_text(encoding="utf-8") == "written"


def test_resume_continues_a_rehearsed_session_from_the_store(
    no_login: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An agent caught mid-way in a rehearsal: --no-rehearse without credentials is refused
    and leaves it resumable; plain resume continues its own session, loaded from the store
    (the first run's config dir is gone), with the continuation message, not its task."""
    write_plan(no_login, 2)
    assert main(["run", "plan.yaml", "--rehearse"]) == 0
    out = capsys.readouterr().out
    title = " ".join(out.split())  # the title wraps at the table's width
    assert "rehearsal: fake Messages API, costs at its pricing, nothing billed" in title
    hint = out.splitlines()[-1]
    run_id = hint.split()[6]
    assert hint == f"see it again: swarm runs show {run_id} --store {STORE}"
    session = stored_agents(run_id)["a0"].session_id
    interrupt_agent(run_id, "a0")

    assert main(["resume", run_id, "--store", STORE, "--no-rehearse"]) == 2
    err = capsys.readouterr().err
    assert "no Claude credentials were found" in err and "it was a rehearsal" in err
    assert stored_agents(run_id)["a0"].status is AgentStatus.RUNNING  # not made final

    assert main(["resume", run_id, "--store", STORE, "--json"]) == 0
    captured = capsys.readouterr()
    assert "rehearsing again" in captured.err
    (a0,) = [a for a in json.loads(captured.out)["agents"] if a["agent_id"] == "a0"]
    assert a0["status"] == "succeeded" and a0["session_id"] == session
    messages = session_messages(session)
    assert [role for role, _ in messages] == ["user", "assistant", "user", "assistant"]
    assert [text for role, text in messages if role == "user"] == [
        "task 0",
        DEFAULT_CONTINUE_PROMPT,
    ]


def test_fork_of_a_rehearsal_rehearses_and_says_plainly_when_it_failed(
    no_login: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`swarm fork` of a rehearsal's checkpoint is rehearsed by default; a fork whose agent
    fails says so and exits 1; --no-rehearse without credentials is refused up front."""
    write_plan(no_login, 1)
    assert main(["run", "plan.yaml", "--rehearse", "-q"]) == 0
    capsys.readouterr()
    listing = ["checkpoints", "list", "--run", "latest", "--kind", "final", "--json"]
    assert main([*listing, "--store", STORE]) == 0
    (final,) = json.loads(capsys.readouterr().out)
    checkpoint = final["checkpoint_id"][:12]

    assert main(["fork", checkpoint, "--prompt", "another way", "--store", STORE]) == 0
    captured = capsys.readouterr()
    assert "was a rehearsal: rehearsing again" in captured.err
    assert "rehearsal: fake Messages API" in " ".join(captured.out.split())
    assert "branches from session" in captured.out

    failing = no_login / "fail.yaml"
    failing.write_text("rules: [{error: {type: invalid_request_error}}]\n", encoding="utf-8")
    fork = ["fork", checkpoint, "--prompt", "x", "--store", STORE]
    assert main([*fork, "--rehearse-config", str(failing)]) == 1
    captured = capsys.readouterr()
    assert "the fork failed: agent a0-fork failed" in captured.err
    assert "branches from" not in captured.out

    assert main([*fork, "--no-rehearse"]) == 2
    assert "no Claude credentials were found" in capsys.readouterr().err

    assert main(["runs", "list", "--json", "--store", STORE]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert len(runs) == 3 and all(r["rehearsal"] is not None for r in runs)


def test_resume_of_a_finished_rehearsal_needs_no_credentials(
    no_login: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A finished rehearsal: `swarm resume` (plain, --rehearse, --no-rehearse) says nothing
    to resume and exits 0 without credentials, writing nothing; killed after its last agent
    but before the run was closed, --no-rehearse closes it the same way: nothing to run,
    so no backend, no fake API, no credentials."""
    write_plan(no_login, 1)
    assert main(["run", "plan.yaml", "--rehearse", "-q"]) == 0
    run_id = capsys.readouterr().out.split()[1].rstrip(":")
    before = Path("store.db").read_bytes()
    for flags in ([], ["--rehearse"], ["--no-rehearse"]):
        assert main(["resume", run_id, "--store", STORE, "-q", *flags]) == 0, flags
        captured = capsys.readouterr()
        assert f"run {run_id} already ended (succeeded); nothing to resume" in captured.err
        assert "credentials" not in captured.err and "rehearsing again" not in captured.err
        assert captured.out.startswith(f"run {run_id}: succeeded")
    assert Path("store.db").read_bytes() == before

    async def unclose() -> None:  # as a kill -9 between the last agent and the close
        store = await SQLiteStore.open(Path("store.db"))
        try:
            run = await store.get_run(run_id)
            assert run is not None
            await store.save_run(run.evolve(status=RunStatus.RUNNING, ended_at=None))
        finally:
            await store.aclose()

    trio.run(unclose)
    assert main(["resume", run_id, "--store", STORE, "--json", "--no-rehearse"]) == 0
    captured = capsys.readouterr()
    assert "credentials" not in captured.err, captured.err
    document = json.loads(captured.out)
    assert document["status"] == "succeeded"
    assert [a["status"] for a in document["agents"]] == ["succeeded"]
