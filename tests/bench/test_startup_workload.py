"""The startup workload's figures and gate, and its import check on the real commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from swarm.bench._startup import FLOOR_PROGRAM, NOT_FOR_VALIDATE, PLAN, _imports, summarize


def _raw(help_s: float, heavy: list[str]) -> dict[str, Any]:
    def cmd(wall: float) -> dict[str, Any]:
        return {"wall_s": wall, "cpu_s": wall, "walls": [wall]}

    return {
        "rounds": 1,
        "commands": {
            "python -c pass": cmd(0.05),
            "python -c 'import typer'": cmd(0.15),
            "python -c 'import claude_agent_sdk'": cmd(1.1),
            "floor of validate": cmd(0.35),
            "swarm --help": cmd(help_s),
            "swarm validate plan.yaml": cmd(0.6),
        },
        "first_request_s": 2.5,
        "first_requests": [2.5],
        "heavy_imports": {"swarm --help": heavy, "swarm validate plan.yaml": []},
    }


def test_the_gate_fails_on_a_heavy_import_or_a_slow_help() -> None:
    assert all(c.passed for c in summarize(_raw(0.25, [])).checks)
    heavy = summarize(_raw(0.25, ["swarm.bench"])).checks
    assert [c.passed for c in heavy] == [False, True] and "swarm.bench" in heavy[0].detail
    assert [c.passed for c in summarize(_raw(0.5, [])).checks] == [True, False]


def test_the_import_check_sees_what_a_command_loads(tmp_path: Path) -> None:
    """The check reads -X importtime of the real command: validate loads none of the
    heavy modules, a command that imports the bench is caught."""
    (tmp_path / "plan.yaml").write_text(PLAN)
    entry = [sys.executable, "-c", "import sys; from swarm.cli import main; sys.exit(main())"]
    assert _imports([*entry, "validate", "plan.yaml"], tmp_path, NOT_FOR_VALIDATE) == []
    bench = [sys.executable, "-c", "import swarm.bench"]
    assert "swarm.bench" in _imports(bench, tmp_path)


def test_the_floor_of_validate_reads_the_plan_with_swarms_libraries_only(tmp_path: Path) -> None:
    """The floor program checks the bench's plan with typer, pydantic and yaml, and loads
    nothing of swarm (it is what validate cannot go below)."""
    (tmp_path / "plan.yaml").write_text(PLAN)
    code = FLOOR_PROGRAM.replace("app()", "app(standalone_mode=False)")
    probe = f"{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe, "plan.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    first, modules = done.stdout.splitlines()
    assert first == "plan.yaml: ok: 1 agents"
    loaded = json.loads(modules)
    assert {"typer", "pydantic", "yaml"} <= set(loaded)
    assert not [m for m in loaded if m == "swarm" or m.startswith("swarm.")]
