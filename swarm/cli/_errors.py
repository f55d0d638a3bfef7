"""Where library errors become what the CLI prints and its exit code.

The library raises typed errors and never names a command or a flag; here each
error becomes ``swarm: error:`` lines, with the way out it carries
(:class:`~swarm.errors.Remedy`) worded in this CLI's commands, and an exit code:
0 success, 1 some agent failed (or a store/backend error), 2 bad input (plan,
arguments, unknown ids, a run another process holds), 130 interrupted. typer's own
usage errors are reworded in the same style.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import typer

from .._redaction import redact_text
from ..errors import (
    BackendUnavailable,
    LeaseHeld,
    NotFoundError,
    PlanError,
    Remedy,
    SwarmError,
    UsageError,
    WorkspaceRefused,
    failure_reason,
    format_traceback,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# The library raises typed errors; which of them are the user's to fix (exit 2) is
# decided here, once. Any other SwarmError (a store or backend failure) exits 1.
_USAGE_ERRORS = (
    PlanError,
    UsageError,
    LeaseHeld,
    NotFoundError,
    BackendUnavailable,
    WorkspaceRefused,
)


# The ways out the library knows (errors carry a Remedy), in this front end's words.
_REMEDIES = {
    Remedy.LIST_RUNS: " (see `swarm runs list`)",
    Remedy.LIST_SESSIONS: " (see `swarm sessions list`)",
    Remedy.LIST_CHECKPOINTS: " (see `swarm checkpoints list`)",
    Remedy.VERIFY_STORE: "; run `swarm store verify`",
    Remedy.VERIFY_OR_REPAIR: (
        " (`swarm store verify` says what is wrong, `swarm store repair` quarantines it)"
    ),
    Remedy.REHEARSE_OR_SIMULATE: (
        ". Rehearse the plan for free with real Claude Code sessions against the bundled "
        "fake API: `--backend claude --rehearse`; or run it offline with `--backend simulated`."
    ),
    Remedy.MERGE_INTO_EXISTING: " (to merge into it again: --into BRANCH)",
    Remedy.UPDATE_CHECKOUT: (
        " (leave --into out for a new branch, or give --update-checkout to fast-forward "
        "that clean checkout too)"
    ),
}


def remedy_text(remedy: Remedy | None) -> str:
    """What the CLI adds to an error's message for its remedy (nothing without one)."""
    return _REMEDIES[remedy] if remedy is not None else ""


def error_lines(error: SwarmError) -> list[str]:
    """The lines an error prints as: its message (a plan error's issues, one a line), each
    with the way out it names in this CLI's commands and flags."""
    if isinstance(error, PlanError):
        return [str(issue) + remedy_text(issue.remedy) for issue in error.issues]
    lines = str(error).splitlines() or [type(error).__name__]
    lines[-1] += remedy_text(error.remedy)
    return lines


def exit_code_of(error: SwarmError) -> int:
    """The exit code of a command that stopped on ``error``: 2 for bad input (a plan, an
    argument, an unknown id, a backend that cannot run here, a run another process
    holds), 1 for a failure of the store or a backend."""
    return EXIT_USAGE if isinstance(error, _USAGE_ERRORS) else EXIT_FAILED


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print an error line and return the Exit to raise."""
    error_line(message)
    return typer.Exit(code)


def error_line(message: str) -> None:
    """The one way a ``swarm: error:`` line is printed: secrets in it (a key an API error
    quoted, a URL's password) are redacted, as in the logs and the store."""
    typer.echo(f"swarm: error: {redact_text(message)}", err=True)


def unexpected(exc: BaseException) -> int:
    """An exception nothing anticipated (a bug): one line naming it, the traceback only
    with --log-level debug, both redacted; what the store already holds stays."""
    from .._log import get_logger  # structlog, only on this rare path

    get_logger("swarm.cli").debug("unexpected", exception=format_traceback(exc))
    reason = redact_text(failure_reason(exc))
    typer.echo(
        f"swarm: error: unexpected {reason} (a bug in swarm; --log-level debug shows where)",
        err=True,
    )
    return EXIT_FAILED


# typer's own wording of a bad value -> ours ("expected ..."), first match wins.
_TYPER_WORDS = (
    (re.compile(r"^Input should be greater than or equal to (.+)$"), r"expected at least \1"),
    (re.compile(r"^Input should be less than or equal to (.+)$"), r"expected at most \1"),
    (re.compile(r"^Input should be ([^,]+),.*$"), r"expected \1"),
    (re.compile(r"^Input should be (.+)$"), r"expected \1"),
)


def usage_message(exc: typer.TyperException, argv: Sequence[str]) -> str:
    """A usage error typer found, worded like our own errors: what and where, in one line.

    ``--mode: invalid value 'x' (expected window or batch)``; a missing argument, an
    unknown option or command also say where the help is.
    """
    text = exc.message.strip().rstrip(".")
    ctx = getattr(exc, "ctx", None)
    see = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    name = type(exc).__name__
    if isinstance(exc, typer.BadParameter) and name == "MissingParameter":
        what = getattr(exc, "param_type", None) or getattr(exc.param, "param_type_name", "value")
        return f"missing {what} {_param_name(exc)}{see}"
    if isinstance(exc, typer.BadParameter):
        expected = text
        for pattern, words in _TYPER_WORDS:
            if pattern.match(text):
                expected = pattern.sub(words, text)
                break
        where = _param_name(exc)
        value = _given(argv, _param_names(exc))
        if value is None:
            return f"{where}: {expected}"
        return f"{where}: invalid value {value!r} ({expected})"
    if name == "NoSuchOption":
        option = getattr(exc, "option_name", text)
        close = sorted(getattr(exc, "possibilities", None) or [])
        maybe = f"; did you mean {' or '.join(close)}?" if close else ""
        return f"no such option {option}{maybe}{see}"
    return f"{text[:1].lower()}{text[1:]}{see}"


def _param_names(exc: typer.BadParameter) -> list[str]:
    """Every spelling of the parameter an error is about (``--format``, ``-f``)."""
    hints = [exc.param_hint] if isinstance(exc.param_hint, str) else list(exc.param_hint or [])
    param: Any = exc.param
    if param is None and hints and exc.ctx is not None:  # raised by a command: find its aliases
        known = [p for p in exc.ctx.command.params if hints[0] in getattr(p, "opts", [])]
        param = known[0] if known else None
    if param is None:
        return hints
    names = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
    if getattr(param, "param_type_name", "") == "argument":
        return [str(param.metavar or param.name).upper().strip("{}")]
    return [n for n in names if n.startswith("-")]


def _param_name(exc: typer.BadParameter) -> str:
    names = _param_names(exc)
    return max(names, key=len) if names else "value"


def _given(argv: Sequence[str], names: Sequence[str]) -> str | None:
    """The value given to an option on the command line (its last one), if it was."""
    value = None
    for i, token in enumerate(argv):
        if token == "--":
            break
        for name in names:
            if not name.startswith("-"):
                continue
            if token == name and i + 1 < len(argv):
                value = argv[i + 1]
            elif token.startswith(f"{name}=") and name.startswith("--"):
                value = token[len(name) + 1 :]
            elif len(name) == 2 and token.startswith(name) and len(token) > 2:
                value = token[2:]
    return value


def report(error: SwarmError) -> int:
    for line in error_lines(error) or [type(error).__name__]:
        error_line(line)
    return exit_code_of(error)
