"""Shared fixtures: plans built in code, stores, and a run helper in virtual time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# The tests never talk to a real API, whatever the developer's shell exports.
for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"):
    os.environ.pop(name, None)


@pytest.fixture(autouse=True, scope="session")
def _private_swarm_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """swarm's cache (scratch folders, kept rehearsal transcripts) in a folder of the test
    session's, for this process and every swarm process it starts, never the user's."""
    saved = os.environ.get("SWARM_CACHE_DIR")
    os.environ["SWARM_CACHE_DIR"] = str(tmp_path_factory.mktemp("swarm-cache"))
    yield
    if saved is None:
        os.environ.pop("SWARM_CACHE_DIR", None)
    else:
        os.environ["SWARM_CACHE_DIR"] = saved


@pytest.fixture
def in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run the test from an empty temporary working directory."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
