"""The report files (JSON, markdown, PNG) and the --check gate on same-run ratios."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from swarm.bench import render_markdown
from swarm.bench._model import BenchReport, WorkloadResult, WorkloadStatus
from swarm.bench._scheduling import ModeRun, SchedulingSetup, summarize
from swarm.cli import main
from swarm.cli._bench import gate_exit_code, write_report
from swarm.errors import UsageError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _report(*workloads: WorkloadResult) -> BenchReport:
    return BenchReport(
        started_at="2026-01-02T03:04:05.000000+00:00",
        command=["swarm", "bench", "--quick"],
        quick=True,
        seconds=1.0,
        environment={"machine": {"cpus": 2}, "versions": {"python": "3.11"}, "git": {}},
        workloads=list(workloads),
    )


def _scheduling(window_s: float, batch_s: float, history_s: float) -> WorkloadResult:
    """A scheduling summary from injected makespans (work 40 s, bound 10 s at P=4)."""
    setup = SchedulingSetup(seeds=(0,))
    runs = [
        ModeRun("sequential", 0, 40.0, 40.0, 40.0, 5.0),
        ModeRun("batch", 0, batch_s, 10.0, 40.0, 5.0),
        ModeRun("window", 0, window_s, 10.0, 40.0, 5.0),
        ModeRun("window+history", 0, history_s, 10.0, 40.0, 5.0),
    ]
    return summarize(runs, setup)


def test_gate_passes_on_good_ratios() -> None:
    """Window better than batch and history within 1.05x of the bound: the gate passes."""
    report = _report(_scheduling(window_s=11.0, batch_s=19.0, history_s=10.2))
    assert report.failed_checks == []
    assert gate_exit_code(report) == 0


@pytest.mark.parametrize(
    ("window_s", "batch_s", "history_s", "failing"),
    [
        (19.0, 11.0, 10.2, "window efficiency >= batch efficiency"),
        (11.0, 19.0, 10.8, "window+history worst makespan <= 1.05x bound"),
    ],
)
def test_gate_fails_on_a_bad_ratio(
    window_s: float, batch_s: float, history_s: float, failing: str
) -> None:
    """An injected bad ratio fails its check, and the gate exits 1."""
    report = _report(_scheduling(window_s, batch_s, history_s))
    assert failing in [check.name for _, check in report.failed_checks]
    assert gate_exit_code(report) == 1
    assert "FAILED" in render_markdown(report)


def test_gate_fails_when_a_workload_crashed() -> None:
    """A workload that raised fails the gate even though no ratio was measured."""
    broken = WorkloadResult("realcli", "Real CLI", WorkloadStatus.FAILED, reason="boom")
    assert gate_exit_code(_report(broken)) == 1


def test_skipped_workload_does_not_fail_the_gate() -> None:
    """A workload that cannot run here is reported with its reason, and the gate passes."""
    skipped = WorkloadResult.skipped("realcli", "Real CLI", "claude backend not available")
    report = _report(_scheduling(11.0, 19.0, 10.2), skipped)
    assert gate_exit_code(report) == 0
    assert "skipped: claude backend not available" in render_markdown(report)


def test_writer_produces_json_markdown_and_png(tmp_path: Path) -> None:
    """latest.json round-trips, latest.md has the table, latest.png is a PNG, runs/ has a copy."""
    skipped = WorkloadResult.skipped("tokens", "Tokens", "not measured: reason")
    report = _report(_scheduling(11.0, 19.0, 10.2), skipped)
    written = write_report(report, tmp_path / "results")
    document = json.loads(written.json.read_text())
    assert document["gate"]["passed"] is True
    assert BenchReport.from_dict(document).to_dict() == document
    assert written.run is not None and json.loads(written.run.read_text()) == document
    markdown = written.markdown.read_text()
    assert "| workload | figure | value | target |" in markdown
    assert "window+history: makespan / bound, worst | 1.02x | <= 1.05 (met)" in markdown
    assert "![swarm bench chart](latest.png)" in markdown
    assert written.chart is not None and written.chart.read_bytes()[:8] == PNG_MAGIC


def test_cli_quick_scheduling_run_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`swarm bench --quick --only scheduling,tokens --check` prints the table and exits 0."""
    out = tmp_path / "out"
    only = ["--only", "scheduling,tokens"]
    code = main(["bench", "--quick", *only, "--check", "--output", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "| workload | figure | value | target |" in printed
    assert "forked / (base + 8 x task) | 1.00x | <= 1.05 (met)" in printed
    assert "not measured" not in printed
    assert {p.name for p in out.iterdir()} == {"latest.json", "latest.md", "latest.png", "runs"}


def test_cli_rejects_an_unknown_workload(capsys: pytest.CaptureFixture[str]) -> None:
    """--only with an unknown name exits 2 and names the workloads it knows."""
    assert main(["bench", "--only", "nonsense"]) == 2
    assert "expected a comma-separated list of scheduling" in capsys.readouterr().err


def test_the_report_never_lands_on_a_database_or_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--output` that is a file, or a folder whose latest.json is a SQLite database or the
    store in use, is refused before anything is measured (exit 2, one line), untouched;
    an earlier report's files are replaced whole, with no partial file left."""
    sqlite3.connect(tmp_path / "latest.json").execute("CREATE TABLE t (x)").connection.close()
    database = (tmp_path / "latest.json").read_bytes()
    assert main(["bench", "--quick", "--only", "scheduling", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"swarm: error: --output {tmp_path / 'latest.json'}: is a SQLite database; an output "
        "never replaces one, even with --force: name another file\n"
    )
    assert (tmp_path / "latest.json").read_bytes() == database
    report = _report(_scheduling(11.0, 19.0, 10.2))
    with pytest.raises(UsageError, match=r"latest\.md: is the store in use"):
        write_report(report, tmp_path / "results", store=tmp_path / "results" / "latest.md")
    assert main(["bench", "--output", str(tmp_path / "latest.json")]) == 2
    assert "is a file; expected a folder" in capsys.readouterr().err
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "latest.md").write_text("an earlier report")
    written = write_report(report, tmp_path / "again")
    assert "| workload | figure | value | target |" in written.markdown.read_text()
    assert not list((tmp_path / "again").rglob("*.part"))


def test_a_quick_run_never_replaces_the_committed_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`swarm bench --quick` without --output writes <time>-quick.* under
    benchmarks/results/runs/ and leaves latest.* (the full results the README quotes)
    as they were; a full-size report still goes to latest.*."""
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    committed = {name: f"the full run's {name}" for name in ("latest.json", "latest.md")}
    for name, text in committed.items():
        (results / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "--quick", "--only", "scheduling"]) == 0
    err = capsys.readouterr().err
    assert {p.name: p.read_text() for p in results.glob("latest.*")} == committed
    written = sorted(p.name for p in (results / "runs").iterdir())
    assert [Path(name).suffix for name in written] == [".json", ".md", ".png"]
    assert all(name.endswith("-quick" + Path(name).suffix) for name in written)
    assert str(Path("benchmarks/results/runs") / written[1]) in err
    markdown = (results / "runs" / written[1]).read_text()
    assert f"![swarm bench chart]({written[2]})" in markdown
    full = write_report(_report(_scheduling(11.0, 19.0, 10.2)), results)
    assert full.json == results / "latest.json"


BLOCK_MATPLOTLIB = """
import sys
from importlib.abc import MetaPathFinder

class NoMatplotlib(MetaPathFinder):
    # swarm installed without the bench extra: matplotlib cannot be imported.
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoMatplotlib())
from swarm.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_matplotlib_the_table_and_json_are_written(tmp_path: Path) -> None:
    """swarm installed as a user installs it (no matplotlib): `swarm bench --quick` exits 0,
    prints the table, writes the markdown and the JSON, and says in one line which extra
    brings the chart; no traceback."""
    out = tmp_path / "out"
    command = [sys.executable, "-c", BLOCK_MATPLOTLIB, "bench", "--quick"]
    command += ["--only", "scheduling", "--check", "--output", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "| workload | figure | value | target |" in done.stdout
    hints = [line for line in done.stderr.splitlines() if 'pip install "swarm[bench]"' in line]
    assert hints == [
        'swarm bench: no chart: matplotlib is not installed (pip install "swarm[bench]")'
    ]
    assert {p.name for p in out.iterdir()} == {"latest.json", "latest.md", "runs"}
    assert "swarm bench chart" not in (out / "latest.md").read_text()
    assert json.loads((out / "latest.json").read_text())["gate"]["passed"] is True
