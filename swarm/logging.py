"""structlog set-up: run and agent ids bound per task, secrets redacted, text or JSON."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

from .redaction import known_secrets

_SECRET_NAMES = re.compile(r"(api[_-]?key|token|secret|password|authorization|credential)", re.I)
_SECRET_VALUES = re.compile(r"\b(sk-ant-[A-Za-z0-9_\-]{8,}|sk-[A-Za-z0-9]{20,})")
REDACTED = "[redacted]"


def secret_values(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look like secrets."""
    env = os.environ if environ is None else environ
    return [v for k, v in env.items() if _SECRET_NAMES.search(k) and len(v) >= 8]


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with API-key-shaped strings and the given secret values replaced."""
    for value in secrets:
        if value:
            text = text.replace(value, REDACTED)
    return _SECRET_VALUES.sub(REDACTED, text)


class RedactSecrets:
    """A structlog processor that never lets a key or token reach a log line."""

    def __init__(self, environ: MutableMapping[str, str] | None = None) -> None:
        self._secrets = secret_values(environ)

    def _clean(self, key: str, value: Any) -> Any:
        if _SECRET_NAMES.search(key) and isinstance(value, str) and value:
            return REDACTED
        if isinstance(value, str):
            # Plus the secrets a run registered since (e.g. an agent's env token).
            return redact_text(redact_text(value, self._secrets), known_secrets())
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


def configure_logging(
    level: str = "warning", *, json: bool = False, stream: TextIO | None = None
) -> None:
    """Configure structlog for the CLI or a script: level, renderer and redaction."""
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r} (debug, info, warning, error)")
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            RedactSecrets(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *args: _StderrLogger(stream),
        cache_logger_on_first_use=False,
    )
