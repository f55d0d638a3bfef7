"""swarm: run many Claude agents at once, each forked off one shared base session.

The public API is re-exported here; the implementation lives in focused modules.
"""

from __future__ import annotations

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
from .checkpoints import CheckpointPolicy, create_checkpoint, find_checkpoint
from .durations import expected_durations_from_store
from .errors import (
    APIError,
    BackendError,
    BackendUnavailable,
    IntegrityError,
    LeaseHeld,
    NotFoundError,
    PlanError,
    SkipAgent,
    StoreError,
    SwarmError,
    TransientAPIError,
    UsageError,
)
from .events import EventKind, SwarmEvent
from .executor import ExecutorOptions, ParallelSwarmExecutor
from .export import export_run
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
from .retention import collect_garbage
from .stores import MemoryStore, SQLiteStore, Store, history, lineage, open_store
from .timetravel import CheckpointDiff, diff_checkpoints, fork_at, fork_plan

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
    "EventKind",
    "ExecutorOptions",
    "IntegrityError",
    "Lease",
    "LeaseHeld",
    "MemoryStore",
    "Message",
    "NotFoundError",
    "ParallelSwarmExecutor",
    "Plan",
    "PlanError",
    "Priority",
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
    "TransientAPIError",
    "Usage",
    "UsageError",
    "__version__",
    "collect_garbage",
    "configure_logging",
    "create_backend",
    "create_checkpoint",
    "diff_checkpoints",
    "expected_durations_from_store",
    "export_run",
    "find_checkpoint",
    "fork_at",
    "fork_plan",
    "history",
    "lineage",
    "load_plan",
    "open_store",
    "parse_plan",
]
