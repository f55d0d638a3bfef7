"""Backends: what actually runs an agent, and the registry plans name them by.

- ``simulated``: deterministic stand-ins, offline and free (benchmarks, rehearsing a
  schedule);
- ``claude``: real Claude Code sessions through claude-agent-sdk (:mod:`.claude`);
- ``anthropic``: agents on the Messages API (:mod:`.anthropic`).

The :class:`Backend` protocol and what flows through it (requests, the sink, outcomes)
are the plug-in point. Each backend declares a :class:`BackendEntry` (name, options,
a factory that imports its SDK only when it builds one) in :data:`BACKENDS`; nothing
imported here loads a backend SDK. :func:`open_rehearsal` and :func:`open_backend`
serve the bundled fake Messages API to real Claude Code CLIs, for free rehearsals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import Exports, lazy_exports

if TYPE_CHECKING:
    from ._entry import BackendConfig, BackendEntry, BackendFactory
    from ._idle import IdleBackend
    from ._protocol import AgentOutcome, AgentRequest, AgentSink, Backend, BaseRequest, BaseSession
    from ._registry import (
        BACKEND_NAMES,
        BACKENDS,
        backend_entry,
        choose_backend_name,
        create_backend,
        preload_backend,
    )
    from ._rehearsal import (
        REHEARSAL_CLI_ENV,
        RecordedRehearsalInvalid,
        Rehearsal,
        RehearsalSetup,
        kept_transcripts_home,
        maybe_rehearsal,
        open_backend,
        open_rehearsal,
        rehearsal_config,
    )
    from ._retries import call_with_retries
    from ._retry_policy import RetryOptions, RetryPolicy
    from ._simulated import SIMULATED_MARK, SimulatedBackend, SimulatedSettings
    from ._simulated_options import SimulatedSpec
    from .claude import (
        CLAUDE_CREDENTIAL_VARS,
        check_claude_credentials,
        claude_credentials_available,
    )

_EXPORTS: Exports = {
    "._entry": ("BackendConfig", "BackendEntry", "BackendFactory"),
    "._idle": ("IdleBackend",),
    "._protocol": (
        "AgentOutcome",
        "AgentRequest",
        "AgentSink",
        "Backend",
        "BaseRequest",
        "BaseSession",
    ),
    "._registry": (
        "BACKEND_NAMES",
        "BACKENDS",
        "backend_entry",
        "choose_backend_name",
        "create_backend",
        "preload_backend",
    ),
    "._rehearsal": (
        "REHEARSAL_CLI_ENV",
        "RecordedRehearsalInvalid",
        "Rehearsal",
        "RehearsalSetup",
        "kept_transcripts_home",
        "maybe_rehearsal",
        "open_backend",
        "open_rehearsal",
        "rehearsal_config",
    ),
    "._retries": ("call_with_retries",),
    "._retry_policy": ("RetryOptions", "RetryPolicy"),
    "._simulated": ("SIMULATED_MARK", "SimulatedBackend", "SimulatedSettings"),
    "._simulated_options": ("SimulatedSpec",),
    ".claude": (
        "CLAUDE_CREDENTIAL_VARS",
        "check_claude_credentials",
        "claude_credentials_available",
    ),
}

__all__ = [
    "BACKENDS",
    "BACKEND_NAMES",
    "CLAUDE_CREDENTIAL_VARS",
    "REHEARSAL_CLI_ENV",
    "SIMULATED_MARK",
    "AgentOutcome",
    "AgentRequest",
    "AgentSink",
    "Backend",
    "BackendConfig",
    "BackendEntry",
    "BackendFactory",
    "BaseRequest",
    "BaseSession",
    "IdleBackend",
    "RecordedRehearsalInvalid",
    "Rehearsal",
    "RehearsalSetup",
    "RetryOptions",
    "RetryPolicy",
    "SimulatedBackend",
    "SimulatedSettings",
    "SimulatedSpec",
    "backend_entry",
    "call_with_retries",
    "check_claude_credentials",
    "choose_backend_name",
    "claude_credentials_available",
    "create_backend",
    "kept_transcripts_home",
    "maybe_rehearsal",
    "open_backend",
    "open_rehearsal",
    "preload_backend",
    "rehearsal_config",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
