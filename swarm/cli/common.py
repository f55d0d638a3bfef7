"""Pieces the commands share: store resolution, JSON output, run lookup."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any

import trio
import typer
from rich import box
from rich.table import Table

from .._names import is_safe_id
from ..errors import IntegrityError, NotFoundError, StoreError, UsageError
from ..plan import default_config_path, load_config
from ..records import RunRecord
from ..stores import (
    DEFAULT_STORE_URL,
    SQLiteStore,
    Store,
    header_problem,
    open_store,
    run_ids_in_file,
    sqlite_path,
)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL (sqlite:///sessions/swarm.db, memory://). "
        "Default: $SWARM_STORE, then configs/default.yaml, then sqlite:///sessions/swarm.db.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
RehearseConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--rehearse-config",
        help="Rules/latency/errors file of the fake API (see `swarm mock-api --help`; "
        "implies --rehearse).",
    ),
]


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
    problem = header_problem(path) if path is not None and writes else None
    if problem is not None:  # an empty or foreign file is no store to change (only run makes one)
        raise StoreError(f"{path}: cannot open the store: {problem}")
    async with open_store(url, read_only=not writes) as db:
        yield db


async def readable_runs(
    store: Store, limit: int | None = None
) -> tuple[list[RunRecord], list[str]]:
    """Runs, newest first, and the ids of damaged run records left out.

    ``list_runs`` fails whole on one damaged record; then each run is read on its
    own (SQLite stores only: their ids come from the read-only scanner of
    ``swarm store verify``), so one bad record hides only itself.
    """
    try:
        return await store.list_runs(limit=limit), []
    except StoreError as exc:
        if isinstance(exc, NotFoundError) or not isinstance(store, SQLiteStore):
            raise
        first = exc
        ids = await trio.to_thread.run_sync(run_ids_in_file, store.path)
    runs: list[RunRecord] = []
    damaged: list[str] = []
    checksums_only = True  # every failure was a record failing its checksum or decoding
    for run_id in ids:
        if limit is not None and len(runs) >= limit:
            break
        try:
            run = await store.get_run(run_id)
        except StoreError as exc:  # undecodable bytes, a bad page, ... or the whole file
            damaged.append(run_id)
            checksums_only = checksums_only and isinstance(exc, IntegrityError)
            continue
        if run is not None:
            runs.append(run)
    # Nothing readable and not only damaged records: the file is the trouble (locked, I/O).
    if not runs and not (damaged and checksums_only):
        raise first
    return runs, damaged


def warn_damaged_runs(damaged: Sequence[str]) -> None:
    """The one warning line naming run records that could not be read."""
    if damaged:
        which = ", ".join(damaged)
        warn(
            f"{plural(len(damaged), 'run record')} damaged, not shown: {which} "
            "(`swarm store verify` says what is wrong, `swarm store repair` quarantines it)"
        )


def check_run_ref(ref: str | None) -> None:
    """Refuse what cannot name a run (path traversal, odd characters) before any lookup."""
    if ref is not None and ref != "latest" and not is_safe_id(ref):
        raise UsageError(
            f"{ref!r} is not a run id: expected letters, digits, '_', '.' or '-' "
            "(at most 64, no '..'), a unique prefix of one, or 'latest'"
        )


async def find_run(store: Store, ref: str) -> RunRecord:
    """A run by id, unique id prefix, or ``latest``."""
    check_run_ref(ref)
    if ref != "latest":
        run = await store.get_run(ref)
        if run is not None:
            return run
    runs, damaged = await readable_runs(store, limit=1 if ref == "latest" else None)
    hit = [d for d in damaged if ref != "latest" and d.startswith(ref)]
    if hit and not any(r.run_id.startswith(ref) for r in runs):
        raise IntegrityError(
            f"run {ref!r}: the record of {', '.join(hit)} is damaged "
            "(`swarm store verify` says what is wrong, `swarm store repair` quarantines it)"
        )
    warn_damaged_runs(damaged)
    if ref == "latest":
        if not runs:
            raise NotFoundError("the store has no runs yet")
        return runs[0]
    matches = [r for r in runs if r.run_id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(f"no run {ref!r} in the store (see `swarm runs list`)")
    ids = ", ".join(r.run_id for r in matches[:5])
    raise NotFoundError(f"run prefix {ref!r} is ambiguous: {ids}")


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
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"
