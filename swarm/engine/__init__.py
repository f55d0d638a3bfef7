"""The engine: runs a plan's agents in parallel, each a fork of one base session.

:class:`ParallelSwarmExecutor` is its public face (``run``, ``resume``, ``cancel``).
One execution of a plan is made of:

- the run state: agents, results, spending, why the run stops (no I/O);
- the journal: every store write of the run, and the one fencing check;
- the scheduler: the ready queue by priority (longest-first within one, from the
  durations of earlier runs), the window, ``window`` and ``batch`` modes;
- the engine: where an agent's backend call runs (here, :class:`LocalEngine`, or on a
  Dask cluster, :class:`DaskEngine`: ``execution.engine: dask``);
- the sink handed to the backend, which journals each report, then tells the run;
- the event feed: the one stream of what happens (progress display, observers);
- requests (what each agent forks), resume (what a resume does with each agent),
  metrics, the checks a plan needs of the store before it runs, session metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import Exports, lazy_exports

if TYPE_CHECKING:
    from ._dask import DaskEngine, open_dask_engine
    from ._engines import Engine, LocalEngine
    from ._executor import ParallelSwarmExecutor, new_run_id
    from ._feed import EventFeed
    from ._journal import Journal
    from ._metrics import run_metrics
    from ._options import ExecutorOptions, Hooks, PostAgentHook, PreAgentHook
    from ._preflight import Problem, needs_store, store_problems
    from ._requests import agent_request, base_request
    from ._resume import (
        KEPT_STATUSES,
        ResumeState,
        continue_prompt,
        is_kept,
        load_resume_state,
        merge_metrics,
    )
    from ._scheduling import AIMDWindow, ReadyQueue, Scheduler
    from ._session_meta import SessionDescriber, git_state, swarm_version
    from ._state import RunState

_EXPORTS: Exports = {
    "._dask": ("DaskEngine", "open_dask_engine"),
    "._engines": ("Engine", "LocalEngine"),
    "._executor": ("ParallelSwarmExecutor", "new_run_id"),
    "._feed": ("EventFeed",),
    "._journal": ("Journal",),
    "._metrics": ("run_metrics",),
    "._options": ("ExecutorOptions", "Hooks", "PostAgentHook", "PreAgentHook"),
    "._preflight": ("Problem", "needs_store", "store_problems"),
    "._requests": ("agent_request", "base_request"),
    "._resume": (
        "KEPT_STATUSES",
        "ResumeState",
        "continue_prompt",
        "is_kept",
        "load_resume_state",
        "merge_metrics",
    ),
    "._scheduling": ("AIMDWindow", "ReadyQueue", "Scheduler"),
    "._session_meta": ("SessionDescriber", "git_state", "swarm_version"),
    "._state": ("RunState",),
}

__all__ = [
    "KEPT_STATUSES",
    "AIMDWindow",
    "DaskEngine",
    "Engine",
    "EventFeed",
    "ExecutorOptions",
    "Hooks",
    "Journal",
    "LocalEngine",
    "ParallelSwarmExecutor",
    "PostAgentHook",
    "PreAgentHook",
    "Problem",
    "ReadyQueue",
    "ResumeState",
    "RunState",
    "Scheduler",
    "SessionDescriber",
    "agent_request",
    "base_request",
    "continue_prompt",
    "git_state",
    "is_kept",
    "load_resume_state",
    "merge_metrics",
    "needs_store",
    "new_run_id",
    "open_dask_engine",
    "run_metrics",
    "store_problems",
    "swarm_version",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
