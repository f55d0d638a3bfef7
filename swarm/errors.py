"""The one exception hierarchy of swarm.

    SwarmError
    ├── SkipAgent            raised by a pre-agent hook: skip that agent (its message is why)
    ├── PlanError            a plan or configuration file is invalid
    ├── UsageError           an argument given to a command or an API call is invalid
    ├── LeaseHeld            another live process drives the run (holds its lease)
    ├── StoreError           the store cannot be opened, read or written
    │   ├── NotFoundError    a run, agent, session or checkpoint id is unknown
    │   └── IntegrityError   a record failed its checksum or the schema is unknown
    └── BackendError         a backend could not run an agent or build a base session
        ├── BackendUnavailable  the backend cannot run here (no API key, no CLI)
        └── APIError         the model API answered with an error
            └── TransientAPIError  429, 529, 5xx, connection refused or dropped

Every message names what was wrong and what was expected, so the CLI can print
it as is; no command ever shows a traceback for one of these. Exit codes are the
CLI's (:mod:`swarm.cli.app`): the library only raises typed errors.

A message never names a command or a flag: where the library knows a way out (list
the runs, verify the store), the error carries a :class:`Remedy` and the front end
words it in its own terms (the CLI appends ``(see `swarm runs list`)``).

``LeaseHeld`` is no usage error: nothing the caller passed is wrong, the run is busy.
It is no store error either (the store answered; it says who holds the run), so code
that stops a run on a failing store never mistakes it for one.
"""

from __future__ import annotations

import enum
import traceback
from dataclasses import dataclass
from typing import TypeVar


class Remedy(enum.Enum):
    """A way out of an error that the library knows and a front end words."""

    LIST_RUNS = "list_runs"  # the id named no run: see which there are
    LIST_SESSIONS = "list_sessions"
    LIST_CHECKPOINTS = "list_checkpoints"
    VERIFY_STORE = "verify_store"  # a record or the file is damaged: find out what
    VERIFY_OR_REPAIR = "verify_or_repair"  # ... and quarantine what is damaged
    REHEARSE_OR_SIMULATE = "rehearse_or_simulate"  # no credentials: run it for free instead
    MERGE_INTO_EXISTING = "merge_into_existing"  # the new branch exists: name it as a target
    UPDATE_CHECKOUT = "update_checkout"  # the target is checked out: ask to move it too


class SwarmError(Exception):
    """Base class of every error swarm raises on purpose; ``remedy`` is the way out, if
    the library knows one (see :class:`Remedy`)."""

    def __init__(self, *args: object, remedy: Remedy | None = None) -> None:
        super().__init__(*args)
        self.remedy = remedy


class SkipAgent(SwarmError):
    """Raised by a pre-agent hook to skip that agent; the message becomes its reason."""


@dataclass(frozen=True, slots=True)
class PlanIssue:
    """One problem found in a plan: where it is and what was expected."""

    file: str
    line: int | None
    field: str
    message: str
    remedy: Remedy | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class PlanError(SwarmError):
    """A plan (or the configuration merged under it) is invalid."""

    def __init__(self, issues: list[PlanIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


class UsageError(SwarmError):
    """An argument given on the command line or to the Python API is invalid."""


class LeaseHeld(SwarmError):
    """Another live process holds the lease of a run (it is running or resuming it)."""


class StoreError(SwarmError):
    """The store could not be opened, read or written."""


class WorkspaceError(SwarmError):
    """A git operation on an agent's worktree or branch failed (a commit, a merge)."""


class WorkspaceRefused(WorkspaceError):
    """The repository cannot hold agents' worktrees as asked: not a git repository, no
    commit yet, uncommitted changes with ``require_clean``, a branch that exists already,
    a name git would not take."""


class NotFoundError(StoreError):
    """No record has the id that was asked for."""


class IntegrityError(StoreError):
    """A stored record does not match its checksum, or the schema is unknown."""


class BackendError(SwarmError):
    """A backend failed to build a base session or to run an agent."""


class BackendUnavailable(BackendError):
    """The backend cannot run on this machine as configured."""


class APIError(BackendError):
    """The model API answered with an error; ``status`` is its HTTP status if known."""

    def __init__(
        self, message: str, *, status: int | None = None, remedy: Remedy | None = None
    ) -> None:
        self.status = status
        super().__init__(message if status is None else f"HTTP {status}: {message}", remedy=remedy)


class TransientAPIError(APIError):
    """An API error worth retrying: 429, 529, 5xx, or a refused or dropped connection."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message, status=status)


E = TypeVar("E", bound=BaseException)


def leaves(group: BaseExceptionGroup[E]) -> list[E]:
    """Every exception in ``group``, nested groups flattened, in order."""
    found: list[E] = []
    for exc in group.exceptions:
        found.extend(leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


def failure_reason(exc: BaseException) -> str:
    """What a failure says as a record's reason: a SwarmError's own message; any other
    exception (one no backend anticipated) named with its type, grouped ones each."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(failure_reason(leaf) for leaf in leaves(exc))
    if isinstance(exc, SwarmError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def format_traceback(exc: BaseException) -> str:
    """``exc``'s traceback as text, for a debug log line (which redacts it like any value)."""
    return "".join(traceback.format_exception(exc))


def first_leaf(group: BaseExceptionGroup[E]) -> E:
    """The first exception in ``group``, however deeply it is nested (to report it plainly)."""
    return leaves(group)[0]
