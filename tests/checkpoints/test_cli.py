"""The checkpoint, fork, sessions, export and gc commands, in-process on a SQLite store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from swarm.cli import main

from .helpers import PLAN, cli_json, run_plan_cli

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def ran(in_tmp_cwd: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A finished run of a -> (b, c) with files and checkpoints every 2 messages."""
    monkeypatch.setenv("SWARM_STORE", "sqlite:///store.db")  # where the plan writes
    return run_plan_cli(in_tmp_cwd, capsys)  # type: ignore[no-any-return]


def session_of(run: dict[str, Any], agent_id: str) -> str:
    (agent,) = [a for a in run["agents"] if a["agent_id"] == agent_id]
    return str(agent["session_id"])


def final_of(capsys: Capsys, session: str) -> dict[str, Any]:
    code, checkpoints = cli_json(capsys, "checkpoints", "list", session[:10])
    assert code == 0
    (final,) = [c for c in checkpoints if c["kind"] == "final"]
    return final  # type: ignore[no-any-return]


def test_checkpoints_list_of_a_session_a_run_and_a_kind(
    ran: dict[str, Any], capsys: Capsys
) -> None:
    """`checkpoints list` takes a session prefix, --run/--agent and --kind filters."""
    a = session_of(ran, "a")
    code, mine = cli_json(capsys, "checkpoints", "list", a[:8])
    assert code == 0
    # base 2 messages; a: user + 3 turns -> auto at own 2, then final at own 4 (message 6).
    assert [(c["kind"], c["message_count"]) for c in mine] == [("auto", 4), ("final", 6)]
    assert {c["session_id"] for c in mine} == {a}
    _, of_run = cli_json(capsys, "checkpoints", "list", "--run", ran["run_id"], "--kind", "final")
    assert sorted(c["session_id"] for c in of_run) == sorted(
        session_of(ran, x) for x in ("a", "b", "c")
    )
    _, of_agent = cli_json(capsys, "checkpoints", "list", "--run", "latest", "--agent", "c")
    assert {c["session_id"] for c in of_agent} == {session_of(ran, "c")}
    assert main(["checkpoints", "list", a[:8]]) == 0
    assert "final" in capsys.readouterr().out


def test_checkpoints_show_and_create(ran: dict[str, Any], capsys: Capsys) -> None:
    """`show` prints one checkpoint; `create --name` takes a named one at a chosen message."""
    b = session_of(ran, "b")
    final = final_of(capsys, b)
    code, shown = cli_json(capsys, "checkpoints", "show", final["checkpoint_id"][:12])
    assert code == 0 and shown["checkpoint_id"] == final["checkpoint_id"]
    assert shown["run_id"] == ran["run_id"] and shown["agent_id"] == "b"
    assert shown["files_modified"] == ["a.py", "b.py", "shared.py"]
    code, made = cli_json(
        capsys,
        "checkpoints",
        "create",
        b[:8],
        "--name",
        "good state",
        "--message",
        shown["message_uuid"],
    )
    assert code == 0 and made["kind"] == "named" and made["description"] == "good state"
    assert made["message_count"] == shown["message_count"]
    _, by_name = cli_json(capsys, "checkpoints", "show", "good state")
    assert by_name["checkpoint_id"] == made["checkpoint_id"]
    assert main(["checkpoints", "show", "good state"]) == 0
    assert "swarm fork" in capsys.readouterr().out


def test_checkpoint_errors_exit_2(ran: dict[str, Any], capsys: Capsys) -> None:
    """Unknown ids and a duplicate name exit 2 with one `swarm: error:` line, no traceback."""
    assert main(["checkpoints", "show", "nope"]) == 2
    assert capsys.readouterr().err.startswith("swarm: error: no checkpoint 'nope'")
    assert main(["checkpoints", "create", "nope", "--name", "x"]) == 2
    assert "no session 'nope'" in capsys.readouterr().err
    a = session_of(ran, "a")
    assert main(["checkpoints", "create", a, "--name", "x"]) == 0
    capsys.readouterr()
    assert main(["checkpoints", "create", a, "--name", "x"]) == 2
    err = capsys.readouterr().err
    assert "already has a checkpoint named 'x'" in err and "Traceback" not in err


def test_checkpoints_diff(ran: dict[str, Any], capsys: Capsys) -> None:
    """`diff A B` reports message, token and cost deltas and the three file lists."""
    a, c = final_of(capsys, session_of(ran, "a")), final_of(capsys, session_of(ran, "c"))
    code, diff = cli_json(
        capsys, "checkpoints", "diff", a["checkpoint_id"], c["checkpoint_id"], "--messages"
    )
    assert code == 0
    assert diff["linear"] is True and diff["messages"] == 4
    assert diff["usage"]["total"] == c["usage"]["input_tokens"] + c["usage"]["output_tokens"] - (
        a["usage"]["input_tokens"] + a["usage"]["output_tokens"]
    )
    assert diff["files"] == {"added": ["c.py"], "removed": [], "modified": []}
    assert len(diff["messages_only_in_b"]) == 4 and diff["cost_usd"] == 0.0
    assert main(["checkpoints", "diff", a["checkpoint_id"], c["checkpoint_id"]]) == 0
    out = capsys.readouterr().out
    assert "files added    c.py" in out and "messages +4" in out


def test_fork_from_a_checkpoint_branches_and_keeps_the_original(
    ran: dict[str, Any], capsys: Capsys
) -> None:
    """`swarm fork` runs a new session at the checkpoint; the original session is unchanged."""
    a = session_of(ran, "a")
    _, checkpoints = cli_json(capsys, "checkpoints", "list", a)
    auto = checkpoints[0]
    _, before = cli_json(capsys, "sessions", "show", a)
    code, forked = cli_json(
        capsys, "fork", auto["checkpoint_id"][:10], "--prompt", "redo it", "--backend", "simulated"
    )
    assert code == 0 and forked["status"] == "succeeded"
    (agent,) = forked["agents"]
    assert agent["agent_id"] == "a-fork" and agent["parent_session_id"] == a
    assert (
        agent["fork_point"] == auto["message_uuid"] and forked["session_id"] == agent["session_id"]
    )
    _, after = cli_json(capsys, "sessions", "show", a)
    assert after["own_message_count"] == before["own_message_count"]
    assert after["checkpoints"] == before["checkpoints"]
    assert [c["session_id"] for c in after["children"]] == [
        session_of(ran, "b"),
        session_of(ran, "c"),
        agent["session_id"],
    ]
    _, new = cli_json(capsys, "sessions", "show", agent["session_id"])
    assert [link["agent_id"] for link in new["lineage"]] == [None, "a", "a-fork"]
    assert new["lineage"][-1]["fork_point"] == auto["message_uuid"]
    assert main(["fork", "nope", "--prompt", "x"]) == 2


def test_sessions_list_filters(ran: dict[str, Any], capsys: Capsys) -> None:
    """`sessions list` filters by run, agent, status and start time."""
    code, every = cli_json(capsys, "sessions", "list")
    assert code == 0 and len(every) == 4
    assert {s["status"] for s in every} == {"base", "succeeded"}
    _, only_b = cli_json(capsys, "sessions", "list", "--run", ran["run_id"][:12], "--agent", "b")
    assert [s["session_id"] for s in only_b] == [session_of(ran, "b")]
    _, bases = cli_json(capsys, "sessions", "list", "--status", "base")
    assert [s["session_id"] for s in bases] == [ran["base_session_id"]]
    assert bases[0]["metadata"]["swarm_version"] and bases[0]["metadata"]["cwd"]
    _, recent = cli_json(capsys, "sessions", "list", "--since", "1h")
    assert len(recent) == 4
    _, future = cli_json(capsys, "sessions", "list", "--since", "2999-01-01")
    assert future == []
    assert main(["sessions", "list", "--since", "soon"]) == 2
    assert "--since 'soon'" in capsys.readouterr().err


def test_sessions_tree_and_show(ran: dict[str, Any], capsys: Capsys) -> None:
    """`sessions tree` nests base, forks and forks of forks; `show` gives one session."""
    code, tree = cli_json(capsys, "sessions", "tree", "latest")
    assert code == 0 and tree["run_id"] == ran["run_id"]
    (root,) = tree["roots"]
    assert root["session_id"] == ran["base_session_id"] and root["status"] == "base"
    (a,) = root["children"]
    assert a["agent_id"] == "a"
    assert sorted(child["agent_id"] for child in a["children"]) == ["b", "c"]
    assert main(["sessions", "tree", ran["run_id"]]) == 0
    out = capsys.readouterr().out
    assert f"run {ran['run_id']}" in out and "└──" in out and "(succeeded)" in out
    code, shown = cli_json(capsys, "sessions", "show", session_of(ran, "b")[:8])
    assert code == 0 and shown["agent_id"] == "b" and shown["own_message_count"] == 4
    assert shown["message_count"] == 10
    assert main(["sessions", "show", session_of(ran, "b")]) == 0
    assert "lineage:" in capsys.readouterr().out
    assert main(["sessions", "show", "zzz"]) == 2


def test_export_formats(ran: dict[str, Any], capsys: Capsys, in_tmp_cwd: Path) -> None:
    """`export` writes json, jsonl, csv and md with every session and message of the run."""
    assert main(["export", "latest", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["run"]["run_id"] == ran["run_id"] and len(document["sessions"]) == 4
    messages = sum(len(s["messages"]) for s in document["sessions"])
    assert messages == 2 + 3 * 4
    assert main(["export", ran["run_id"], "--format", "jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [line["type"] for line in lines]
    assert kinds[0] == "run" and kinds.count("message") == messages and "checkpoint" in kinds
    target = in_tmp_cwd / "out.csv"
    assert main(["export", "latest", "--format", "csv", "--output", str(target)]) == 0
    assert "wrote" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == messages and rows[0]["role"] == "user"
    assert main(["export", "latest", "-f", "md"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith(f"# Run {ran['run_id']}") and "## Session" in markdown
    assert main(["export", "latest", "--format", "xml"]) == 2


def table_rows(out: str, first: str) -> list[list[str]]:
    """The cells (split on blanks) of the table lines whose first cell starts ``first``."""
    return [line.split() for line in out.splitlines() if line.strip().startswith(first)]


def test_sessions_and_checkpoints_lists_fit_80_columns(
    in_tmp_cwd: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80 columns the run id shows whole, statuses are never cut, a long agent id folds,
    and the short session and checkpoint ids are prefixes the other commands accept."""
    monkeypatch.setenv("SWARM_STORE", "sqlite:///store.db")
    long_id = "an-agent-id-long-enough-that-the-agent-column-must-fold-it"
    plan = run_plan_cli(in_tmp_cwd, capsys, PLAN.replace("{id: c,", f"{{id: {long_id},"))
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["sessions", "list"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out
    assert f"run {plan['run_id']}: 4 sessions" in out
    assert long_id not in out and long_id[:16] in out and long_id[-16:] in out  # folded
    rows = table_rows(out, tuple(s["session_id"][:8] for s in plan["agents"]))  # type: ignore[arg-type]
    assert len(rows) == 3 and all("succeeded" in row for row in rows)
    assert main(["sessions", "show", rows[0][0], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["session_id"].startswith(rows[0][0])
    assert main(["checkpoints", "list"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out
    (final, *_) = [row for row in table_rows(out, "") if "final" in row]
    assert main(["checkpoints", "show", final[0], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["checkpoint_id"].startswith(final[0]) and shown["kind"] == "final"
    assert shown["session_id"].startswith(final[1])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["sessions", "list", "--status", "bogus"],
            "--status: invalid value 'bogus' (expected base, pending, running, succeeded, "
            "failed, timed_out, cancelled, skipped or unknown)",
        ),
        (
            ["checkpoints", "list", "--kind", "bogus"],
            "--kind: invalid value 'bogus' (expected auto, final, fork or named)",
        ),
    ],
)
def test_filter_values_no_record_can_have_are_refused(
    ran: dict[str, Any], capsys: Capsys, args: list[str], expected: str
) -> None:
    """A --status or --kind no record can have is exit 2 naming the valid choices, not an
    empty table."""
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err == f"swarm: error: {expected}\n" and captured.out == ""
    valid = "base" if args[0] == "sessions" else "final"
    code, found = cli_json(capsys, *args[:3], valid)
    assert code == 0 and found


def test_checkpoint_names_by_prefix_ambiguity_and_bad_names(
    ran: dict[str, Any], capsys: Capsys
) -> None:
    """`show before` finds "before refactor"; `n` among n1..n4 is ambiguous and lists them;
    names with path separators, a leading '.' or control characters are refused."""
    a = session_of(ran, "a")
    for name in ("before refactor", "n1", "n2", "n3", "n4"):
        assert main(["checkpoints", "create", a, "--name", name]) == 0
    capsys.readouterr()
    code, shown = cli_json(capsys, "checkpoints", "show", "before")
    assert code == 0 and shown["description"] == "before refactor"
    assert main(["checkpoints", "show", "n"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("swarm: error: checkpoint 'n' is ambiguous: 4 match (")
    assert all(f"'n{i}'" in err for i in range(1, 5)) and err.count("\n") == 1
    for bad in ("../../etc/passwd", "a/b", ".hidden", "tab\there"):
        assert main(["checkpoints", "create", a, "--name", bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("swarm: error: checkpoint name ") and err.count("\n") == 1
    _, named = cli_json(capsys, "checkpoints", "list", "--kind", "named")
    assert len(named) == 5


def test_diff_says_which_checkpoint_continues_which(ran: dict[str, Any], capsys: Capsys) -> None:
    """An ancestor and its descendant, either way round, are not "different branches"."""
    a = final_of(capsys, session_of(ran, "a"))["checkpoint_id"]
    b = final_of(capsys, session_of(ran, "b"))["checkpoint_id"]
    c = final_of(capsys, session_of(ran, "c"))["checkpoint_id"]
    expected = {
        (a, b): "b continues a",
        (b, a): "a continues b",
        (a, a): "a and b are the same point",
        (b, c): "a and b are on different branches",
    }
    for (first, second), relation in expected.items():
        assert main(["checkpoints", "diff", first, second]) == 0
        assert relation in capsys.readouterr().out
        _, document = cli_json(capsys, "checkpoints", "diff", first, second)
        assert document["relation"].startswith(relation)


SKIPPING = """\
name: skips
base: {prompt: shared}
backend: {name: simulated, simulated: {latency_s: 0.001, jitter: 0}}
store: {url: "sqlite:///store.db"}
agents:
  - {id: a, prompt: do a, simulated: {failure_rate: 1}}
  - {id: b, prompt: do b, fork_from: {agent: a}}
"""


def test_history_of_a_skipped_agent_says_why(
    in_tmp_cwd: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`history` of a skipped agent shows the skip reason and that it has no session,
    not "forked from - at its end"; a failed agent shows its error and its lineage."""
    monkeypatch.setenv("SWARM_STORE", "sqlite:///store.db")
    (in_tmp_cwd / "plan.yaml").write_text(SKIPPING)
    assert main(["run", "plan.yaml", "-q"]) == 1
    capsys.readouterr()
    assert main(["history", "latest", "b"]) == 0
    out = capsys.readouterr().out
    assert "reason: it forks from agent 'a', which ended failed" in out
    assert "no session: the agent never started" in out and "forked from -" not in out
    _, document = cli_json(capsys, "history", "latest", "b")
    assert document["error"] == "skipped: it forks from agent 'a', which ended failed"
    assert main(["history", "latest", "a"]) == 0
    out = capsys.readouterr().out
    assert "error: simulated failure" in out and "forked from session " in out


def test_auto_checkpoint_note_counts_own_messages(ran: dict[str, Any], capsys: Capsys) -> None:
    """The note of an automatic checkpoint says it counts the session's own messages, so
    it cannot be read against the msgs column, which includes inherited ones."""
    _, checkpoints = cli_json(capsys, "checkpoints", "list", session_of(ran, "a"), "--kind", "auto")
    (auto,) = checkpoints
    assert auto["description"] == "auto: after 2 own messages" and auto["message_count"] == 4


def test_gc_lists_what_it_deleted_apart_from_what_it_kept(
    in_tmp_cwd: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gc` prints the deleted runs under "deleted 1 run" and the kept ones under their own
    title; a kept run never appears among the deleted."""
    monkeypatch.setenv("SWARM_STORE", "sqlite:///store.db")
    first = run_plan_cli(in_tmp_cwd, capsys)
    second = run_plan_cli(in_tmp_cwd, capsys)
    _, checkpoints = cli_json(
        capsys, "checkpoints", "list", "--run", first["run_id"], "--agent", "b"
    )
    assert cli_json(capsys, "fork", checkpoints[-1]["checkpoint_id"], "--prompt", "again")[0] == 0
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["gc", "--max-runs", "1"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    out = "\n".join(line.rstrip() for line in out.splitlines())
    deleted, kept = out.split("kept 1 run that forks still need")
    assert deleted.lstrip().startswith("deleted 1 run\n") and second["run_id"] in deleted
    assert first["run_id"] not in deleted and first["run_id"] in kept
    assert out.rstrip().endswith("kept 2 runs in all")
