"""The real-CLI workload's summary: figures from injected phase data, no CLI and no clock."""

from __future__ import annotations

from typing import Any

from swarm.bench._realcli import RealCLISetup, _children_cpu_s, summarize


def _phase(wall_s: float, cpu_per_agent_s: float | None) -> dict[str, Any]:
    return {
        "agents_wall_s": wall_s,
        "startup_share": 0.25,
        "tokens_sent": 1_000,
        "cli_cpu_per_agent_s": cpu_per_agent_s,
    }


def test_summary_reports_speedup_and_the_cli_cpu_per_agent() -> None:
    """Speedup is sequential over parallel; each phase shows its CLIs' CPU per agent."""
    raw = {"sequential": _phase(15.0, 0.55), "parallel": _phase(3.0, 0.6)}
    result = summarize(raw, RealCLISetup())
    speedup = result.figure("speedup (sequential / parallel)")
    assert speedup is not None and speedup.value == 5.0 and speedup.met is True
    for name, cpu in (("sequential", 0.55), ("parallel", 0.6)):
        figure = result.figure(f"{name}: CLI CPU per agent")
        assert figure is not None and figure.value == cpu and figure.unit == "s"
    assert result.data["cpus"] is not None and result.checks[0].passed


def test_summary_leaves_out_cpu_it_could_not_measure() -> None:
    """Without getrusage (not Unix) there is no CPU figure, and the rest still reports."""
    raw = {"sequential": _phase(15.0, None), "parallel": _phase(5.0, None)}
    result = summarize(raw, RealCLISetup())
    assert result.figure("parallel: CLI CPU per agent") is None
    speedup = result.figure("speedup (sequential / parallel)")
    assert speedup is not None and speedup.met is False


def test_children_cpu_is_a_running_total() -> None:
    """The CPU of reaped children never goes down between two readings."""
    first, second = _children_cpu_s(), _children_cpu_s()
    assert first is not None and second is not None and 0.0 <= first <= second
