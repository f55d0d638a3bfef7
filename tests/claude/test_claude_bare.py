"""``backend.options.bare``: Claude Code's --bare mode, opt-in, and what it changes."""

from __future__ import annotations

import pytest

from swarm.backends.claude import ClaudeBackend
from swarm.errors import PlanError
from swarm.plan import parse_plan
from tests.claude.conftest import FAST_RETRY, Harness

pytestmark = pytest.mark.cli

PLAN = """
base: {prompt: "Read the brief."}
agents: [{id: a, prompt: "Task a."}]
defaults: {max_turns: 1}
backend: {name: claude}
"""


async def test_bare_is_opt_in_and_sends_fewer_tools(harness: Harness) -> None:
    """A plain backend sends Claude Code's full tool list; with bare the CLI runs in its
    minimal mode (three tools), and its forks still run."""
    plain = await harness.run(PLAN)
    assert plain.succeeded
    server = harness.rehearsal.server
    full = {len(r.tools) for r in server.message_requests}
    bare_backend = ClaudeBackend(
        harness.store,
        env=harness.rehearsal.env,
        cwd=harness.workdir,
        retry=FAST_RETRY,
        bare=True,
    )
    first = server.request_count
    bare = await harness.run(PLAN, bare_backend)
    assert bare.succeeded and bare.agents["a"].session_id
    minimal = {len(r.tools) for r in server.requests_since(first) if r.is_messages}
    assert max(minimal) < min(full), (full, minimal)
    assert sorted(server.requests_since(first)[-1].tools) == ["Bash", "Edit", "Read"]


def test_the_options_are_typed() -> None:
    """bare, preset_system_prompt and exclude_dynamic_sections are booleans in a plan."""
    for option in ("bare", "preset_system_prompt", "exclude_dynamic_sections"):
        parse_plan(PLAN.replace("{name: claude}", f"{{name: claude, options: {{{option}: true}}}}"))
        with pytest.raises(PlanError, match=option):
            parse_plan(
                PLAN.replace("{name: claude}", f"{{name: claude, options: {{{option}: 'maybe'}}}}")
            )
