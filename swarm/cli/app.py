"""The ``swarm`` application: its global options, the commands it is composed of, and
``main``, where whatever a command raises becomes lines and an exit code.

The application is composed here, explicitly: each command module defines its
command functions (and, for a group, its own sub-application) and registers
nothing itself; :func:`_compose` lists them all. Command modules never import each
other: what several share is in the modules named for it (``_options``: shared
options, ``_driver``: running a plan with its progress and Ctrl-C, ``_common``:
store access and output, ``_display``, ``_rehearse``, ``_output_files``, and
``_errors``: how a library error prints and which exit code it gives).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
import typer.core

from .._log import configure_logging
from ..errors import SwarmError, leaves
from . import (
    _bench,
    _changes,
    _gc,
    _mock_api,
    _resume,
    _run,
    _runs,
    _sessions,
    _store,
    _timetravel,
    _ui,
)
from ._errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    error_line,
    report,
    unexpected,
    usage_message,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="swarm",
    help="Run many Claude agents at once, each forked off one shared base session.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global(
    log_level: Annotated[
        str, typer.Option(help="debug, info, warning or error (logs go to stderr).")
    ] = "warning",
    log_json: Annotated[bool, typer.Option("--log-json", help="Write logs as JSON lines.")] = False,
) -> None:
    try:
        configure_logging(log_level, json=log_json)
    except ValueError:
        raise typer.BadParameter(
            "expected debug, info, warning or error", param_hint="--log-level"
        ) from None


def _compose(app: typer.Typer) -> None:
    """Every command of ``swarm``, in the order ``swarm --help`` lists them."""
    app.command()(_bench.bench)
    app.command()(_run.run)
    app.command()(_run.validate)
    app.command()(_run.schema)
    app.command()(_timetravel.fork)
    app.command()(_runs.history)
    app.command("mock-api")(_mock_api.mock_api)
    app.command()(_resume.resume)
    app.command()(_changes.changes)
    app.command()(_changes.merge)
    app.command()(_gc.gc)
    app.command("export")(_sessions.export)
    app.command()(_ui.ui)
    app.add_typer(_runs.runs_app, name="runs")
    app.add_typer(_timetravel.checkpoints_app, name="checkpoints", no_args_is_help=True)
    app.add_typer(_sessions.sessions_app, name="sessions", no_args_is_help=True)
    app.add_typer(_store.store_app, name="store")
    app.add_typer(_changes.worktrees_app, name="worktrees")


_compose(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``swarm`` console script; returns the exit code.

    Commands return their exit code. typer's own usage errors (TyperException)
    print one ``swarm: error:`` line in our words and exit 2; a SwarmError prints
    one such line per problem and exits with its code; nothing prints a traceback.
    """
    try:
        result = app(args=argv, prog_name="swarm", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("swarm: interrupted", err=True)
        return EXIT_INTERRUPTED
    except SwarmError as exc:
        return report(exc)
    except BaseExceptionGroup as group:
        # Errors raised inside a command's nursery arrive grouped; SwarmErrors are still
        # plain messages, and a KeyboardInterrupt is still an interruption.
        if group.subgroup(KeyboardInterrupt) is not None:
            typer.echo("swarm: interrupted", err=True)
            return EXIT_INTERRUPTED
        errors, rest = group.split(SwarmError)
        if rest is not None:
            return unexpected(rest)
        assert errors is not None
        return max(report(error) for error in leaves(errors))
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help says it all
            getattr(exc, "show", lambda: None)()
            return EXIT_USAGE
        error_line(usage_message(exc, sys.argv[1:] if argv is None else argv))
        return exc.exit_code
    except Exception as exc:
        return unexpected(exc)
    return result if isinstance(result, int) else EXIT_OK


def _flags_take_no_value() -> None:
    """typer's rich help shows a flag as ``--json <bool>``, as if it took a value; show
    no type for a flag (the plain help already does so)."""
    option: Any = getattr(typer.core, "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if shown is None:  # another typer: nothing to fix
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if self.is_flag or self.count else shown(self, ctx)

    option.display_type_rich = display_type_rich


_flags_take_no_value()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
