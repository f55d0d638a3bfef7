"""Test support shipped to users: conformance suites for plug-in implementations.

``run_store_conformance(make_store)`` checks any :class:`~swarm.stores.Store`
and ``run_backend_conformance(make_backend)`` any :class:`~swarm.backends.Backend`;
a third-party implementation passes its suite before it is trusted with a run.
``ScriptedBackend`` is a real fake backend whose agents follow per-agent scripts
(latency, 429/529 answers, failures, cost), for tests of scheduling and limits.
``ThrowawayPostgres`` starts a PostgreSQL server in a temporary folder (tests, trials).
"""

from ._backend_conformance import BACKEND_CONTRACTS, RecordingSink, run_backend_conformance
from ._postgres_server import ServerUnavailable, ThrowawayPostgres, find_server_binaries
from ._scripted import AgentScript, RateLimitStorm, ScriptedBackend, ScriptedBackendStats
from ._store_conformance import STORE_CONTRACTS, Contract, StoreFactory, run_store_conformance

__all__ = [
    "BACKEND_CONTRACTS",
    "STORE_CONTRACTS",
    "AgentScript",
    "Contract",
    "RateLimitStorm",
    "RecordingSink",
    "ScriptedBackend",
    "ScriptedBackendStats",
    "ServerUnavailable",
    "StoreFactory",
    "ThrowawayPostgres",
    "find_server_binaries",
    "run_backend_conformance",
    "run_store_conformance",
]
