"""``swarm bench``: sequential against forked-in-parallel, measured side by side in one run.

One module per workload (scheduling, overhead, real CLI, tokens, checkpointing), a
runner that collects a :class:`BenchReport`, and its renderings as markdown and a PNG
chart (the CLI writes them, with the JSON, where ``--output`` says). How each figure
is measured: benchmarks/README.md.

    report = run_bench(BenchOptions(quick=True))
    print(render_markdown(report))
"""

from ._model import BenchReport, Check, Figure, WorkloadResult, WorkloadStatus
from ._report import CHART_EXTRA, render_chart, render_markdown, report_stamp
from ._runner import WORKLOADS, BenchOptions, run_bench

__all__ = [
    "CHART_EXTRA",
    "WORKLOADS",
    "BenchOptions",
    "BenchReport",
    "Check",
    "Figure",
    "WorkloadResult",
    "WorkloadStatus",
    "render_chart",
    "render_markdown",
    "report_stamp",
    "run_bench",
]
