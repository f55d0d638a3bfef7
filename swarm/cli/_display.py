"""Progress while a run goes: a live table on a terminal, plain lines otherwise."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

import trio
from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..events import EventKind, SwarmEvent
from ..records import AgentResult, AgentStatus, SwarmResult
from ..workspaces import PruneReport

STATUS_STYLE = {
    AgentStatus.PENDING: "dim",
    AgentStatus.RUNNING: "cyan",
    AgentStatus.SUCCEEDED: "green",
    AgentStatus.FAILED: "red",
    AgentStatus.TIMED_OUT: "magenta",
    AgentStatus.CANCELLED: "yellow",
    AgentStatus.SKIPPED: "dim",
}


class _Row:
    __slots__ = ("note", "result", "started", "turns")

    def __init__(self, result: AgentResult) -> None:
        self.result = result
        self.started: float | None = None
        self.turns = 0
        self.note = ""  # the latest retry while the agent runs


def _progress_table(rows: dict[str, _Row], now: float, title: str) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    for column in ("agent", "priority", "status", "time", "turns", "tokens", "note"):
        table.add_column(column, no_wrap=column != "note")
    for agent_id, row in rows.items():
        result = row.result
        if result.duration_s is not None:
            elapsed = f"{result.duration_s:.1f}s"
        elif row.started is not None:
            elapsed = f"{now - row.started:.1f}s"
        else:
            elapsed = ""
        style = STATUS_STYLE[result.status]
        table.add_row(
            agent_id,
            result.priority,
            f"[{style}]{result.status.value}[/]",
            elapsed,
            str(result.turns or row.turns or ""),
            str(result.usage.total or ""),
            (result.error or (row.note if result.status is AgentStatus.RUNNING else ""))[:60],
        )
    return table


def since_process_start() -> float:
    """Seconds since this process started (what the user waited for, imports included).

    On Linux both ends come from the time since boot (the process's start in
    ``/proc/self/stat``): psutil's start time adds the boot's wall-clock time, which
    ``/proc/stat`` gives in whole seconds, so its age ran up to a second long (0.43 s
    here, on a run of 4-5 s). A process that a shell ran with ``exec`` (the last command
    of ``( ... )``) counts from the shell's start: that is the kernel's start time."""
    try:
        with open("/proc/self/stat") as stat:
            text = stat.read()
        ticks = os.sysconf("SC_CLK_TCK")
        now = time.clock_gettime(time.CLOCK_BOOTTIME)
    except (OSError, ValueError, AttributeError):
        import psutil  # not Linux

        return max(0.0, time.time() - psutil.Process().create_time())
    return process_age(text, now, ticks)


def process_age(stat: str, boottime_s: float, clock_ticks: int) -> float:
    """Seconds from a process's start (field 22 of its ``/proc/<pid>/stat`` line, in clock
    ticks since boot) to ``boottime_s`` (``CLOCK_BOOTTIME`` now)."""
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat.rsplit(")", 1)[1].split()
    return max(0.0, boottime_s - int(fields[19]) / clock_ticks)


def summary_table(
    result: SwarmResult, *, rehearsal: bool = False, waited_s: float | None = None
) -> Table:
    """The table printed when a run ends; ``rehearsal``: it ran against the fake API."""
    m = result.metrics
    title = f"run {result.run_id}: {result.status.value}"
    if any(a.output_is_simulated for a in result.agents.values()):
        title += " · simulated backend: no model was called, outputs are placeholders"
    if rehearsal:
        # Its costs are the fake API's list-price arithmetic; nothing was billed.
        title += " · rehearsal: fake Messages API, costs at its pricing, nothing billed"
    # Light rules and short headers so an 80-column terminal fits every figure; ids and
    # figures never wrap, only the note folds.
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    # a long id folds onto a second line, never cut; the figures keep their width
    table.add_column("agent", overflow="fold", max_width=28)
    table.add_column("status", no_wrap=True)
    for column in ("time", "turns", "in/out/cache", "cost"):
        table.add_column(column, no_wrap=True, justify="right")
    table.add_column("note", ratio=1, min_width=12)
    for agent in result.agents.values():
        u = agent.usage
        note = agent.error or ""
        if agent.succeeded and agent.output_is_simulated:
            note = "simulated"
        table.add_row(
            agent.agent_id,
            f"[{STATUS_STYLE[agent.status]}]{agent.status.value}[/]",
            "-" if agent.duration_s is None else f"{agent.duration_s:.2f}s",
            str(agent.turns),
            f"{u.input_tokens}/{u.output_tokens}/{u.cache_read_tokens + u.cache_creation_tokens}",
            f"${agent.cost_usd:.4f}",
            note[:70],
        )
    table.caption = (
        "tokens: input/output/cache (read+write) · "
        f"wall {m.wall_s:.2f}s (base {m.base_s:.2f}s, agents {m.agents_wall_s:.2f}s"
        + (f"; {waited_s:.2f}s since swarm started" if waited_s is not None else "")
        + ") · "
        f"agent time {m.total_agent_s:.2f}s · speedup {m.speedup:.2f}x · "
        f"efficiency {m.efficiency:.0%} of bound {m.makespan_lower_bound_s:.2f}s · "
        f"peak {m.peak_concurrency}/{m.max_parallel} · tokens {m.usage.total} · "
        f"${m.cost_usd:.4f}{' (fake API pricing)' if rehearsal else ''} · retries {m.retries}"
    )
    return table


def _plain_line(event: SwarmEvent) -> str | None:
    stamp = f"{event.elapsed_s:8.2f}s"
    if event.kind is EventKind.BASE_STARTED:
        return f"{stamp}  base      building the base session"
    if event.kind is EventKind.BASE_READY:
        return f"{stamp}  base      ready ({event.detail})"
    if event.kind is EventKind.STARTED:
        return f"{stamp}  started   {event.agent_id}"
    if event.kind is EventKind.RETRY:
        return f"{stamp}  retry     {event.agent_id or 'base'}: {event.detail}"
    if event.kind is EventKind.FINISHED and event.result is not None:
        r = event.result
        extra = f" ({r.error})" if r.error else ""
        took = f" in {r.duration_s:.2f}s" if r.duration_s is not None else ""
        return f"{stamp}  {r.status.value:<9} {r.agent_id}{took}{extra}"
    return None


async def show_progress(
    events: trio.MemoryReceiveChannel[SwarmEvent],
    *,
    live: bool,
    stream: TextIO | None = None,
) -> None:
    """Consume a run's events until the channel closes, drawing progress."""
    out = stream or sys.stderr
    if not live:
        async with events:
            async for event in events:
                line = _plain_line(event)
                if line is not None:
                    print(line, file=out, flush=True)
        return
    view = _ProgressView()
    with Live(view, console=Console(file=out), refresh_per_second=8, transient=False):
        async with events:
            async for event in events:
                view.apply(event)


class _ProgressView:
    """The live table; rich re-renders it on its own thread, so elapsed times tick."""

    def __init__(self) -> None:
        self.rows: dict[str, _Row] = {}
        self.title = "starting"
        self._origin = time.monotonic()

    def apply(self, event: SwarmEvent) -> None:
        self._origin = time.monotonic() - event.elapsed_s
        if event.kind is EventKind.RUN_STARTED:
            self.title = f"run {event.run_id}"
        elif event.kind is EventKind.BASE_STARTED:
            self.title = f"run {event.run_id}: building the base session"
        elif event.kind is EventKind.BASE_READY:
            self.title = f"run {event.run_id}: agents running"
        elif event.kind is EventKind.RETRY:
            retry = f"retry {event.data.get('attempt', '')}: {event.detail}"
            if event.agent_id is None:
                self.title = f"run {event.run_id}: building the base session ({retry})"
            elif event.agent_id in self.rows:
                self.rows[event.agent_id].note = retry
        elif event.agent_id is not None and event.result is not None:
            row = self.rows.setdefault(event.agent_id, _Row(event.result))
            row.result = event.result
            if event.kind is EventKind.STARTED:
                row.started = event.elapsed_s
        elif (
            event.kind is EventKind.MESSAGE
            and event.agent_id in self.rows
            and event.message is not None
            and event.message.role == "assistant"
        ):
            self.rows[event.agent_id].turns += 1

    def __rich__(self) -> Table:
        return _progress_table(self.rows, time.monotonic() - self._origin, self.title)


def print_prune(report: PruneReport) -> None:
    gone = "would remove" if report.dry_run else "removed"
    for verdict in report.worktrees:
        if verdict.removed:
            print(f"{gone} worktree {verdict.name} ({verdict.why})")
        else:
            hint = " (--force removes it)" if "uncommitted" in verdict.why else ""
            print(f"kept worktree {verdict.name}: {verdict.why}{hint}")
    deleted = "would delete" if report.dry_run else "deleted"
    for verdict in report.branches:
        if verdict.removed:
            print(f"{deleted} branch {verdict.name} ({verdict.why})")
        else:
            print(f"kept branch {verdict.name}: {verdict.why}")
    if not report.worktrees and not report.branches:
        print("no swarm worktrees or branches to remove")
