"""``swarm validate`` and ``swarm schema``: check a plan, print the plan format; run nothing.

A person waits for these, so they import only what checking a plan needs (issue 15,
start-up; ``tests/structure/test_import.py`` pins what they must not load): the store
layer only for a plan whose base is a session already in the store, trio only for a
check that reads the store or runs git.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from .._redaction import mask_url, redact_plan
from ..backends import claude_credentials_available
from ..engine import needs_store, store_problems
from ..errors import PlanError, StoreError
from ..plan import Plan, PlanSource, plan_json_schema, read_plan
from ..stores import parse_store_url
from ..workspaces import check_plan, worktree_agents
from ._common import print_json, warn
from ._errors import EXIT_OK
from ._options import ConfigOption, JsonOption

T = TypeVar("T")


def validate(
    plan_file: Annotated[Path, typer.Argument(metavar="PLAN", help="The plan YAML file.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> int:
    """Check a plan and print what would run; exit 2 with file:line: field errors if bad."""
    try:
        plan, source = read_plan(plan_file, config_path=config)
        if needs_store(plan):
            _run_check(_check_against_store, plan, source)
    except PlanError as exc:
        if as_json:
            issues = [
                {"file": i.file, "line": i.line, "field": i.field, "message": i.message}
                for i in exc.issues
            ]
            print_json({"valid": False, "issues": issues})
        raise  # and the same issues as error lines on stderr, exit 2
    # What run would refuse, or warn of, in the repository of worktree agents.
    repo = _run_check(check_plan, plan) if worktree_agents(plan) else None
    if repo is not None and repo.warning() and not as_json:
        warn(str(repo.warning()))
    _note_missing_credentials(plan)
    if as_json:
        # The plan as it will run, without the secrets of its env (as the store keeps it).
        print_json(redact_plan(plan.model_dump(mode="json")))
        return EXIT_OK
    e = plan.execution
    print(
        f"{plan_file}: ok: {len(plan.agents)} agents, max_parallel {e.max_parallel}, "
        f"mode {e.mode}, backend {plan.backend.name or '(auto)'}, store {mask_url(plan.store.url)}"
    )
    return EXIT_OK


def _run_check(check: Callable[..., Awaitable[T]], *args: Any) -> T:
    """``check(*args)`` run to its end under trio (imported for it: most plans need none)."""
    import trio

    return trio.run(check, *args)


CREDENTIALS_NOTE = (
    "the plan runs on the claude backend and no Claude credentials were found "
    "(ANTHROPIC_API_KEY or a Claude login)"
)


def _note_missing_credentials(plan: Plan) -> None:
    """The plan is valid, but `swarm run` would stop here: say so, without failing (the
    plan may be run on a machine that has the credentials)."""
    if plan.backend.name not in (None, "claude") or claude_credentials_available():
        return
    print(
        f"swarm: note: {CREDENTIALS_NOTE}: `swarm run` would stop here; "
        "rehearse it with --rehearse or run it with --backend simulated",
        file=sys.stderr,
    )


async def _check_against_store(plan: Plan, source: PlanSource) -> None:
    """What `swarm run` checks in the store before building the base, without creating
    a store: one that does not exist yet holds nothing, like the one run would create."""
    from ..stores import MemoryStore, SQLiteStore  # only a plan naming a stored session

    path = parse_store_url(plan.store.url).path
    backend = plan.backend.name
    if path is None or not path.exists():
        problems = await store_problems(plan, MemoryStore(), backend=backend)
    else:
        try:
            store = await SQLiteStore.open(path, read_only=True)
        except StoreError as exc:
            raise source.error([(("store", "url"), f"cannot check base.session: {exc}")]) from None
        try:
            problems = await store_problems(plan, store, backend=backend)
        finally:
            await store.aclose()
    if problems:
        raise source.error(problems)


def schema() -> int:
    """Print the JSON Schema of the plan format (for editors)."""
    print(json.dumps(plan_json_schema(), indent=2))
    return EXIT_OK
