"""Writing a benchmark report: JSON (everything), markdown (the table), PNG (the chart).

``write_report`` writes ``latest.json``, ``latest.md`` and ``latest.png`` in the
output folder (the ones the repository keeps) and a timestamped copy of the
JSON under ``runs/`` (one file per run, not committed).
"""

from __future__ import annotations

import io
import re
from typing import Any

from ._model import BenchReport, WorkloadResult, WorkloadStatus


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _target(figure_target: str | None, met: bool | None) -> str:
    if figure_target is None:
        return ""
    return f"{figure_target} ({'met' if met else 'not met'})" if met is not None else figure_target


def _header(report: BenchReport) -> list[str]:
    env = report.environment
    machine, versions, git = env.get("machine", {}), env.get("versions", {}), env.get("git", {})
    commit = (git.get("commit") or "unknown")[:12]
    commit += " (local changes)" if git.get("dirty") else ""
    cli = versions.get("claude-code-cli")
    tools = [
        f"Python {versions.get('python')}",
        f"trio {versions.get('trio')}",
        f"claude-agent-sdk {versions.get('claude-agent-sdk')}",
    ]
    if cli:
        tools.append(f"Claude Code {cli}")
    size = "quick" if report.quick else "full"
    return [
        f"# swarm bench ({size}), {report.started_at[:16].replace('T', ' ')} UTC",
        "",
        f"`{' '.join(report.command) or 'swarm bench'}` on {machine.get('cpus')} CPUs "
        f"({machine.get('cpu') or 'unknown CPU'}, {machine.get('memory_gb')} GB), "
        f"{', '.join(tools)}; git {commit}; took {report.seconds:.0f} s.",
        "",
    ]


def _rows(workload: WorkloadResult) -> list[str]:
    title = _cell(workload.title)
    if workload.status is not WorkloadStatus.MEASURED:
        why = workload.reason or workload.status.value
        return [f"| {title} | {workload.status.value}: {_cell(why)} | | |"]
    rows = []
    for i, figure in enumerate(workload.figures):
        name = title if i == 0 else ""
        target = _target(figure.target, figure.met)
        rows.append(f"| {name} | {_cell(figure.label)} | {figure.shown()} | {target} |")
    return rows


def render_markdown(report: BenchReport, chart: str | None = "latest.png") -> str:
    """The report as markdown: header, one table of every figure, the gate, the methods."""
    lines = _header(report)
    lines += ["| workload | figure | value | target |", "|---|---|---|---|"]
    for workload in report.workloads:
        lines += _rows(workload)
    lines.append("")
    checks = [(w, c) for w in report.workloads for c in w.checks]
    failed = report.failed_checks
    broken = report.failed_workloads
    verdict = "passed" if not failed and not broken else "FAILED"
    lines.append(
        f"**Gate ({len(checks)} checks, each comparing figures of this run): {verdict}.** "
        "Absolute times and targets above are for reading; the gate never fails on them."
    )
    lines.append("")
    for workload, check in checks:
        mark = "x" if check.passed else " "
        lines.append(f"- [{mark}] {workload.name}: {check.name} ({_cell(check.detail)})")
    for workload in broken:
        lines.append(f"- [ ] {workload.name} failed: {_cell(workload.reason or '')}")
    lines.append("")
    lines.append("How each figure was measured:")
    lines.append("")
    for workload in report.workloads:
        if workload.method:
            lines.append(f"- **{workload.name}**: {workload.method}.")
    if chart:
        lines += ["", f"![swarm bench chart]({chart})"]
    return "\n".join(lines) + "\n"


#: The extra that installs the chart's library (matplotlib): ``pip install "swarm[bench]"``.
CHART_EXTRA = "bench"


def render_chart(report: BenchReport) -> bytes | None:
    """A PNG with one panel per measured workload that has a comparison to draw, or None
    when matplotlib is not installed (it comes with the ``bench`` extra): the table and
    the JSON do not need it."""
    try:
        import matplotlib
    except ImportError:
        return None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        (name, draw)
        for name, draw in (
            ("scheduling", _draw_scheduling),
            ("realcli", _draw_realcli),
            ("overhead", _draw_overhead),
            ("tokens", _draw_tokens),
        )
        if report.workload(name) is not None
    ]
    count = max(1, len(panels))
    fig, axes = plt.subplots(1, count, figsize=(5.2 * count, 4.2), squeeze=False)
    for ax, (name, draw) in zip(axes[0], panels, strict=False):
        workload = report.workload(name)
        assert workload is not None
        if workload.status is WorkloadStatus.MEASURED:
            draw(ax, workload)
        else:
            ax.set_title(workload.title, fontsize=9)
            ax.text(
                0.5,
                0.5,
                f"{workload.status.value}:\n{workload.reason}",
                ha="center",
                va="center",
                wrap=True,
                fontsize=8,
                transform=ax.transAxes,
            )
            ax.set_axis_off()
    if not panels:
        axes[0][0].text(0.5, 0.5, "no workload measured", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.suptitle(
        f"swarm bench ({'quick' if report.quick else 'full'}), {report.started_at[:10]}",
        fontsize=10,
    )
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    return png.getvalue()


def _draw_scheduling(ax: Any, workload: WorkloadResult) -> None:
    modes = workload.data["modes"]
    names = list(modes)
    means = [modes[m]["mean_ratio"] for m in names]
    worst = [modes[m]["worst_ratio"] for m in names]
    ax.bar(names, means, color=["#999999", "#d62728", "#1f77b4", "#2ca02c"][: len(names)])
    ax.scatter(names, worst, color="black", marker="_", s=300, label="worst seed", zorder=3)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(1.05, color="#2ca02c", linewidth=0.8, linestyle="--", label="target 1.05x")
    ax.set_ylabel("makespan / lower bound (1.0 = optimal)")
    ax.set_title(
        f"Scheduling: {workload.data['agents']} agents, P={workload.data['max_parallel']}",
        fontsize=9,
    )
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=7)


def _draw_realcli(ax: Any, workload: WorkloadResult) -> None:
    seq, par = workload.data["sequential"], workload.data["parallel"]
    walls = [seq["agents_wall_s"], par["agents_wall_s"]]
    ax.bar(["sequential", "forked, parallel"], walls, color=["#999999", "#1f77b4"])
    ax.set_ylabel("agents' wall time (s)")
    speedup = walls[0] / walls[1]
    ax.set_title(
        f"Real CLI: {workload.data['agents']} agents, {workload.data['turn_s']:g} s/turn"
        f" ({speedup:.2f}x)",
        fontsize=9,
    )
    for i, value in enumerate(walls):
        ax.text(i, value, f"{value:.1f}s", ha="center", va="bottom", fontsize=8)


def _draw_overhead(ax: Any, workload: WorkloadResult) -> None:
    rate = workload.figure("agents per second")
    rss = workload.figure("peak RSS")
    assert rate is not None and rss is not None
    ax.bar(["measured"], [rate.value], color="#1f77b4")
    ax.axhline(3000, color="#2ca02c", linestyle="--", linewidth=0.8, label="target 3,000/s")
    ax.set_ylabel("agents per second (SQLite, everything persisted)")
    ax.set_title(
        f"Overhead: {workload.data['agents']:,} agents, peak RSS {rss.value:.0f} MB", fontsize=9
    )
    ax.legend(fontsize=7)


def _draw_tokens(ax: Any, workload: WorkloadResult) -> None:
    data = workload.data
    forked, resent = data["forked"], data["resent"]
    ideal = data["base_tokens"] + sum(data["task_tokens"].values())
    names = ["forked", "base re-sent"]
    ax.bar(names, [forked["uncached"], resent["uncached"]], color=["#1f77b4", "#999999"])
    ax.axhline(
        1.05 * ideal, color="#2ca02c", linestyle="--", linewidth=0.8, label="1.05 x (base + tasks)"
    )
    ax.set_ylabel("uncached input tokens (server log)")
    ax.set_title(
        f"Tokens: {data['agents']} forks of a {data['base_tokens']:,}-token base "
        f"({resent['uncached'] / forked['uncached']:.1f}x fewer)",
        fontsize=9,
    )
    for i, value in enumerate([forked["uncached"], resent["uncached"]]):
        ax.text(i, value, f"{value:,}", ha="center", va="bottom", fontsize=8)
    ax.legend(fontsize=7)


def report_stamp(report: BenchReport) -> str:
    """When a report was started, as a file name part."""
    return re.sub(r"[^0-9T]", "", report.started_at[:19])  # 20261121T143549
