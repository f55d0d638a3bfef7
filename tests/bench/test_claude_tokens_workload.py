"""The claude-tokens workload's figures and its gate (the measurement itself runs the real
CLI: tests/claude/test_prompt_cache.py)."""

from __future__ import annotations

from typing import Any

from swarm.bench._claude_tokens import ClaudeTokensSetup, summarize


def _layout(per_fork_cwd: bool, *, read: int, write: int, warned: list[str]) -> dict[str, Any]:
    forks = [
        {
            "agent_id": f"agent-{i}",
            "requests": 1,
            "inherited": 30_000,
            "task": 40,
            "uncached": write,
            "cache_read": read,
            "cache_write": write,
        }
        for i in range(2)
    ]
    uncached = 30_000 + sum(f["uncached"] for f in forks)
    ideal = 30_000 + sum(f["task"] for f in forks)
    return {
        "per_fork_cwd": per_fork_cwd,
        "base": {"requests": 1, "input": 0, "cache_write": 30_000, "cache_read": 0},
        "forks": forks,
        "inherited": 30_000,
        "uncached": uncached,
        "ideal": ideal,
        "ratio": uncached / ideal,
        "warned": warned,
    }


def test_forks_that_read_the_base_pass_the_gate() -> None:
    raw = {
        "same_cwd": _layout(False, read=30_000, write=80, warned=[]),
        "per_fork_cwd": _layout(True, read=30_000, write=125, warned=[]),
    }
    result = summarize(raw, ClaudeTokensSetup(agents=2))
    assert all(check.passed for check in result.checks)
    shown = {f.label: f.shown() for f in result.figures}
    assert shown["one cwd per fork: cache read per fork (mean)"] == "30,000 tokens"
    assert shown["one cwd per fork: uncached / (base + 2 x task)"] == "1.01x"


def test_forks_that_missed_the_cache_fail_the_gate() -> None:
    raw = {
        "same_cwd": _layout(False, read=30_000, write=80, warned=[]),
        "per_fork_cwd": _layout(True, read=0, write=30_100, warned=["agent-0", "agent-1"]),
    }
    result = summarize(raw, ClaudeTokensSetup(agents=2))
    assert [c.passed for c in result.checks] == [True, False]
    assert "warned: ['agent-0', 'agent-1']" in result.checks[1].detail
