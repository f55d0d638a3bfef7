"""Running a measurement in a fresh interpreter: its figures are the last line it
prints, as JSON (a workload's own process holds what the workloads before it left)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Sequence
from typing import Any


def run_child(name: str, entry: str, args: Sequence[str], timeout_s: float) -> dict[str, Any]:
    """Run ``python -c entry args...`` and return the JSON object of its last line; a
    failing child raises :class:`RuntimeError` with the tail of what it said."""
    # -c, not -m: a bench package module run with -m is imported twice (runpy warns).
    done = subprocess.run(
        [sys.executable, "-c", entry, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(
            f"the {name} child exited {done.returncode}: " + " | ".join(tail or ["no output"])
        )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def children_cpu_s() -> float:
    """User + system CPU of this process's children reaped so far (a child is counted
    once it has been waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
