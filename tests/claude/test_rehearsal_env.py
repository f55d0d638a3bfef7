"""The environment of rehearsal CLIs: the fake API's switches plus the start-up tuning."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from swarm.backends import REHEARSAL_CLI_ENV, BaseRequest, RetryPolicy, open_rehearsal
from swarm.backends.claude import ClaudeBackend
from swarm.mockapi import MockAPIConfig, RequestRecord, cli_env
from swarm.stores import MemoryStore
from swarm.testing import RecordingSink


async def test_rehearsal_env_is_cli_env_plus_the_runtime_tuning(tmp_path: Path) -> None:
    """Every rehearsal CLI gets the fake API's variables and Bun's idle GC timer off."""
    async with open_rehearsal(MockAPIConfig(), tmp_path / "home") as rehearsal:
        expected = cli_env(rehearsal.server.base_url, tmp_path / "home")
        assert dict(rehearsal.env) == {**expected, "BUN_GC_TIMER_DISABLE": "1"}
    assert set(REHEARSAL_CLI_ENV).isdisjoint(expected)  # tuning only, nothing overridden


def _prompt_tokens(record: RequestRecord) -> int:
    usage = record.usage or {}
    keys = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    return sum(int(usage.get(k, 0)) for k in keys)


@pytest.mark.cli
async def test_the_tuning_leaves_what_the_api_sees_unchanged(tmp_path: Path) -> None:
    """One base session with the tuning and one without send the same system, tools, turns."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    async with open_rehearsal(MockAPIConfig(), tmp_path / "home") as rehearsal:
        untuned = {k: v for k, v in rehearsal.env.items() if k not in REHEARSAL_CLI_ENV}
        envs: tuple[Mapping[str, str], ...] = (rehearsal.env, untuned)
        for env in envs:
            store = MemoryStore()
            backend = ClaudeBackend(store, env=env, cwd=workdir, retry=RetryPolicy(max_attempts=1))
            request = BaseRequest(run_id="r", prompt="Say hi.")
            await backend.open_base(request, RecordingSink(store, "claude"))
        tuned, plain = rehearsal.server.message_requests
    assert tuned.session_id != plain.session_id
    assert tuned.system == plain.system and tuned.system
    assert tuned.tools == plain.tools and tuned.tools
    assert tuned.user_texts == plain.user_texts == ["Say hi."]
    assert _prompt_tokens(tuned) == _prompt_tokens(plain)
