"""A throwaway PostgreSQL server for this test session, and a fresh database per test.

One server starts the first time a test asks for it (about a second) and stops at the
end of the session. Without PostgreSQL's server binaries the tests that need it are
skipped with the reason; under ``SWARM_REQUIRE_POSTGRES=1`` (what ``.ci/run`` sets)
that skip is a failure instead, so CI can never pass without running them.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from swarm.testing import ServerUnavailable, ThrowawayPostgres

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayPostgres]:
    try:
        server = ThrowawayPostgres.start()
    except ServerUnavailable as exc:
        if os.environ.get("SWARM_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"SWARM_REQUIRE_POSTGRES=1 but no PostgreSQL server could start: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: ThrowawayPostgres) -> str:
    """The URL of a new, empty database on the session's server."""
    return postgres_server.create_database(f"swarm_test_{os.getpid()}_{next(_databases)}")
