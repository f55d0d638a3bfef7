"""The distributed workload: its figures and gate check from raw numbers, and a clean skip
without the distributed extra (never a traceback)."""

from __future__ import annotations

import sys

import pytest

from swarm.bench import _distributed as distributed
from swarm.bench._model import WorkloadStatus


def raw(one: float, two: float) -> dict[str, object]:
    return {
        "agents": 200,
        "latency_s": 1.0,
        "workers_1": {"agents_wall_s": one, "succeeded": 200},
        "workers_2": {"agents_wall_s": two, "succeeded": 200},
        "overhead": {"agents": 100, "dask_wall_s": 2.5, "local_wall_s": 0.5, "succeeded": 200},
    }


def test_the_scaling_ratio_is_gated_at_its_target() -> None:
    setup = distributed.DistributedSetup()
    good = distributed.summarize(raw(4.2, 2.2), setup)
    assert good.status is WorkloadStatus.MEASURED
    assert all(check.passed for check in good.checks)
    overhead = next(f for f in good.figures if f.label.startswith("dispatch overhead"))
    assert overhead.value == pytest.approx(20.0)  # (2.5 - 0.5) s / 100 agents, in ms
    flat = distributed.summarize(raw(4.2, 4.0), setup)
    assert [c.passed for c in flat.checks] == [True, False]


def test_without_the_extra_the_workload_is_skipped_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    result = distributed.run(distributed.DistributedSetup())
    assert result.status is WorkloadStatus.SKIPPED
    assert result.reason is not None and "swarm[distributed]" in result.reason
