"""The exception hierarchy carries no exit codes; the CLI maps errors to them and words
their remedies."""

from __future__ import annotations

import pytest

from swarm import MemoryStore
from swarm.cli._errors import EXIT_FAILED, EXIT_USAGE, error_lines, exit_code_of
from swarm.engine import load_resume_state
from swarm.errors import (
    BackendError,
    BackendUnavailable,
    IntegrityError,
    LeaseHeld,
    NotFoundError,
    PlanError,
    PlanIssue,
    Remedy,
    StoreError,
    SwarmError,
    UsageError,
)


def test_a_held_lease_is_neither_a_usage_nor_a_store_error_and_exits_2() -> None:
    """Nothing the caller passed is wrong and the store answered: the run is busy."""
    assert issubclass(LeaseHeld, SwarmError)
    assert not issubclass(LeaseHeld, UsageError | StoreError)
    assert exit_code_of(LeaseHeld("run r1 is held")) == EXIT_USAGE


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (PlanError([PlanIssue("p.yaml", 1, "agents", "bad")]), EXIT_USAGE),
        (UsageError("bad flag"), EXIT_USAGE),
        (NotFoundError("no run"), EXIT_USAGE),
        (BackendUnavailable("no key"), EXIT_USAGE),
        (StoreError("disk full"), EXIT_FAILED),
        (IntegrityError("bad checksum"), EXIT_FAILED),
        (BackendError("the CLI died"), EXIT_FAILED),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, SwarmError) else str(v),
)
def test_the_cli_maps_each_error_to_its_exit_code(error: SwarmError, code: int) -> None:
    """Bad input exits 2, a failing store or backend 1, and no error carries a code itself."""
    assert exit_code_of(error) == code
    assert not hasattr(error, "exit_code")


async def test_the_library_gives_a_remedy_and_the_cli_words_it() -> None:
    """An unknown run: the library's message names no command, the CLI's line does."""
    with pytest.raises(NotFoundError) as caught:
        await load_resume_state(MemoryStore(), "r-missing")
    assert "swarm" not in str(caught.value) and caught.value.remedy is Remedy.LIST_RUNS
    assert error_lines(caught.value) == ["no run 'r-missing' in the store (see `swarm runs list`)"]


def test_each_plan_issue_gets_its_own_remedy() -> None:
    """A plan error prints one line per issue, each with the way out it names."""
    error = PlanError(
        [
            PlanIssue("p.yaml", 3, "base.session", "no session 'x'", Remedy.LIST_SESSIONS),
            PlanIssue("p.yaml", 9, "agents[0].fork_at", "not in the history"),
        ]
    )
    assert error_lines(error) == [
        "p.yaml:3: base.session: no session 'x' (see `swarm sessions list`)",
        "p.yaml:9: agents[0].fork_at: not in the history",
    ]
