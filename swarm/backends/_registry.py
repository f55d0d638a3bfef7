"""The backend registry: every backend a plan can name, declared once by the backend itself.

Each backend declares a :class:`BackendEntry`: its name, the ``backend.options`` it
reads (a ``TypedDict`` whose keys are the options and whose value types are checked
when a plan is validated), and a factory that builds it, importing its SDK only then.
The plan's vocabulary (which names ``backend.name`` takes, which options each backend
reads, what each option's value must be) comes from here and nowhere else, so reading
a plan never imports claude-agent-sdk or anthropic.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..errors import BackendUnavailable, Remedy, UsageError
from ._entry import BackendConfig, BackendEntry
from ._simulated_options import SIMULATED
from .anthropic import ANTHROPIC
from .claude import CLAUDE, claude_credentials_available

if TYPE_CHECKING:
    from ..stores import Store
    from ._protocol import Backend

#: Every backend by name, in the order they are offered.
BACKENDS: Mapping[str, BackendEntry] = {e.name: e for e in (SIMULATED, CLAUDE, ANTHROPIC)}
BACKEND_NAMES: tuple[str, ...] = tuple(BACKENDS)


def backend_entry(name: str) -> BackendEntry:
    """The entry of backend ``name``; :class:`UsageError` naming the known ones if none."""
    entry = BACKENDS.get(name)
    if entry is None:
        raise UsageError(f"unknown backend {name!r}; expected one of {', '.join(BACKEND_NAMES)}")
    return entry


def choose_backend_name(requested: str | None) -> str:
    """The backend to use when a plan and the command line may name none."""
    if requested is not None:
        return backend_entry(requested).name
    if claude_credentials_available():
        return "claude"
    raise BackendUnavailable(
        "no backend named and no Claude credentials found (ANTHROPIC_API_KEY or a Claude login)",
        remedy=Remedy.REHEARSE_OR_SIMULATE,
    )


def create_backend(
    spec: BackendConfig,
    store: Store,
    name: str | None = None,
    *,
    cli_env: Mapping[str, str] | None = None,
) -> Backend:
    """Build the backend a plan's ``backend`` section (or an override) names.

    ``cli_env`` is layered over the environment of every Claude Code CLI the
    ``claude`` backend starts (the rehearsal points it at the fake API with it).
    """
    return backend_entry(choose_backend_name(name or spec.name)).create(spec, store, cli_env)


def preload_backend(name: str | None) -> threading.Thread | None:
    """Start importing what backend ``name`` will need (its SDK) in a worker thread, and
    return the thread (None when there is nothing to import, or no such backend).

    The import runs while the caller does its own I/O (opening the store, starting the
    fake API); building the backend later imports the same modules and waits on Python's
    import lock for whatever is left. A failing import is left to that later import,
    which raises it where it is handled.
    """
    entry = BACKENDS.get(name or "")
    if entry is None or not entry.preload:
        return None

    def load() -> None:
        for module in entry.preload:
            try:
                importlib.import_module(module)
            except Exception:  # raised again, and reported, by the import that needs it
                return

    thread = threading.Thread(target=load, name=f"swarm-preload-{entry.name}", daemon=True)
    thread.start()
    return thread
