"""Runs the workloads one after another and collects a :class:`BenchReport`.

A workload that raises becomes a ``failed`` entry with the error as its
reason; one that cannot run here (no claude backend) a ``skipped`` one; the
other workloads still run. Workloads run sequentially so they never compete
for the two cores of a CI machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..records import utc_now
from . import _checkpointing as checkpointing
from . import _claude_tokens as claude_tokens
from . import _overhead as overhead
from . import _realcli as realcli
from . import _scheduling as scheduling
from . import _startup as startup
from . import _tokens as tokens
from ._environment import environment
from ._model import BenchReport, WorkloadResult, WorkloadStatus

WORKLOADS = (
    "scheduling",
    "overhead",
    "realcli",
    "tokens",
    "claude-tokens",
    "checkpoints",
    "startup",
)

#: Workloads the issue asks for that this build does not measure yet, and why.
NOT_MEASURED: dict[str, tuple[str, str]] = {}


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """What to run, and how big. ``quick`` is the CI size (a few minutes on 2 cores)."""

    quick: bool = False
    only: frozenset[str] = frozenset(WORKLOADS)
    overhead_max_parallel: int = 64

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(10 if self.quick else 20))

    @property
    def overhead_agents(self) -> int:
        return 2_000 if self.quick else 10_000

    @property
    def checkpoint_repeats(self) -> int:
        return 7 if self.quick else 21

    @property
    def startup_rounds(self) -> int:
        return 3 if self.quick else 7


def _timed(name: str, title: str, measure: Callable[[], WorkloadResult]) -> WorkloadResult:
    started = time.perf_counter()
    try:
        result = measure()
    except Exception as exc:  # one broken workload must not hide the others' figures
        result = WorkloadResult(
            name, title, WorkloadStatus.FAILED, reason=f"{type(exc).__name__}: {exc}"
        )
    result.seconds = time.perf_counter() - started
    return result


def run_bench(
    options: BenchOptions,
    command: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """Run the selected workloads and return the report (nothing is written here)."""
    say = progress or (lambda _: None)
    started_at, started = utc_now(), time.perf_counter()
    steps: list[tuple[str, str, Callable[[], WorkloadResult]]] = [
        (
            "scheduling",
            "Scheduling",
            lambda: scheduling.run(scheduling.SchedulingSetup(seeds=options.seeds)),
        ),
        (
            "overhead",
            "Orchestration overhead",
            lambda: overhead.run(options.overhead_agents, options.overhead_max_parallel),
        ),
        ("realcli", "Real Claude Code CLI", lambda: realcli.run(realcli.RealCLISetup())),
        ("tokens", tokens.TITLE, lambda: tokens.run(tokens.TokensSetup())),  # seconds: any size
        (
            "claude-tokens",
            claude_tokens.TITLE,
            lambda: claude_tokens.run(claude_tokens.ClaudeTokensSetup()),
        ),
        ("checkpoints", "Checkpoints", lambda: checkpointing.run(options.checkpoint_repeats)),
        ("startup", startup.TITLE, lambda: startup.run(options.startup_rounds)),
    ]
    results: list[WorkloadResult] = []
    for name, title, measure in steps:
        if name not in options.only:
            continue
        say(f"swarm bench: {name} ...")
        result = _timed(name, title, measure)
        say(f"swarm bench: {name}: {result.status.value} in {result.seconds:.1f}s")
        results.append(result)
    for name, (title, reason) in NOT_MEASURED.items():
        if name in options.only:
            results.append(WorkloadResult.skipped(name, title, reason))
    order = {name: i for i, name in enumerate(WORKLOADS)}
    results.sort(key=lambda w: order.get(w.name, len(order)))
    return BenchReport(
        started_at=started_at,
        command=list(command),
        quick=options.quick,
        seconds=time.perf_counter() - started,
        environment=environment(
            with_cli=bool({"realcli", "claude-tokens", "startup"} & options.only)
        ),
        workloads=results,
    )
