"""The scheduling workload in virtual time: exact figures and the relations between modes."""

from __future__ import annotations

import pytest
import trio

from swarm.bench._scheduling import SchedulingSetup, run_seed, summarize

SEEDS = (0, 1, 2, 3, 4)
SETUP = SchedulingSetup(seeds=SEEDS)


@pytest.mark.parametrize("seed", SEEDS)
async def test_modes_relate_as_expected(seed: int, autojump_clock: trio.testing.MockClock) -> None:
    """Sequential takes the total work; window beats batch; longest-first is near the bound."""
    runs = await run_seed(seed, SETUP)
    by_mode = {r.mode: r for r in runs}
    seq, batch = by_mode["sequential"], by_mode["batch"]
    window, history = by_mode["window"], by_mode["window+history"]
    assert seq.makespan_s == pytest.approx(seq.total_work_s, rel=1e-9)
    assert seq.bound_s == pytest.approx(seq.total_work_s, rel=1e-9)
    # The same seeded agents in every mode: the same work and the same bound.
    for run in (batch, window, history):
        assert run.total_work_s == pytest.approx(seq.total_work_s, rel=1e-9)
        assert run.bound_s == pytest.approx(window.bound_s, rel=1e-9)
    assert window.makespan_s <= batch.makespan_s
    assert history.makespan_s <= 1.05 * history.bound_s
    assert history.makespan_s <= window.makespan_s


async def test_figures_are_exact_for_a_fixed_seed(autojump_clock: trio.testing.MockClock) -> None:
    """Two measurements of one seed agree up to float rounding (virtual time, seeded durations)."""
    first = await run_seed(7, SETUP)
    second = await run_seed(7, SETUP)  # later on the clock: only rounding may differ
    assert [r.mode for r in first] == [r.mode for r in second]
    for a, b in zip(first, second, strict=True):
        assert a.makespan_s == pytest.approx(b.makespan_s, rel=1e-12)
        assert a.bound_s == pytest.approx(b.bound_s, rel=1e-12)


async def test_summary_reports_every_mode_and_passes_its_checks(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The summary has mean and worst ratios per mode and its checks pass on these seeds."""
    runs = [r for seed in SEEDS for r in await run_seed(seed, SETUP)]
    result = summarize(runs, SETUP)
    modes = result.data["modes"]
    assert set(modes) == {"sequential", "batch", "window", "window+history"}
    assert modes["sequential"]["mean_ratio"] == pytest.approx(1.0)
    assert modes["batch"]["mean_ratio"] > modes["window"]["mean_ratio"]
    assert modes["window+history"]["worst_ratio"] <= 1.05
    assert [c.name for c in result.checks if not c.passed] == []
    worst = result.figure("window+history: makespan / bound, worst")
    assert worst is not None and worst.met is True
