"""Backends: what actually runs an agent.

- ``simulated``: deterministic stand-ins, offline and free (benchmarks, rehearsing a schedule);
- ``claude``: real Claude Code sessions through claude-agent-sdk.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from ..errors import BackendUnavailable, UsageError
from ..plan import BackendSpec
from ..stores import Store
from .base import AgentOutcome, AgentRequest, AgentSink, Backend, BaseRequest, BaseSession
from .simulated import SimulatedBackend, SimulatedSettings

BACKEND_NAMES = ("simulated", "claude", "anthropic")

__all__ = [
    "BACKEND_NAMES",
    "AgentOutcome",
    "AgentRequest",
    "AgentSink",
    "Backend",
    "BaseRequest",
    "BaseSession",
    "SimulatedBackend",
    "SimulatedSettings",
    "check_claude_credentials",
    "claude_credentials_available",
    "create_backend",
]


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
    """Refuse up front, with the ways out, a claude backend whose CLIs cannot log in.

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
            "found. Rehearse the plan for free with real Claude Code sessions against the "
            "bundled fake API: `--backend claude --rehearse`; or run it offline with "
            "`--backend simulated`."
        )


def choose_backend_name(requested: str | None) -> str:
    """The backend to use when a plan and the command line may name none."""
    if requested is not None:
        if requested not in BACKEND_NAMES:
            raise UsageError(
                f"unknown backend {requested!r}; expected one of {', '.join(BACKEND_NAMES)}"
            )
        return requested
    if claude_credentials_available():
        return "claude"
    raise BackendUnavailable(
        "no backend named and no Claude credentials found (ANTHROPIC_API_KEY or a Claude "
        "login). Rehearse the plan for free with real Claude Code sessions against the "
        "bundled fake API: `--backend claude --rehearse`; or run it offline with "
        "`--backend simulated`."
    )


def create_backend(
    spec: BackendSpec,
    store: Store,
    name: str | None = None,
    *,
    cli_env: Mapping[str, str] | None = None,
) -> Backend:
    """Build the backend a plan's ``backend`` section (or an override) names.

    ``cli_env`` is layered over the environment of every Claude Code CLI the
    ``claude`` backend starts (the rehearsal points it at the fake API with it).
    """
    chosen = choose_backend_name(name or spec.name)
    if chosen == "simulated":
        sim = spec.simulated.model_dump(exclude_none=True)
        return SimulatedBackend(store, seed=spec.seed, settings=SimulatedSettings().merged(sim))
    if chosen == "anthropic":
        return _anthropic_backend(spec, store)
    if chosen == "claude":
        return _claude_backend(spec, store, cli_env)
    raise BackendUnavailable(f"the {chosen!r} backend is not available in this build")


def _claude_backend(spec: BackendSpec, store: Store, cli_env: Mapping[str, str] | None) -> Backend:
    from .claude import ClaudeBackend
    from .retries import RetryPolicy

    check_claude_credentials(cli_env)
    options = dict(spec.options)
    retry = options.get("retry") or {}
    try:
        policy = RetryPolicy(**retry)
    except TypeError as exc:
        raise UsageError(
            f"backend.options.retry: {exc}; expected max_attempts, initial_wait_s, "
            "max_wait_s, jitter_s, max_retry_after_s"
        ) from None
    return ClaudeBackend(
        store,
        env=cli_env,
        model=options.get("model"),
        cwd=options.get("cwd"),
        cli_path=options.get("cli_path"),
        session_store=bool(options.get("session_store", True)),
        retry=policy,
    )


def _anthropic_backend(spec: BackendSpec, store: Store) -> Backend:
    import anthropic

    from .anthropic import DEFAULT_MAX_TOKENS, DEFAULT_MODEL, AnthropicBackend

    options = dict(spec.options)
    base_url = options.pop("base_url", None) or os.environ.get("ANTHROPIC_BASE_URL")
    if not (os.environ.get("ANTHROPIC_API_KEY") or options.get("api_key")):
        raise BackendUnavailable(
            "the anthropic backend needs ANTHROPIC_API_KEY (or backend.options.api_key)"
        )
    client = anthropic.AsyncAnthropic(
        base_url=base_url, api_key=options.pop("api_key", None), max_retries=0
    )
    return AnthropicBackend(
        store,
        client=client,
        model=options.get("model", DEFAULT_MODEL),
        max_tokens=_positive_int(options, "max_tokens", DEFAULT_MAX_TOKENS),
        prices=options.get("prices"),
        prompt_caching=bool(options.get("prompt_caching", True)),
    )


def _positive_int(options: Mapping[str, object], name: str, default: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"backend.options.{name}: expected a positive integer")
    return value
