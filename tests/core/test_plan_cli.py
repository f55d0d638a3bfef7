"""`swarm validate` and `swarm run` as a user sees them: plan errors, --json, overrides."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import trio

from swarm.cli import main
from swarm.stores import open_store

PLAN = """\
name: cli-plan
base: {prompt: shared}
backend: {name: simulated, simulated: {latency_s: 0, jitter: 0}}
store: {url: "memory://"}
agents:
  - {id: a, prompt: do a, env: {GITHUB_TOKEN: ghp-secret-value-123, MODE: fast}}
"""


def test_validate_json_redacts_env_secrets(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`swarm validate --json` never prints a secret-named env value."""
    (in_tmp_cwd / "plan.yaml").write_text(PLAN)
    assert main(["validate", "plan.yaml", "--json"]) == 0
    out = capsys.readouterr().out
    document = json.loads(out)
    assert "ghp-secret-value-123" not in out
    assert document["agents"][0]["env"] == {"GITHUB_TOKEN": "[redacted]", "MODE": "fast"}
    assert document["defaults"]["timeout_s"] == 600  # the packaged defaults, from any directory


def test_validate_json_reports_issues_as_json(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad plan with --json prints a JSON document of its issues and exits 2."""
    (in_tmp_cwd / "plan.yaml").write_text(PLAN.replace("do a,", "do a, priority: urgent,"))
    assert main(["validate", "plan.yaml", "--json"]) == 2
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["valid"] is False
    (issue,) = document["issues"]
    assert issue["file"] == "plan.yaml" and issue["line"] == 6
    assert issue["field"] == "agents[0].priority" and "(got 'urgent')" in issue["message"]
    assert "swarm: error: plan.yaml:6: agents[0].priority:" in captured.err


def test_backend_override_errors_name_the_flag(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--backend bogus` names --backend, not an internal placeholder, and runs nothing."""
    (in_tmp_cwd / "plan.yaml").write_text(PLAN)
    assert main(["run", "plan.yaml", "--backend", "bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("swarm: error: --backend: Input should be 'simulated', 'claude'")
    assert "(got 'bogus')" in err and "<override>" not in err
    options = PLAN.replace(
        "name: simulated, simulated: {latency_s",
        "name: claude, options: {cli_path: x}, simulated: {latency_s",
    )
    (in_tmp_cwd / "plan.yaml").write_text(options)
    assert main(["run", "plan.yaml", "--backend", "anthropic"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "swarm: error: --backend: backend.options.cli_path: not an option of the anthropic backend"
    )


@pytest.mark.parametrize("target", ["/dev/zero", "fifo", "."])
def test_run_refuses_files_it_cannot_read_as_a_plan(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    """`swarm run /dev/zero`, a FIFO or a directory ends at once with exit 2 and one line."""
    if target == "fifo":
        os.mkfifo(in_tmp_cwd / target)
    assert main(["run", target]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"swarm: error: {target}: ") and err.count("\n") == 1


STORED = """\
name: stored
base: {BASE}
backend: {name: simulated, simulated: {latency_s: 0, jitter: 0}}
store: {url: "STORE"}
agents:
  - {id: a, prompt: do a AGENT}
"""


def _plan(base: str = "{prompt: shared}", agent: str = "", store: str = "sqlite:///s.db") -> str:
    return STORED.replace("{BASE}", base).replace(" AGENT", agent).replace("STORE", store)


def _base_session(path: Path) -> tuple[str, str]:
    """The base session of the one run in the store at ``path``, and its last message."""

    async def read() -> tuple[str, str]:
        async with open_store(f"sqlite:///{path}") as store:
            (run,) = await store.list_runs()
            assert run.base_session_id is not None
            messages = await store.get_messages(run.base_session_id)
            return run.base_session_id, messages[-1].uuid

    return trio.run(read)


def _run_count(path: Path) -> int:
    async def count() -> int:
        async with open_store(f"sqlite:///{path}") as store:
            return len(await store.list_runs())

    return trio.run(count)


@pytest.mark.parametrize(
    "case", ["session", "session, no store", "base.at", "fork_at", "store dir", "store in a file"]
)
def test_validate_and_run_refuse_the_same_plan_at_the_same_line(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """What only the store or the disk can tell (a base session, base.at or fork_at it does
    not hold; a store path that is a directory or lies under a file) is one `swarm: error:`
    line at the plan's line from `validate` and from `run` alike, exit 2; run writes no run
    and validate creates no store. (`run` failed, exit 1, after building nothing: the base
    "failed" in a log line and every agent was skipped.)"""
    (in_tmp_cwd / "seed.yaml").write_text(_plan())
    assert main(["run", "seed.yaml", "-q"]) == 0
    session, message = _base_session(in_tmp_cwd / "s.db")
    plan, line, field = {
        "session": (_plan("{session: nope}"), 2, "base.session: no session 'nope' in the store"),
        "session, no store": (
            _plan("{session: nope}", store="sqlite:///fresh.db"),
            2,
            "base.session: no session 'nope'",
        ),
        "base.at": (_plan(f"{{session: {session}, at: zz}}"), 2, "base.at: message 'zz' is not"),
        "fork_at": (
            _plan(f"{{session: {session}}}", ", fork_at: zz"),
            6,
            "agents[0].fork_at: message 'zz' is not in the history of the base session",
        ),
        "store dir": (_plan(store="."), 4, "store.url: . is a directory"),
        "store in a file": (_plan(store="sqlite:///seed.yaml/x.db"), 4, "store.url: seed.yaml is"),
    }[case]
    (in_tmp_cwd / "plan.yaml").write_text(plan)
    capsys.readouterr()
    assert main(["validate", "plan.yaml"]) == 2
    validated = capsys.readouterr().err
    assert validated.startswith(f"swarm: error: plan.yaml:{line}: {field}"), validated
    assert validated.count("\n") == 1
    assert not (in_tmp_cwd / "fresh.db").exists()  # validate creates no store
    assert main(["run", "plan.yaml", "-q"]) == 2
    assert capsys.readouterr().err == validated
    assert _run_count(in_tmp_cwd / "s.db") == 1  # the seed run only
    good = _plan(f"{{session: {session}, at: {message}}}", f", fork_at: {message}")
    (in_tmp_cwd / "good.yaml").write_text(good)
    assert main(["validate", "good.yaml"]) == 0
    assert main(["run", "good.yaml", "-q"]) == 0


@pytest.mark.parametrize("backend", ["claude", None])
def test_validate_says_when_run_would_stop_for_want_of_credentials(
    in_tmp_cwd: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    backend: str | None,
) -> None:
    """A valid plan for the claude backend (named, or chosen for want of a name) on a
    machine without Claude credentials: validate passes it (exit 0) and says that `swarm
    run` would stop here; run then stops with exit 2 before anything runs."""
    monkeypatch.setenv("HOME", str(in_tmp_cwd))  # no Claude login here either
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(in_tmp_cwd / "claude"))
    plan = PLAN.replace(
        "backend: {name: simulated, simulated: {latency_s: 0, jitter: 0}}",
        f"backend: {{name: {backend}}}" if backend else "",
    )
    (in_tmp_cwd / "plan.yaml").write_text(plan)
    assert main(["validate", "plan.yaml"]) == 0
    out, err = capsys.readouterr()
    assert "ok: 1 agents" in out
    assert "no Claude credentials were found" in err and "--rehearse" in err
    assert main(["run", "plan.yaml", "-q"]) == 2
    assert "credentials" in capsys.readouterr().err


def test_validate_says_nothing_of_credentials_for_the_simulated_backend(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The note is only for plans that need Claude: a simulated plan validates quietly."""
    (in_tmp_cwd / "plan.yaml").write_text(PLAN)
    assert main(["validate", "plan.yaml"]) == 0
    assert capsys.readouterr().err == ""
