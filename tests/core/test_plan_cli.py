"""`swarm validate` and `swarm run` as a user sees them: plan errors, --json, overrides."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from swarm.cli import main

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
