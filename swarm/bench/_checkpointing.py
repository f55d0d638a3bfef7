"""Workload 5, checkpoints: the figures of :func:`swarm.bench._checkpoint_cost.measure_checkpoints`.

That module (from the checkpoints issue) times, on a 1,000-message session in
a fresh SQLite store, taking a checkpoint and materialising a fork at one
(medians over repeats); this one turns its numbers into the report's figures.
"""

from __future__ import annotations

from typing import Any

from ._child import run_child
from ._model import Figure, WorkloadResult, WorkloadStatus

TITLE = "Checkpoints"


def summarize(raw: dict[str, Any]) -> WorkloadResult:
    target_create = float(raw.get("target_create_ms", 1.0))
    target_fork = float(raw.get("target_fork_at_ms", 10.0))
    figures = [
        Figure(
            "take a checkpoint (executor path), median",
            raw["create_ms"],
            "ms",
            f"<= {target_create:g}",
            raw["create_ms"] <= target_create,
        ),
        Figure("create_checkpoint (API / CLI), median", raw["create_named_ms"], "ms"),
        Figure(
            "fork at a checkpoint, history read back, median",
            raw["fork_at_ms"],
            "ms",
            f"<= {target_fork:g}",
            raw["fork_at_ms"] <= target_fork,
        ),
        Figure("fork pointer alone, median", raw["fork_pointer_ms"], "ms"),
    ]
    return WorkloadResult(
        name="checkpoints",
        title=f"{TITLE} ({raw['messages']:,}-message session, SQLite, median of {raw['repeats']})",
        status=WorkloadStatus.MEASURED,
        method="swarm.bench._checkpoint_cost.measure_checkpoints in a child process: wall "
        "time of each call on a fresh SQLite store in a temp dir",
        figures=figures,
        data=raw,
    )


def measure_in_child(repeats: int, timeout_s: float = 300.0) -> dict[str, Any]:
    """:func:`~swarm.bench._checkpoint_cost.measure_checkpoints` in a fresh interpreter,
    as a ``swarm checkpoints`` command runs: not in the bench's own process, which holds
    the heap and threads the earlier workloads left."""
    entry = (
        "import json, sys; from swarm.bench._checkpoint_cost import measure_checkpoints; "
        "print(json.dumps(measure_checkpoints(repeats=int(sys.argv[1]))))"
    )
    return run_child("checkpoints", entry, [str(repeats)], timeout_s)


def run(repeats: int) -> WorkloadResult:
    return summarize(measure_in_child(repeats))
