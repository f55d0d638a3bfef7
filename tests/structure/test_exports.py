"""The public API is what these lists say: a name cannot be added, dropped or left
unresolvable without this test changing too (as trio's test_exports.py and httpx's
test_exported_members.py pin theirs)."""

from __future__ import annotations

import importlib

import pytest

import swarm

API = [
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

STORES = [
    "BatchWriter",
    "Clock",
    "CommitStats",
    "DEFAULT_STORE_URL",
    "DelegatingStore",
    "MemoryStore",
    "MessageRangeReader",
    "PostgresStore",
    "Problem",
    "RedactingStore",
    "RepairReport",
    "RunLease",
    "SQLiteStore",
    "Store",
    "StoreURL",
    "StoreURLError",
    "StoreWrite",
    "TranscriptEntry",
    "TranscriptStore",
    "VerifyReport",
    "WriteKind",
    "header_problem",
    "history",
    "history_of",
    "is_sqlite_file",
    "keeps_transcripts",
    "lineage",
    "messages_between",
    "new_owner_id",
    "open_store",
    "owner_is_dead",
    "parse_store_url",
    "repair",
    "repair_postgres",
    "run_ids_in_file",
    "run_lease_name",
    "sqlite_path",
    "store_location_problem",
    "verify",
    "verify_postgres",
    "writes_batches",
]

BACKENDS = [
    "AgentOutcome",
    "AgentRequest",
    "AgentSink",
    "BACKENDS",
    "BACKEND_NAMES",
    "Backend",
    "BackendConfig",
    "BackendEntry",
    "BackendFactory",
    "BaseRequest",
    "BaseSession",
    "CLAUDE_CREDENTIAL_VARS",
    "IdleBackend",
    "REHEARSAL_CLI_ENV",
    "RecordedRehearsalInvalid",
    "Rehearsal",
    "RehearsalSetup",
    "RetryOptions",
    "RetryPolicy",
    "SIMULATED_MARK",
    "SimulatedBackend",
    "SimulatedSettings",
    "SimulatedSpec",
    "backend_entry",
    "call_with_retries",
    "check_claude_credentials",
    "choose_backend_name",
    "claude_credentials_available",
    "create_backend",
    "kept_transcripts_home",
    "maybe_rehearsal",
    "open_backend",
    "open_rehearsal",
    "preload_backend",
    "rehearsal_config",
]

TESTING = [
    "AgentScript",
    "BACKEND_CONTRACTS",
    "Contract",
    "RateLimitStorm",
    "RecordingSink",
    "STORE_CONTRACTS",
    "ScriptedBackend",
    "ScriptedBackendStats",
    "ServerUnavailable",
    "StoreFactory",
    "ThrowawayPostgres",
    "find_server_binaries",
    "run_backend_conformance",
    "run_store_conformance",
]

TELEMETRY = [
    "EXPORTERS",
    "PROVIDER",
    "RunMeter",
    "RunTracer",
    "Telemetry",
    "exporter_names",
    "telemetry_from_env",
    "usage_attributes",
]

UI = [
    "POLL_S",
    "SECURITY_HEADERS",
    "TOKEN_COOKIE",
    "RunPage",
    "RunRow",
    "Security",
    "SessionPage",
    "Timeline",
    "blocks_of",
    "create_app",
    "is_loopback",
    "new_token",
    "run_page",
    "runs_page",
    "serve_dashboard",
    "session_page",
    "timeline",
]

PINNED = {
    "swarm": API,
    "swarm.stores": STORES,
    "swarm.backends": BACKENDS,
    "swarm.testing": TESTING,
    "swarm.telemetry": TELEMETRY,
    "swarm.ui": UI,
}

#: Every package with a public face: each name of its __all__ must resolve.
PACKAGES = [
    "swarm",
    "swarm.stores",
    "swarm.backends",
    "swarm.backends.claude",
    "swarm.backends.anthropic",
    "swarm.plan",
    "swarm.timeline",
    "swarm.engine",
    "swarm.workspaces",
    "swarm.mockapi",
    "swarm.testing",
    "swarm.bench",
    "swarm.cli",
    "swarm.telemetry",
    "swarm.ui",
]


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_public_names_are_pinned(name: str) -> None:
    """``__all__`` is exactly the pinned list: changing the API means changing this test."""
    assert sorted(importlib.import_module(name).__all__) == sorted(PINNED[name])


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_resolves(name: str) -> None:
    """Each name in a package's ``__all__`` is there (a lazy one imports when asked for),
    is listed once, and no private name is exported."""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), name
    for attr in exported:
        assert getattr(module, attr) is not None, f"{name}.{attr}"
        assert not attr.startswith("_") or attr == "__version__", f"{name}.{attr}"


def test_the_plug_in_types_are_exported_from_swarm() -> None:
    """What a third-party store or backend implements or returns is importable from swarm
    itself: the protocols, the sink, the records, and the lease a store returns."""
    from swarm import records, stores

    assert swarm.Store is stores.Store and swarm.Lease is records.Lease
    for name in ("Backend", "AgentSink", "AgentRequest", "BaseRequest", "AgentOutcome"):
        assert name in swarm.__all__
    assert swarm.__version__ == swarm._version.__version__
