"""The prompt cache through the real Claude Code CLI: forks read the base from it by
default, and a run whose forks missed it says so in its summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from swarm.bench._claude_tokens import ClaudeTokensSetup, measure_layout
from swarm.bench._tokens import repository_digest
from swarm.cli import main

pytestmark = pytest.mark.cli

# Claude Code's own system prompt under --bare (which turns its snapshot off): the mode
# whose per-directory system prompt made every fork in another cwd miss the cache.
PRESET_BARE = {"preset_system_prompt": True, "bare": True}


async def test_forks_in_their_own_directories_read_the_base_from_the_cache() -> None:
    """With the preset system prompt, swarm excludes its per-machine sections by default:
    forks in directories of their own read all they inherited from the cache, write only
    their task, and the run's uncached input stays within 1.10x of base + tasks."""
    setup = ClaudeTokensSetup(agents=2, base_tokens=4_000, options=PRESET_BARE)
    layout = await measure_layout(setup, per_fork_cwd=True)
    for fork in layout["forks"]:
        assert fork["cache_read"] >= 0.95 * layout["inherited"], fork
        assert fork["cache_write"] < 0.05 * layout["inherited"], fork
    assert layout["ratio"] <= 1.10
    assert layout["warned"] == []


def _plan(tmp: Path, options: dict[str, object]) -> Path:
    tmp.mkdir()
    agents = []
    for i in range(2):
        (tmp / f"agent-{i}").mkdir()
        agents.append({"id": f"agent-{i}", "prompt": f"Task {i}.", "cwd": str(tmp / f"agent-{i}")})
    (tmp / "work").mkdir()
    plan = {
        "base": {"prompt": "Read this digest.\n\n" + repository_digest(3_000)},
        "agents": agents,
        "defaults": {"max_turns": 1},
        "backend": {"name": "claude", "options": {"cwd": str(tmp / "work"), **options}},
    }
    path = tmp / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


def test_the_summary_warns_when_forks_missed_the_cache(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Opting out of the exclusion (exclude_dynamic_sections: false) under --bare, forks in
    other directories write their whole inherited history to the cache: the run's summary
    ends with one warning line naming them; with the default there is none."""
    store = f"sqlite:///{in_tmp_cwd / 'swarm.db'}"
    missed = _plan(in_tmp_cwd / "missed", {**PRESET_BARE, "exclude_dynamic_sections": False})
    assert main(["run", str(missed), "--rehearse", "--json", "--store", store]) == 0
    captured = capsys.readouterr()
    agents = json.loads(captured.out)["agents"]
    assert all(a["usage"]["cache_read_tokens"] == 0 for a in agents)
    warnings = [line for line in captured.err.splitlines() if "missed the prompt cache" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("swarm: warning: 2 of 2 forks missed the prompt cache")
    assert "agent-0, agent-1" in warnings[0]
    kept = _plan(in_tmp_cwd / "kept", PRESET_BARE)
    assert main(["run", str(kept), "--rehearse", "--json", "--store", store]) == 0
    assert "missed the prompt cache" not in capsys.readouterr().err
