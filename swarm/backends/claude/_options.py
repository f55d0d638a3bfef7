"""The ``claude`` backend as plans know it: its options, its credentials check, its entry.

Nothing here imports claude-agent-sdk: the factory imports the backend when a run
builds one, so a plan validates (and ``import swarm`` runs) without the SDK loaded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typing_extensions import TypedDict

from ..._values import Bool, ModelName, NonEmpty
from ...errors import BackendUnavailable, Remedy
from .._entry import BackendConfig, BackendEntry
from .._retry_policy import RetryOptions, RetryPolicy

if TYPE_CHECKING:
    from ...stores import Store
    from .._protocol import Backend


class ClaudeOptions(TypedDict, total=False):
    """``backend.options`` of the claude backend (each one optional)."""

    model: ModelName
    cwd: str
    cli_path: NonEmpty
    session_store: Bool  # mirror every transcript into the store (default true)
    # Claude Code's own system prompt (its tools, environment and instructions) with an
    # agent's system_prompt appended; default false: the prompt is the agent's alone.
    preset_system_prompt: Bool
    # With the preset: move the per-machine sections (cwd, git status, memory paths) out
    # of the system prompt, so forks in other directories (worktrees) still read the
    # base from the prompt cache. Default true; false sends them as Claude Code does.
    exclude_dynamic_sections: Bool
    # Claude Code's --bare mode: less CLI start-up CPU, but the API sees less (3 tools
    # instead of 12, no environment message, no CLAUDE.md, API key auth only). Default false.
    bare: Bool
    retry: RetryOptions
    rehearsal: dict[str, Any]  # the fake API's script under --rehearse (a MockAPIConfig)


#: Variables with which the Claude Code CLI authenticates without a login: a key or
#: token for the Anthropic API, or a cloud provider that brings its own credentials.
CLAUDE_CREDENTIAL_VARS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
)


def claude_credentials_available(env: Mapping[str, str] | None = None) -> bool:
    """True when an API key is set or a Claude Code login exists for this user.

    ``env`` is layered over ``os.environ``, as for the CLI processes themselves.
    """
    seen = {**os.environ, **(env or {})}
    if any(seen.get(name) for name in CLAUDE_CREDENTIAL_VARS):
        return True
    home = Path(seen["HOME"]) if seen.get("HOME") else Path.home()
    config_dir = Path(seen.get("CLAUDE_CONFIG_DIR") or home / ".claude")
    return (config_dir / ".credentials.json").is_file()


def check_claude_credentials(cli_env: Mapping[str, str] | None) -> None:
    """Refuse up front a claude backend whose CLIs cannot log in (the error's remedy is to
    rehearse or simulate instead).

    Without credentials every CLI would fail its agent with "Not logged in".
    An env that sets ``ANTHROPIC_BASE_URL`` (a rehearsal's fake API) is the
    caller's own server and is not checked. On macOS a login lives in the
    Keychain, which is not looked at, so nothing is refused there.
    """
    if (cli_env or {}).get("ANTHROPIC_BASE_URL") or sys.platform == "darwin":
        return
    if not claude_credentials_available(cli_env):
        raise BackendUnavailable(
            "the claude backend needs Claude Code credentials: ANTHROPIC_API_KEY (or "
            "CLAUDE_CODE_OAUTH_TOKEN) or a login (run `claude` and /login), and none was "
            "found",
            remedy=Remedy.REHEARSE_OR_SIMULATE,
        )


def _create(spec: BackendConfig, store: Store, cli_env: Mapping[str, str] | None) -> Backend:
    from ._backend import ClaudeBackend

    check_claude_credentials(cli_env)
    options = dict(spec.options)
    policy = RetryPolicy.from_options(options.get("retry") or {})
    return ClaudeBackend(
        store,
        env=cli_env,
        model=options.get("model"),
        cwd=options.get("cwd"),
        cli_path=options.get("cli_path"),
        session_store=bool(options.get("session_store", True)),
        retry=policy,
        preset_system_prompt=bool(options.get("preset_system_prompt", False)),
        exclude_dynamic_sections=bool(options.get("exclude_dynamic_sections", True)),
        bare=bool(options.get("bare", False)),
    )


def _rehearsal_script() -> type:
    from ...mockapi import MockAPIConfig  # only for a plan that sets one

    return MockAPIConfig


CLAUDE = BackendEntry(
    "claude",
    ClaudeOptions,
    _create,
    {"rehearsal": _rehearsal_script},
    preload=("swarm.backends.claude._backend",),  # claude-agent-sdk: ~1 s to import
)
