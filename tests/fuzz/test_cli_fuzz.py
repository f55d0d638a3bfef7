"""Command lines fuzzed with hypothesis: every one ends in exit 0, 1 or 2 with a clear
message, never a traceback; odd ids and store URLs are refused in plain words."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarm.cli import main
from swarm.stores import is_sqlite_file

PLAN = """\
base: {prompt: shared}
backend: {name: simulated, simulated: {latency_s: 0, jitter: 0}}
store: {url: "sqlite:///store.db"}
agents:
  - {id: a, prompt: do a}
"""

COMMANDS = [
    ["run"], ["validate"], ["schema"], ["history"], ["resume"], ["runs", "list"],
    ["runs", "show"], ["checkpoints"], ["sessions"], ["store", "verify"], ["store", "repair"],
    ["export"], ["gc"], ["runs"], ["store"], ["nonsense"], [],
    ["sessions", "list"], ["sessions", "show"], ["checkpoints", "list"], ["checkpoints", "show"],
    ["checkpoints", "create", "s", "--name"], ["export", "latest", "-o"], ["gc", "--ttl"],
    ["sessions", "list", "--since"],
]  # fmt: skip
TOKENS = st.sampled_from(
    [
        "plan.yaml",
        "bad.yaml",
        "missing.yaml",
        "latest",
        "a",
        "run-1",
        "--json",
        "-q",
        "--store",
        "--max-parallel",
        "--mode",
        "--backend",
        "--limit",
        "--config",
        "--full",
        "--log-level",
        "--help",
        "--ttl",
        "--since",
        "--status",
        "--kind",
        "--output",
        "-o",
        "--format",
        "--force",
        "--name",
        "99999999999999999999d",
        "99999999999999d",
        "1e999d",
        "bogus",
        "/nonexistent/dir/x.json",
        "/proc/version",
        ".",
        "0",
        "-1",
        "1e9",
        "abc",
        "window",
        "batch",
        "simulated",
        "claude",
        "memory://",
        "sqlite:///store.db",
        "store.db",
        "store.db-wal",
        "sqlite:///other.db?mode=zz",
        "junk://x",
        "sqlite://[bad/x.db",
        "sqlite:///x.db?max_size_mb=-3",
        "../../etc/passwd",
        "a/../b",
        "..",
        "a\x00b",
        "é" * 3,
        "x" * 80,
        "--",
        "-",
        "",
    ]
)


@pytest.fixture
def workdir(in_tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with one valid plan, one broken plan, and no SWARM_STORE."""
    monkeypatch.delenv("SWARM_STORE", raising=False)
    (in_tmp_cwd / "plan.yaml").write_text(PLAN)
    (in_tmp_cwd / "bad.yaml").write_text("base: [\n")
    return in_tmp_cwd


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(command=st.sampled_from(COMMANDS), rest=st.lists(TOKENS, max_size=5))
def test_junk_command_lines_never_print_a_traceback(
    workdir: Path, capsys: pytest.CaptureFixture[str], command: list[str], rest: list[str]
) -> None:
    """Any mix of commands, options and odd values exits 0, 1 or 2, and says why if not 0;
    a store made by an earlier example is still a SQLite database afterwards."""
    store = workdir / "store.db"
    was_a_database = store.is_file() and is_sqlite_file(store)
    code = main([*command, *rest])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code in (0, 1, 2), (command, rest, code, err)
    if code != 0:  # an error line, a usage message, or the help of a bare group
        assert (out + err).strip(), (command, rest)
    if was_a_database:
        assert is_sqlite_file(store), (command, rest)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["runs", "show", "../../etc/passwd"], "is not a run id"),
        (["runs", "show", "a/b"], "is not a run id"),
        (["history", "..", "a"], "is not a run id"),
        (["resume", "x\x00y"], "is not a run id"),
        (["runs", "list", "--store", "sqlite:///x\x01.db"], "control character"),
        (["runs", "list", "--store", "sqlite://[x/y.db"], "Invalid IPv6 URL"),
        (["runs", "list", "--store", "sqlite:///x.db?mode=zz"], "mode must be rw or ro"),
        (["runs", "list", "--store", "sqlite:///x.db?colour=red"], "unknown option 'colour'"),
        (["store", "verify", "--store", "ftp://host/x.db"], "expected sqlite:///path"),
    ],
)
def test_odd_ids_and_store_urls_are_refused_clearly(
    workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    """Path traversal and odd characters in run ids and store URLs: exit 2, one clear line."""
    code = main(["--log-level", "error", *argv, "--store", "memory://"][: len(argv) + 2])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert err.startswith("swarm: error:") and expected in err
    assert not any(p.name.startswith("x") for p in workdir.iterdir())


def test_plan_agent_ids_with_path_traversal_are_refused(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An agent id like `../evil` in a plan is a plan error naming the file, line and field."""
    (workdir / "evil.yaml").write_text(PLAN.replace("{id: a,", '{id: "../evil",'))
    code = main(["validate", "evil.yaml"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "swarm: error: evil.yaml:5: agents[0].id: expected letters, digits" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["export", "latest", "-o", "/nonexistent/dir/x.json"], "the folder /nonexistent/dir does"),
        (["export", "latest", "-o", "."], "--output .: is a folder"),
        (["export", "latest", "-o", "/proc/version", "--force"], "--output /proc/version: cannot"),
        (["export", "latest", "-o", "plan.yaml"], "plan.yaml: already exists; pass --force"),
        (["export", "latest", "-o", "store.db", "--force"], "store.db: is the store in use"),
        (["gc", "--ttl", "99999999999999999999d"], "--ttl '99999999999999999999d' is too long"),
        (["gc", "--ttl", "1" + "0" * 400 + "s"], "is too long: expected at most 999999999 days"),
        (["sessions", "list", "--since", "99999999999999d"], "is too long"),
        (["sessions", "list", "--since", "99999999d"], "reaches back before the year 1"),
        (["sessions", "list", "--status", "bogus"], "--status: invalid value 'bogus' (expected"),
        (["checkpoints", "list", "--kind", "bogus"], "--kind: invalid value 'bogus' (expected"),
        (["checkpoints", "show", "n"], "no checkpoint 'n'"),
        (["checkpoints", "create", "x", "--name", "../up"], "no session 'x'"),
    ],
)
def test_values_past_the_limits_are_refused_in_one_line(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    expected: str,
) -> None:
    """Unwritable export paths, durations past any calendar and unknown filter values: exit 2
    with one `swarm: error:` line, never a traceback."""
    monkeypatch.setenv("SWARM_STORE", "sqlite:///store.db")  # where the plan writes
    assert main(["run", "plan.yaml", "-q"]) == 0
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    assert err.startswith("swarm: error:") and err.count("\n") == 1, err
    assert expected in err, err
