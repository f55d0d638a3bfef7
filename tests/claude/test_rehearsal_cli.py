"""``swarm run PLAN --backend claude --rehearse`` and ``swarm history`` on the example plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swarm.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plan.yaml"

pytestmark = pytest.mark.cli


def test_the_example_plan_rehearses_with_real_sessions_then_history_shows_them(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example runs unchanged on real CLI sessions; history shows an agent's lineage."""
    store = f"sqlite:///{in_tmp_cwd / 'swarm.db'}"
    code = main(
        ["run", str(EXAMPLE), "--backend", "claude", "--rehearse", "--json", "--store", store]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    base = result["base_session_id"]
    sessions = [a["session_id"] for a in result["agents"]]
    assert len(set(sessions)) == len(sessions) >= 6 and base not in sessions
    assert all(a["parent_session_id"] == base for a in result["agents"])
    assert all(
        not a["output_is_simulated"] and "rehearsal" in a["output"] for a in result["agents"]
    )

    agent = result["agents"][0]
    assert (
        main(["history", result["run_id"], agent["agent_id"], "--full", "--json", "--store", store])
        == 0
    )
    history = json.loads(capsys.readouterr().out)
    assert history["session_id"] == agent["session_id"]
    assert history["parent_session_id"] == base
    roles = [m["role"] for m in history["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]  # base turn, then its own
    assert {m["session_id"] for m in history["messages"]} == {base, agent["session_id"]}


def test_rehearse_refuses_another_backend(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--rehearse with --backend simulated is a usage error naming --backend claude."""
    code = main(
        ["run", str(EXAMPLE), "--backend", "simulated", "--rehearse", "--store", "memory://"]
    )
    assert code == 2
    assert "--backend claude" in capsys.readouterr().err


def test_a_rehearse_config_alone_rehearses_with_that_script(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--rehearse-config FILE` without `--rehearse` rehearses (never silently ignored):
    with no credentials at all, the run succeeds with the script's reply."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(in_tmp_cwd))  # no Claude login here either
    (in_tmp_cwd / "plan.yaml").write_text(
        "base: {prompt: shared}\nagents: [{id: a, prompt: 'say the word'}]\n"
    )
    (in_tmp_cwd / "rules.yaml").write_text("- {match: 'say the word', text: 'scripted word'}\n")
    store = f"sqlite:///{in_tmp_cwd / 'swarm.db'}"
    code = main(["run", "plan.yaml", "--rehearse-config", "rules.yaml", "--json", "--store", store])
    out = capsys.readouterr().out
    assert code == 0, out
    (agent,) = json.loads(out)["agents"]
    assert "scripted word" in agent["output"]
