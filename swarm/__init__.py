"""swarm: run many Claude agents at once, each forked off one shared base session.

This module is the public API: every name a user or a plug-in author needs is
re-exported here. The implementation is in layers, one package each, every layer
importing only the ones below it (``tests/structure/test_layers.py`` holds the order and
fails on an import that climbs or a cycle)::

    cli/        the `swarm` command line: composes the commands, words errors, exit codes
    bench/      `swarm bench`: sequential against forked-in-parallel, measured side by side
    testing/    conformance suites for stores and backends, a scripted backend
    engine/     ParallelSwarmExecutor: run state, the journal, scheduler, sink, event feed
    workspaces/ agents in git worktrees of their own: worktrees, commits, checked merges
    timeline/   what runs leave: checkpoints, time travel, browsing, export, retention
    plan/       plans: the models (one source of the vocabulary), files, error translation
    backends/   the Backend protocol, the registry, simulated / claude / anthropic
    stores/     the Store protocol, URL parsing, wrappers every store passes through
                (redaction), memory and SQLite, lineage, run leases, verify / repair
    mockapi/    the fake Anthropic Messages API that rehearsals run against
    core        errors, records, events; private helpers (_redaction, _log, _names, ...)

Private modules (``_name.py``) are implementation: import from a package, never
from inside another one.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._log import configure_logging
    from ._version import __version__
    from .backends import (
        AgentOutcome,
        AgentRequest,
        AgentSink,
        Backend,
        BaseRequest,
        BaseSession,
        SimulatedBackend,
        create_backend,
    )
    from .engine import ExecutorOptions, ParallelSwarmExecutor
    from .errors import (
        APIError,
        BackendError,
        BackendUnavailable,
        IntegrityError,
        LeaseHeld,
        NotFoundError,
        PlanError,
        PlanIssue,
        Remedy,
        SkipAgent,
        StoreError,
        SwarmError,
        TransientAPIError,
        UsageError,
        WorkspaceError,
        WorkspaceRefused,
    )
    from .events import EventKind, RunObserver, SwarmEvent
    from .plan import AgentSpec, Plan, Priority, load_plan, parse_plan
    from .records import (
        AgentResult,
        AgentStatus,
        Attempt,
        BaseEntry,
        Checkpoint,
        Lease,
        Message,
        RunRecord,
        RunStatus,
        SessionRecord,
        SwarmMetrics,
        SwarmResult,
        Usage,
    )
    from .stores import (
        DelegatingStore,
        MemoryStore,
        MessageRangeReader,
        PostgresStore,
        RedactingStore,
        SQLiteStore,
        Store,
        TranscriptStore,
        history,
        lineage,
        open_store,
    )
    from .timeline import (
        CheckpointDiff,
        CheckpointPolicy,
        collect_garbage,
        create_checkpoint,
        diff_checkpoints,
        expected_durations_from_store,
        export_run,
        find_checkpoint,
        find_run,
        fork_at,
        fork_plan,
    )
    from .workspaces import (
        MergeReport,
        RepoState,
        WorkspaceChange,
        inspect_repository,
        merge_agents,
    )

# The public names, each imported from its layer when first asked for (PEP 562): ``import
# swarm`` costs nothing, so ``swarm --help`` and ``swarm validate`` load only what they use.
_EXPORTS: dict[str, str] = {
    "configure_logging": "._log",
    "__version__": "._version",
    "AgentOutcome": ".backends",
    "AgentRequest": ".backends",
    "AgentSink": ".backends",
    "Backend": ".backends",
    "BaseRequest": ".backends",
    "BaseSession": ".backends",
    "SimulatedBackend": ".backends",
    "create_backend": ".backends",
    "ExecutorOptions": ".engine",
    "ParallelSwarmExecutor": ".engine",
    "APIError": ".errors",
    "BackendError": ".errors",
    "BackendUnavailable": ".errors",
    "IntegrityError": ".errors",
    "LeaseHeld": ".errors",
    "NotFoundError": ".errors",
    "PlanError": ".errors",
    "PlanIssue": ".errors",
    "Remedy": ".errors",
    "SkipAgent": ".errors",
    "StoreError": ".errors",
    "SwarmError": ".errors",
    "TransientAPIError": ".errors",
    "UsageError": ".errors",
    "WorkspaceError": ".errors",
    "WorkspaceRefused": ".errors",
    "EventKind": ".events",
    "RunObserver": ".events",
    "SwarmEvent": ".events",
    "AgentSpec": ".plan",
    "Plan": ".plan",
    "Priority": ".plan",
    "load_plan": ".plan",
    "parse_plan": ".plan",
    "AgentResult": ".records",
    "AgentStatus": ".records",
    "Attempt": ".records",
    "BaseEntry": ".records",
    "Checkpoint": ".records",
    "Lease": ".records",
    "Message": ".records",
    "RunRecord": ".records",
    "RunStatus": ".records",
    "SessionRecord": ".records",
    "SwarmMetrics": ".records",
    "SwarmResult": ".records",
    "Usage": ".records",
    "DelegatingStore": ".stores",
    "MemoryStore": ".stores",
    "MessageRangeReader": ".stores",
    "PostgresStore": ".stores",
    "RedactingStore": ".stores",
    "SQLiteStore": ".stores",
    "Store": ".stores",
    "TranscriptStore": ".stores",
    "history": ".stores",
    "lineage": ".stores",
    "open_store": ".stores",
    "CheckpointDiff": ".timeline",
    "CheckpointPolicy": ".timeline",
    "collect_garbage": ".timeline",
    "create_checkpoint": ".timeline",
    "diff_checkpoints": ".timeline",
    "expected_durations_from_store": ".timeline",
    "export_run": ".timeline",
    "find_checkpoint": ".timeline",
    "find_run": ".timeline",
    "fork_at": ".timeline",
    "fork_plan": ".timeline",
    "MergeReport": ".workspaces",
    "RepoState": ".workspaces",
    "WorkspaceChange": ".workspaces",
    "inspect_repository": ".workspaces",
    "merge_agents": ".workspaces",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "APIError",
    "AgentOutcome",
    "AgentRequest",
    "AgentResult",
    "AgentSink",
    "AgentSpec",
    "AgentStatus",
    "Attempt",
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "BaseEntry",
    "BaseRequest",
    "BaseSession",
    "Checkpoint",
    "CheckpointDiff",
    "CheckpointPolicy",
    "DelegatingStore",
    "EventKind",
    "ExecutorOptions",
    "IntegrityError",
    "Lease",
    "LeaseHeld",
    "MemoryStore",
    "MergeReport",
    "Message",
    "MessageRangeReader",
    "NotFoundError",
    "ParallelSwarmExecutor",
    "Plan",
    "PlanError",
    "PlanIssue",
    "PostgresStore",
    "Priority",
    "RedactingStore",
    "Remedy",
    "RepoState",
    "RunObserver",
    "RunRecord",
    "RunStatus",
    "SQLiteStore",
    "SessionRecord",
    "SimulatedBackend",
    "SkipAgent",
    "Store",
    "StoreError",
    "SwarmError",
    "SwarmEvent",
    "SwarmMetrics",
    "SwarmResult",
    "TranscriptStore",
    "TransientAPIError",
    "Usage",
    "UsageError",
    "WorkspaceChange",
    "WorkspaceError",
    "WorkspaceRefused",
    "__version__",
    "collect_garbage",
    "configure_logging",
    "create_backend",
    "create_checkpoint",
    "diff_checkpoints",
    "expected_durations_from_store",
    "export_run",
    "find_checkpoint",
    "find_run",
    "fork_at",
    "fork_plan",
    "history",
    "inspect_repository",
    "lineage",
    "load_plan",
    "merge_agents",
    "open_store",
    "parse_plan",
]
