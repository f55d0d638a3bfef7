"""The ``claude`` backend: real Claude Code sessions through claude-agent-sdk.

This package is light: its entry (name, options, factory) and credentials check are
read by plans and commands without the SDK; :class:`ClaudeBackend` and the rest of
the implementation load the SDK when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._options import (
    CLAUDE,
    CLAUDE_CREDENTIAL_VARS,
    ClaudeOptions,
    check_claude_credentials,
    claude_credentials_available,
)
from ._trace import trace_env

if TYPE_CHECKING:
    from ._backend import ClaudeBackend, tool_fields
    from ._session_store import StoreSessionStore

__all__ = [
    "CLAUDE",
    "CLAUDE_CREDENTIAL_VARS",
    "ClaudeBackend",
    "ClaudeOptions",
    "StoreSessionStore",
    "check_claude_credentials",
    "claude_credentials_available",
    "tool_fields",
    "trace_env",
]


def __getattr__(name: str) -> Any:
    # The implementation's names, imported (with the SDK) when first asked for.
    if name in ("ClaudeBackend", "tool_fields"):
        from . import _backend

        return getattr(_backend, name)
    if name == "StoreSessionStore":
        from . import _session_store

        return _session_store.StoreSessionStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
