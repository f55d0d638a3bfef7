"""Test support shipped to users: conformance suites for plug-in implementations.

``run_store_conformance(make_store)`` checks any :class:`~swarm.stores.base.Store`;
a third-party store passes it before it is trusted with a run.
"""

from .store_conformance import STORE_CONTRACTS, run_store_conformance

__all__ = ["STORE_CONTRACTS", "run_store_conformance"]
