"""``swarm bench``: sequential against forked-in-parallel, measured side by side in one run.

One module per workload (``scheduling``, ``overhead``, ``realcli``, ``tokens``,
``checkpointing``), a runner that collects a :class:`BenchReport`, and a writer
for its JSON, markdown and PNG. How each figure is measured: benchmarks/README.md.

    report = run_bench(BenchOptions(quick=True))
    write_report(report, Path("benchmarks/results"))
"""

from .model import BenchReport, Check, Figure, WorkloadResult, WorkloadStatus
from .report import render_markdown, write_report
from .runner import BenchOptions, run_bench

__all__ = [
    "BenchOptions",
    "BenchReport",
    "Check",
    "Figure",
    "WorkloadResult",
    "WorkloadStatus",
    "render_markdown",
    "run_bench",
    "write_report",
]
