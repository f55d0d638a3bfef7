"""Whether a command rehearses: the ``--rehearse`` / ``--no-rehearse`` /
``--rehearse-config`` choices of ``run``, ``resume`` and ``fork``, and the checks made
before anything runs (the backend rehearsal drives, credentials for the real one)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..backends import RecordedRehearsalInvalid, RehearsalSetup, claude_credentials_available
from ..errors import BackendUnavailable, UsageError


def rehearsal_again(
    recorded: Mapping[str, Any] | None,
    *,
    rehearse: bool | None,
    config_file: Path | None,
    plan_options: Mapping[str, Any],
    what: str,
) -> tuple[RehearsalSetup | None, str | None]:
    """Whether a command continuing ``what`` (a run, a checkpoint's run) rehearses, and a
    note saying why when that is the default rather than what the user typed.

    ``rehearse`` is ``--rehearse`` (True), ``--no-rehearse`` (False) or neither (None):
    then a rehearsed run is rehearsed again, with the script it recorded, so real API
    calls after a rehearsal are always an explicit choice.
    """
    if rehearse is False:
        if config_file is not None:
            raise UsageError("--rehearse-config needs --rehearse (got --no-rehearse)")
        if recorded is None:
            return None, None
        return None, f"{what} was a rehearsal; --no-rehearse: this one calls the real API"
    if rehearse is None and recorded is None and config_file is None:
        return None, None
    if config_file is not None:
        setup = RehearsalSetup.of_plan(plan_options, config_file)
    elif recorded is not None:
        try:
            setup = RehearsalSetup.from_record(recorded)
        except RecordedRehearsalInvalid as exc:
            raise UsageError(f"{exc}; give it again with --rehearse-config FILE") from None
    else:
        setup = RehearsalSetup.of_plan(plan_options)
    note = None
    if rehearse is None and recorded is not None:
        note = (
            f"{what} was a rehearsal: rehearsing again against the fake Messages API "
            "(--no-rehearse to call the real API)"
        )
    return setup, note


def require_credentials(backend: str | None, *, rehearsed: bool, what: str) -> None:
    """Refuse at once to drive the real ``claude`` backend without credentials.

    Otherwise every agent fails ``Not logged in``, and a failed agent is final: no
    later resume would run it again. ``rehearsed``: ``what`` was a rehearsal.
    """
    if backend != "claude" or claude_credentials_available():
        return
    hint = (
        "it was a rehearsal: rehearse it again with --rehearse"
        if rehearsed
        else "rehearse it for free with --rehearse"
    )
    raise BackendUnavailable(
        f"{what} uses the claude backend and no Claude credentials were found "
        f"(ANTHROPIC_API_KEY or a Claude login); nothing was run; {hint}"
    )


def rehearsal_backend(requested: str | None) -> str:
    """``--rehearse`` drives the ``claude`` backend; any other named one is a usage error."""
    if requested not in (None, "claude"):
        raise UsageError(
            f"--rehearse runs real Claude Code sessions against the fake API, so it needs "
            f"--backend claude (got --backend {requested})"
        )
    return "claude"
