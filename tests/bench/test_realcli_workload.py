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


def test_summary_shows_the_cpu_floor_and_the_bare_phase(monkeypatch: Any) -> None:
    """The floor is agents x parallel CLI CPU / cores + one turn, and the speedup it allows;
    the bare phase's wall and CLI CPU are reported beside the default's."""
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    raw = {
        "sequential": _phase(18.0, 0.9),
        "parallel": _phase(5.3, 1.0),
        "parallel_bare": _phase(4.9, 0.8),
    }
    result = summarize(raw, RealCLISetup(agents=6, turn_s=2.0))
    floor = result.figure("parallel: floor from CLI CPU (agents x CPU / cores + turn)")
    assert floor is not None and floor.value == 6 * 1.0 / 2 + 2.0
    allowed = result.figure("speedup that floor allows (sequential / floor)")
    assert allowed is not None and allowed.value == 18.0 / 5.0
    bare = result.figure("parallel with bare: true: CLI CPU per agent")
    assert bare is not None and bare.value == 0.8
