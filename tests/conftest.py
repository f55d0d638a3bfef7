"""Shared fixtures: plans built in code, stores, and a run helper in virtual time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# The tests never talk to a real API, whatever the developer's shell exports.
for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"):
    os.environ.pop(name, None)


@pytest.fixture
def in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run the test from an empty temporary working directory."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
