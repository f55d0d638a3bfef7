"""structlog set-up: run and agent ids bound per task, secrets redacted, text or JSON.

swarm's modules log through :func:`get_logger`. Once the application configured
structlog (``configure_logging``, the CLI's ``--log-level``, or its own
``structlog.configure``), their lines follow that set-up; until then a library
stays quiet: warnings and errors only, on stderr, secrets redacted.

structlog is imported when a line is first logged (or logging configured), not with
this module: a command that logs nothing (``swarm validate``) never loads it.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Iterable, MutableMapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, TextIO

from . import _redaction as redaction
from ._redaction import REDACTED, environment_secrets, known_secrets, looks_secret

if TYPE_CHECKING:
    import structlog

__all__ = [
    "REDACTED",
    "RedactSecrets",
    "configure_logging",
    "configure_logging_when_used",
    "get_logger",
    "redact_text",
    "secret_values",
]


def secret_values(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look like secrets."""
    return environment_secrets(environ)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with secret-shaped strings and the given secret values replaced."""
    # The store's names and shapes (swarm._redaction): a log line hides what a record does.
    return redaction.redact_text(text, sorted(secrets, key=len, reverse=True))


class RedactSecrets:
    """A structlog processor that never lets a key or token reach a log line."""

    def __init__(self, environ: MutableMapping[str, str] | None = None) -> None:
        self._secrets = secret_values(environ)

    def _clean(self, key: str, value: Any) -> Any:
        if isinstance(value, str) and value and looks_secret(key):
            return REDACTED
        if isinstance(value, str):
            # Plus the secrets a run registered since (e.g. an agent's env token).
            return redact_text(value, [*self._secrets, *known_secrets()])
        if isinstance(value, dict):
            return {k: self._clean(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(key, v) for v in value]
        return value

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            event_dict[key] = self._clean(key, event_dict[key])
        return event_dict


class _StderrLogger:
    """Writes each line to whatever ``sys.stderr`` is at that moment.

    Binding the stream once would keep a closed one alive after pytest's
    capture or a redirected stderr is torn down.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def msg(self, message: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _processors(renderer: structlog.types.Processor) -> list[structlog.types.Processor]:
    import structlog

    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        RedactSecrets(),
        renderer,
    ]


def _level_number(level: str) -> int:
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r} (debug, info, warning, error)")
    return numeric


def configure_logging(
    level: str = "warning", *, json: bool = False, stream: TextIO | None = None
) -> None:
    """Configure structlog for the CLI or a script: level, renderer and redaction."""
    global _when_used
    numeric = _level_number(level)
    _when_used = None  # this set-up replaces one left for later
    _configure(numeric, json, stream)


def configure_logging_when_used(level: str = "warning", *, json: bool = False) -> None:
    """:func:`configure_logging`, applied when swarm first logs a line (the CLI's
    ``--log-level``: a command that logs nothing never imports structlog). The level is
    checked now. Once structlog is loaded, it is applied at once."""
    global _when_used
    numeric = _level_number(level)
    if "structlog" in sys.modules:
        _when_used = None
        _configure(numeric, json, None)
    else:
        _when_used = (numeric, json)


#: A set-up :func:`configure_logging_when_used` left for the first line logged: (level, json).
_when_used: tuple[int, bool] | None = None


def _configure(numeric: int, json: bool, stream: TextIO | None) -> None:
    import structlog

    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=_processors(renderer),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *args: _StderrLogger(stream),
        cache_logger_on_first_use=False,
    )


def _structlog() -> ModuleType:
    """structlog, imported now if it was not, with the set-up left for this moment."""
    global _when_used
    import structlog

    if _when_used is not None:
        numeric, json = _when_used
        _when_used = None
        _configure(numeric, json, None)
    return structlog


class _LibraryLogger:
    """One of swarm's module loggers: whatever structlog's set-up is at each call once the
    application configured it, else :func:`_quiet` (structlog's own default would print
    every level, debug included, to stdout: ~20 lines into a script's output per run)."""

    __slots__ = ("_bound", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        # The logger built for the set-up in force, keyed by that set-up: building one
        # per call (what structlog.get_logger does) cost ~25 us, for a debug line that
        # is then dropped; a run makes several per agent.
        self._bound: tuple[tuple[int, ...], Any] | None = None

    def __getattr__(self, attr: str) -> Any:
        structlog = _structlog()
        if not structlog.is_configured():
            return getattr(_quiet(), attr)
        setup = tuple(map(id, structlog.get_config().values()))
        bound = self._bound
        if bound is None or bound[0] != setup:
            bound = self._bound = (setup, structlog.get_logger(self._name).bind())
        return getattr(bound[1], attr)


@functools.cache
def _quiet() -> Any:
    """Warnings and above, to stderr, redacted, as text: for an unconfigured application."""
    import structlog

    return structlog.wrap_logger(
        _StderrLogger(),
        processors=_processors(structlog.dev.ConsoleRenderer(colors=False)),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    """The logger for swarm module ``name`` (see the module doc): use it instead of
    ``structlog.get_logger``, which prints debug lines to stdout until configured."""
    return _LibraryLogger(name)
