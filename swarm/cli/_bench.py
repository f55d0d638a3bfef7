"""``swarm bench``: the measured sequential-vs-parallel benchmark (see benchmarks/README.md),
and where its report is written."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from ..bench import (
    CHART_EXTRA,
    WORKLOADS,
    BenchOptions,
    BenchReport,
    render_chart,
    render_markdown,
    report_stamp,
    run_bench,
)
from ..errors import UsageError
from ..stores import sqlite_path
from ._common import print_json, store_url
from ._errors import EXIT_FAILED, EXIT_OK
from ._options import JsonOption
from ._output_files import check_output, write_output

RESULTS = Path("benchmarks/results")


REPORT_FILES = {"json": "latest.json", "markdown": "latest.md", "chart": "latest.png"}


@dataclass(frozen=True, slots=True)
class WrittenReport:
    """Where a report went; ``chart`` is None when matplotlib is not installed."""

    json: Path
    markdown: Path
    chart: Path | None
    run: Path | None = None  # the timestamped copy of the JSON, beside latest.*


def _report_paths(report: BenchReport, folder: Path, *, latest: bool) -> dict[str, Path]:
    """latest.* in ``folder`` (plus runs/<stamp>.json), or, for a run that must not replace
    the committed results, <stamp>-quick.* in ``folder`` itself."""
    stamp = f"{report_stamp(report)}{'-quick' if report.quick else ''}"
    if not latest:
        return {kind: folder / f"{stamp}{Path(name).suffix}" for kind, name in REPORT_FILES.items()}
    paths = {kind: folder / name for kind, name in REPORT_FILES.items()}
    paths["run"] = folder / "runs" / f"{stamp}.json"
    return paths


def check_report_folder(folder: Path, *, store: Path | None = None) -> None:
    """Refuse, before anything is measured, a folder the report could not be written to:
    a file where the folder should be, or report files that are a store or a database."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--output {folder}: is a file; expected a folder for the report")
    if folder.is_dir():
        for name in REPORT_FILES.values():
            check_output(folder / name, option="--output", force=True, store=store)


def write_report(
    report: BenchReport, folder: Path, *, store: Path | None = None, latest: bool = True
) -> WrittenReport:
    """Write the report's JSON, markdown and PNG chart into ``folder``.

    With ``latest`` (a full run, or any run given ``--output``): latest.json / latest.md /
    latest.png, replaced each run, and a timestamped copy of the JSON in runs/. Without
    (a quick run with the default folder): ``<stamp>-quick.json/.md/.png`` in ``folder``,
    so a quick run never replaces the full results the README quotes. The chart is left
    out when matplotlib is not installed. Each file is written atomically, and never over
    ``store`` or any SQLite file (:mod:`swarm.cli._output_files`).
    """
    check_report_folder(folder, store=store)
    folder.mkdir(parents=True, exist_ok=True)
    paths = _report_paths(report, folder, latest=latest)
    text = json.dumps(report.to_dict(), indent=2, default=str) + "\n"
    chart = render_chart(report)
    contents: dict[str, str | bytes] = {
        "json": text,
        "markdown": render_markdown(report, chart=paths["chart"].name if chart else None),
    }
    if chart is not None:
        contents["chart"] = chart
    if "run" in paths:
        paths["run"].parent.mkdir(exist_ok=True)
        contents["run"] = text
    for kind, data in contents.items():
        write_output(paths[kind], data, option="--output", force=True, store=store)
    return WrittenReport(
        json=paths["json"],
        markdown=paths["markdown"],
        chart=paths["chart"] if chart is not None else None,
        run=paths.get("run"),
    )


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


def bench(
    quick: Annotated[
        bool, typer.Option("--quick", help="The CI size: fewer seeds and agents (minutes).")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="Folder for latest.json/.md/.png (replaced each run) and runs/; never "
            f"written over the store or any SQLite file. [default: {RESULTS}; a --quick "
            f"run: {RESULTS / 'runs'}/<time>-quick.*]",
            show_default=False,
        ),
    ] = None,
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
    # A quick run goes beside the committed full results, never over them.
    latest = output is not None or not quick
    folder = output if output is not None else RESULTS if latest else RESULTS / "runs"
    check_report_folder(folder, store=in_use)  # before minutes of measuring, not after
    command = ["swarm", *sys.argv[1:]] if Path(sys.argv[0]).name == "swarm" else ["swarm bench"]
    report = run_bench(options, command, progress=lambda line: print(line, file=sys.stderr))
    written = write_report(report, folder, store=in_use, latest=latest)
    if as_json:
        print_json(report.to_dict())
    else:
        print(render_markdown(report, chart=None), end="")
    files = [written.markdown, *([written.chart] if written.chart else []), written.json]
    print(f"swarm bench: wrote {', '.join(map(str, files))}", file=sys.stderr)
    if written.chart is None:
        hint = f'pip install "swarm[{CHART_EXTRA}]"'
        print(f"swarm bench: no chart: matplotlib is not installed ({hint})", file=sys.stderr)
    return gate_exit_code(report) if check else EXIT_OK
