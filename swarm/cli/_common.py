"""What the commands share: the store a command uses, JSON and table output, warnings,
and looking a run up with the damaged records it left out said on stderr."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..errors import NotFoundError, StoreError, UsageError
from ..plan import default_config_path, load_config
from ..records import RunRecord
from ..stores import DEFAULT_STORE_URL, Store, open_store, sqlite_path

if TYPE_CHECKING:
    from rich.table import Table

# rich's tables, the timeline and the SQLite layer are imported by the helpers that use
# them: `swarm validate` loads this module and none of those.


def store_url(explicit: str | None, config_path: Path | None = None) -> str:
    """The store a command reads or writes when the user names none."""
    if explicit:
        return explicit
    if os.environ.get("SWARM_STORE"):
        return os.environ["SWARM_STORE"]
    path = config_path or default_config_path()
    if path is not None:
        data, _, _ = load_config(path)
        url = (data.get("store") or {}).get("url")
        if isinstance(url, str) and url:
            return url
    return DEFAULT_STORE_URL


def print_json(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def warn(message: str) -> None:
    """One warning line on stderr: something was left out, and the command went on."""
    typer.echo(f"swarm: warning: {message}", err=True)


def plural(count: int, noun: str) -> str:
    """``1 run``, ``2 runs``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def check_choice(option: str, value: str | None, choices: Sequence[str]) -> None:
    """Refuse a filter value no record can have (it would silently match nothing)."""
    if value is not None and value not in choices:
        expected = ", ".join(choices[:-1]) + f" or {choices[-1]}"
        raise UsageError(f"{option}: invalid value {value!r} (expected {expected})")


NOTHING_TO_SHOW = "nothing to show; run a plan first"


class NoStore(NotFoundError):
    """The store's file does not exist: a command that only reads has nothing to read."""

    def __init__(self, path: Path, why: str = NOTHING_TO_SHOW) -> None:
        self.path = path
        super().__init__(f"no store at {path} ({why})")


def nothing_listed(missing: NoStore, *, as_json: bool) -> int:
    """What a list command prints where there is no store: ``[]`` with --json, else
    the reason; exit 0 (an empty list, not an error)."""
    if as_json:
        print_json([])
    else:
        print(missing)
    return 0


@contextlib.asynccontextmanager
async def existing_store(
    explicit: str | None, why: str = NOTHING_TO_SHOW, *, writes: bool = False
) -> AsyncIterator[Store]:
    """Open the store a command reads (read-only: nothing is written anywhere) or, with
    ``writes``, changes; raise :class:`NoStore` rather than create an empty one (folders
    and all) when its file does not exist."""
    url = store_url(explicit)
    path = sqlite_path(url)  # a bad URL is refused here, as a URL, before the file is looked for
    if path is not None and not path.exists():
        raise NoStore(path, why)
    from ..stores import header_problem

    problem = header_problem(path) if path is not None and writes else None
    if problem is not None:  # an empty or foreign file is no store to change (only run makes one)
        raise StoreError(f"{path}: cannot open the store: {problem}")
    async with open_store(url, read_only=not writes) as db:
        yield db


async def lookup_run(store: Store, ref: str) -> RunRecord:
    """:func:`swarm.timeline.find_run`, with the one warning line about any damaged run
    records it left out."""
    from ..timeline import find_run

    return await find_run(store, ref, on_damaged=warn_damaged_runs)


def warn_damaged_runs(damaged: Sequence[str]) -> None:
    """The one warning line naming run records that could not be read."""
    if damaged:
        which = ", ".join(damaged)
        warn(
            f"{plural(len(damaged), 'run record')} damaged, not shown: {which} "
            "(`swarm store verify` says what is wrong, `swarm store repair` quarantines it)"
        )


def unique_prefixes(ids: Iterable[str], shortest: int = 8) -> dict[str, str]:
    """Each id -> its shortest prefix (at least ``shortest`` long) that no other id shares,
    so a table can show short ids that every command still accepts."""
    ordered = sorted(set(ids))
    prefixes: dict[str, str] = {}
    for i, value in enumerate(ordered):
        need = shortest
        for other in ordered[max(0, i - 1) : i] + ordered[i + 1 : i + 2]:
            common = next(
                (n for n, (x, y) in enumerate(zip(value, other, strict=False)) if x != y),
                min(len(value), len(other)),
            )
            need = max(need, common + 1)
        prefixes[value] = value[:need]
    return prefixes


def listing(title: str) -> Table:
    """A listing table in the style of the run summary: light rules, no outer padding,
    so 80 columns hold every id and figure (give those columns ``no_wrap``)."""
    from rich import box
    from rich.table import Table

    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"
