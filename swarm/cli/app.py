"""The typer application, global options, and the one place errors become exit codes.

Exit codes: 0 success, 1 some agent failed (or a store/backend error),
2 bad input (plan, arguments, unknown ids), 130 interrupted.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..errors import SwarmError
from ..logging import configure_logging

app = typer.Typer(
    name="swarm",
    help="Run many Claude agents at once, each forked off one shared base session.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(help="Runs kept in the store.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


@app.callback()
def _global(
    log_level: Annotated[
        str, typer.Option(help="debug, info, warning or error (logs go to stderr).")
    ] = "warning",
    log_json: Annotated[bool, typer.Option("--log-json", help="Write logs as JSON lines.")] = False,
) -> None:
    try:
        configure_logging(log_level, json=log_json)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-level") from None


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print an error line and return the Exit to raise."""
    typer.echo(f"swarm: error: {message}", err=True)
    return typer.Exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``swarm`` console script; returns the exit code.

    Commands return their exit code. typer's own usage errors (TyperException)
    print usage and exit 2; a SwarmError prints one ``swarm: error:`` line per
    problem and exits with its code; nothing prints a traceback.
    """
    from . import commands  # noqa: F401  - registers the commands on ``app``

    try:
        result = app(args=argv, prog_name="swarm", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("swarm: interrupted", err=True)
        return EXIT_INTERRUPTED
    except SwarmError as exc:
        return _report(exc)
    except BaseExceptionGroup as group:
        # Errors raised inside a command's nursery arrive grouped; SwarmErrors are still
        # plain messages, and a KeyboardInterrupt is still an interruption.
        if group.subgroup(KeyboardInterrupt) is not None:
            typer.echo("swarm: interrupted", err=True)
            return EXIT_INTERRUPTED
        errors, rest = group.split(SwarmError)
        if errors is None or rest is not None:
            raise
        return max(_report(error) for error in _leaves(errors))
    except typer.TyperException as exc:
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"swarm: error: {exc.format_message()}", err=True)
        return exc.exit_code
    return result if isinstance(result, int) else EXIT_OK


def _report(error: SwarmError) -> int:
    for line in str(error).splitlines() or [type(error).__name__]:
        typer.echo(f"swarm: error: {line}", err=True)
    return error.exit_code


def _leaves(group: BaseExceptionGroup[SwarmError]) -> list[SwarmError]:
    found: list[SwarmError] = []
    for error in group.exceptions:
        found.extend(_leaves(error) if isinstance(error, BaseExceptionGroup) else [error])
    return found


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
