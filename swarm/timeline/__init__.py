"""What runs leave behind, read back and kept in order: the layer above the engine's plan.

- lineage trees and browsing: sessions by run, agent, status and time; a run by id,
  prefix or ``latest`` (:func:`find_run`), runs whose records are damaged left out;
- checkpoints: points in a session, taken as a run goes and on request, cheap to
  compare (their figures are cumulative);
- time travel: the diff of two checkpoints, a new session branching at one;
- export of a run (json, jsonl, csv, markdown);
- retention (``gc``): runs that go, never a parent a kept fork needs, never a live run;
- durations of earlier runs, the input of longest-first ordering.

It is named for the timeline of a run's sessions; ``swarm.history`` is the function that
assembles one session's history (:func:`swarm.stores.history`).
"""

from ._browse import (
    SessionView,
    check_run_ref,
    find_run,
    find_session,
    list_session_views,
    parse_duration,
    parse_since,
    parse_time,
    readable_runs,
    session_detail,
    session_tree,
)
from ._cache import MISS_SHARE, CacheMiss, cache_misses, context_tokens
from ._checkpoints import (
    WRITE_TOOLS,
    CheckpointPolicy,
    HistoryState,
    RunCheckpoints,
    SessionCheckpoints,
    check_name,
    create_checkpoint,
    files_touched,
    find_checkpoint,
    prune_order,
    state_at,
)
from ._durations import SCAN_LIMIT, expected_durations_from_store, history_key
from ._export import CSV_COLUMNS, EXPORT_FORMATS, export_run
from ._retention import (
    DEFAULT_MAX_RUNS,
    DEFAULT_TTL,
    GC_LEASE_TTL_S,
    GcReport,
    RunVerdict,
    collect_garbage,
)
from ._timetravel import CheckpointDiff, checkpoint_origin, diff_checkpoints, fork_at, fork_plan

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_MAX_RUNS",
    "DEFAULT_TTL",
    "EXPORT_FORMATS",
    "GC_LEASE_TTL_S",
    "MISS_SHARE",
    "SCAN_LIMIT",
    "WRITE_TOOLS",
    "CacheMiss",
    "CheckpointDiff",
    "CheckpointPolicy",
    "GcReport",
    "HistoryState",
    "RunCheckpoints",
    "RunVerdict",
    "SessionCheckpoints",
    "SessionView",
    "cache_misses",
    "check_name",
    "check_run_ref",
    "checkpoint_origin",
    "collect_garbage",
    "context_tokens",
    "create_checkpoint",
    "diff_checkpoints",
    "expected_durations_from_store",
    "export_run",
    "files_touched",
    "find_checkpoint",
    "find_run",
    "find_session",
    "fork_at",
    "fork_plan",
    "history_key",
    "list_session_views",
    "parse_duration",
    "parse_since",
    "parse_time",
    "prune_order",
    "readable_runs",
    "session_detail",
    "session_tree",
    "state_at",
]
