"""The ``swarm`` application: its global options, the commands it is composed of, and
``main``, where whatever a command raises becomes lines and an exit code.

The application is composed here, explicitly: each command module defines its
command functions (and, for a group, its own sub-application) and registers
nothing itself; :data:`COMMANDS` lists them all, and a command's module is imported
only when that command runs (``swarm --help`` and ``swarm validate`` then load no
bench, fake API, store engine or backend SDK). Command modules never import each
other: what several share is in the modules named for it (``_options``: shared
options, ``_driver``: running a plan with its progress and Ctrl-C, ``_common``:
store access and output, ``_display``, ``_rehearse``, ``_output_files``, and
``_errors``: how a library error prints and which exit code it gives).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Annotated, Any

import typer
import typer.core
import typer.main

from ..errors import SwarmError, leaves
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


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """A command of ``swarm``: where it is defined, and the line ``swarm --help`` shows
    for it (the first paragraph of its docstring, or its group's help: a test keeps them
    equal)."""

    module: str  # in swarm.cli
    attr: str  # the command function, or the sub-application (a typer.Typer)
    help: str
    no_args_is_help: bool = False


#: Every command of ``swarm``, in the order ``swarm --help`` lists them.
COMMANDS: dict[str, LazyCommand] = {
    "bench": LazyCommand(
        "_bench",
        "bench",
        "Measure sequential against forked-in-parallel, side by side, and write the report.",
    ),
    "run": LazyCommand(
        "_run", "run", "Run a plan: fork every agent off the base session, in parallel."
    ),
    "validate": LazyCommand(
        "_validate",
        "validate",
        "Check a plan and print what would run; exit 2 with file:line: field errors if bad.",
    ),
    "schema": LazyCommand(
        "_validate", "schema", "Print the JSON Schema of the plan format (for editors)."
    ),
    "fork": LazyCommand(
        "_timetravel",
        "fork",
        "Branch a new session at a checkpoint and run it; the original stays intact.",
    ),
    "history": LazyCommand(
        "_runs",
        "history",
        "One agent's messages, with its session lineage (parent session and fork point).",
    ),
    "mock-api": LazyCommand(
        "_mock_api",
        "mock_api",
        "Serve a fake Anthropic Messages API on loopback, for rehearsals and tests.",
    ),
    "resume": LazyCommand(
        "_resume",
        "resume",
        "Finish a crashed or interrupted run: finished agents are kept, the rest run.",
    ),
    "changes": LazyCommand(
        "_changes",
        "changes",
        "What each agent in a worktree changed: its branch, commit and diff stat; files "
        "changed by more than one agent are flagged as likely conflicts.",
    ),
    "merge": LazyCommand(
        "_changes",
        "merge",
        "Merge the succeeded agents' branches, in priority order, each checked first: an "
        "agent whose change conflicts is left out and reported with its files.",
    ),
    "gc": LazyCommand(
        "_gc", "gc", "Delete old runs (activity-based TTL, LRU cap); never a parent of a kept fork."
    ),
    "export": LazyCommand(
        "_sessions", "export", "Export a run with its agents, sessions, messages and checkpoints."
    ),
    "ui": LazyCommand(
        "_ui",
        "ui",
        "Serve a read-only dashboard of the store's runs: live agents, timeline, lineage, "
        "sessions. It follows runs in progress in other processes.",
    ),
    "runs": LazyCommand("_runs", "runs_app", "Runs kept in the store."),
    "checkpoints": LazyCommand(
        "_timetravel",
        "checkpoints_app",
        "Checkpoints: points in a session to diff and fork from.",
        no_args_is_help=True,
    ),
    "sessions": LazyCommand(
        "_sessions",
        "sessions_app",
        "Sessions: the base, its forks and forks of forks.",
        no_args_is_help=True,
    ),
    "store": LazyCommand("_store", "store_app", "Check and repair the store."),
    "worktrees": LazyCommand(
        "_changes",
        "worktrees_app",
        "The git worktrees and branches agents with workspace: worktree left.",
    ),
}


# click's objects are typed Any here: typer vendors its own click (typer._click) in
# recent versions and uses the click package in older ones.


def help_line(text: str) -> str:
    """The first paragraph of a command's help, on one line: what ``swarm --help`` shows."""
    return " ".join(text.strip().split("\n\n")[0].split())


def load_command(name: str) -> Any:
    """The click command ``name`` of :data:`COMMANDS`, its module imported now."""
    entry = COMMANDS[name]
    target = getattr(importlib.import_module(f"{__package__}.{entry.module}"), entry.attr)
    if isinstance(target, typer.Typer):
        command: Any = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    if entry.no_args_is_help and isinstance(command, typer.core.TyperGroup):
        command.no_args_is_help = True
    _plain_help(command)
    return command


def _plain_help(command: Any) -> None:
    """Help as click prints it, not typer's rich panels: rendering them costs more than
    the rest of ``swarm --help`` (~0.2 s of CPU; benchmarks/README.md, start-up)."""
    if isinstance(command, typer.core.TyperCommand | typer.core.TyperGroup):
        command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        if sub.short_help is None and sub.help:  # the whole first paragraph, wrapped, not cut
            sub.short_help = help_line(sub.help)
        _plain_help(sub)


class _LazyGroup(typer.core.TyperGroup):
    """The top-level group: lists :data:`COMMANDS` from their help lines, and imports a
    command's module only to run it (or to show its own help)."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(n for n in self.commands if n not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in COMMANDS:
            return None
        if self._listing:  # swarm --help: the line it shows, without importing anything
            line = COMMANDS[cmd_name].help
            return typer.core.TyperCommand(cmd_name, help=line, short_help=line)
        command = self.commands[cmd_name] = load_command(cmd_name)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="swarm",
    help="Run many Claude agents at once, each forked off one shared base session.",
    cls=_LazyGroup,
    rich_markup_mode=None,  # plain help: see _plain_help
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
    from .._log import configure_logging_when_used  # structlog: when a command first logs

    try:
        configure_logging_when_used(log_level, json=log_json)
    except ValueError:
        raise typer.BadParameter(
            "expected debug, info, warning or error", param_hint="--log-level"
        ) from None


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
