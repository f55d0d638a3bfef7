"""``swarm bench``: the measured sequential-vs-parallel benchmark (see benchmarks/README.md),
and where its report is written."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..bench import (
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

DEFAULT_OUTPUT = Path("benchmarks/results")


REPORT_FILES = {"json": "latest.json", "markdown": "latest.md", "chart": "latest.png"}


def check_report_folder(folder: Path, *, store: Path | None = None) -> None:
    """Refuse, before anything is measured, a folder the report could not be written to:
    a file where the folder should be, or report files that are a store or a database."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--output {folder}: is a file; expected a folder for the report")
    if folder.is_dir():
        for name in REPORT_FILES.values():
            check_output(folder / name, option="--output", force=True, store=store)


def write_report(
    report: BenchReport, folder: Path, *, store: Path | None = None
) -> dict[str, Path]:
    """Write latest.json / latest.md / latest.png and runs/<timestamp>.json into ``folder``.

    The latest.* files of an earlier report are replaced (that is what they are for);
    each file is written atomically, and never over ``store`` or any SQLite file
    (:mod:`swarm.cli._output_files`).
    """
    check_report_folder(folder, store=store)
    folder.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = report.to_dict()
    text = json.dumps(document, indent=2, default=str) + "\n"
    paths = {kind: folder / name for kind, name in REPORT_FILES.items()}
    paths["run"] = (
        folder / "runs" / f"{report_stamp(report)}{'-quick' if report.quick else ''}.json"
    )
    paths["run"].parent.mkdir(exist_ok=True)
    contents: dict[str, str | bytes] = {
        "json": text,
        "run": text,
        "markdown": render_markdown(report),
        "chart": render_chart(report),
    }
    for kind, data in contents.items():
        write_output(paths[kind], data, option="--output", force=True, store=store)
    return paths


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
