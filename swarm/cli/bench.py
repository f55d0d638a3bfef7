"""``swarm bench``: the measured sequential-vs-parallel benchmark (see benchmarks/README.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..bench.model import BenchReport
from ..bench.report import check_report_folder, render_markdown, write_report
from ..bench.runner import WORKLOADS, BenchOptions, run_bench
from ..errors import UsageError
from ..stores import sqlite_path
from .app import EXIT_FAILED, EXIT_OK, app
from .common import JsonOption, print_json, store_url

DEFAULT_OUTPUT = Path("benchmarks/results")


def _selected(only: str | None) -> frozenset[str]:
    if only is None:
        return frozenset(WORKLOADS)
    names = frozenset(n.strip() for n in only.split(",") if n.strip())
    unknown = sorted(names - set(WORKLOADS))
    if unknown or not names:
        raise UsageError(
            f"--only: unknown workload {', '.join(unknown) or '(none given)'}; "
            f"expected a comma-separated list of {', '.join(WORKLOADS)}"
        )
    return names


def gate_exit_code(report: BenchReport) -> int:
    """1 when a same-run ratio check failed or a workload crashed, else 0."""
    return EXIT_FAILED if report.failed_checks or report.failed_workloads else EXIT_OK


@app.command()
def bench(
    quick: Annotated[
        bool, typer.Option("--quick", help="The CI size: fewer seeds and agents (minutes).")
    ] = False,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            help="Folder for latest.json/.md/.png (replaced each run) and runs/; "
            "never written over the store or any SQLite file.",
        ),
    ] = DEFAULT_OUTPUT,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 1 if a ratio measured in this run is off (e.g. window worse than "
            "batch) or a workload crashed; never on absolute times.",
        ),
    ] = False,
    only: Annotated[
        str | None,
        typer.Option("--only", help=f"Comma-separated workloads: {', '.join(WORKLOADS)}."),
    ] = None,
    as_json: JsonOption = False,
) -> int:
    """Measure sequential against forked-in-parallel, side by side, and write the report."""
    options = BenchOptions(quick=quick, only=_selected(only))
    in_use = sqlite_path(store_url(None))
    check_report_folder(output, store=in_use)  # before minutes of measuring, not after
    command = ["swarm", *sys.argv[1:]] if Path(sys.argv[0]).name == "swarm" else ["swarm bench"]
    report = run_bench(options, command, progress=lambda line: print(line, file=sys.stderr))
    paths = write_report(report, output, store=in_use)
    if as_json:
        print_json(report.to_dict())
    else:
        print(render_markdown(report, chart=None), end="")
    print(
        f"swarm bench: wrote {paths['markdown']}, {paths['chart']}, {paths['json']}",
        file=sys.stderr,
    )
    return gate_exit_code(report) if check else EXIT_OK
