"""What an executor is given besides a plan: its tuning options and its hooks."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..backends import AgentRequest
from ..events import RunObserver
from ..records import AgentResult
from ..stores import Clock
from ._engines import Engine

#: Called before each agent starts, with its request as the store keeps it (secrets
#: blanked); raising :class:`~swarm.errors.SkipAgent` skips the agent.
PreAgentHook = Callable[[AgentRequest], Awaitable[None]]
#: Called with each agent's final record.
PostAgentHook = Callable[[AgentResult], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ExecutorOptions:
    """Tuning that is not part of a plan.

    ``expected_durations`` (agent id -> seconds, e.g. from earlier runs in the
    store) turns on longest-first ordering within a priority class.
    ``final_write_grace_s`` bounds the shielded writes of a cancelled run.
    ``git_metadata`` records the git branch and commit with each session (a
    subprocess per working directory; the CLI turns it on). ``observers`` see the
    run's events synchronously (see :class:`~swarm.events.RunObserver`).
    """

    expected_durations: Mapping[str, float] = field(default_factory=dict)
    final_write_grace_s: float = 15.0
    rate_limit_cooldown_s: float = 1.0
    # The run's lease (one process drives a run at a time): renewed every third of
    # its ttl; the clock is wall time because other processes read the expiry.
    lease_ttl_s: float = 30.0
    lease_clock: Clock = time.time
    git_metadata: bool = False
    # A rehearsal (the fake API's script): recorded with the run at its first write, so
    # a resume or a fork rehearses it again and listings never bill it.
    rehearsal: Mapping[str, Any] | None = None
    # Where agents run, over the plan's execution.engine / execution.dask.address: a
    # name ("local", "dask"), a scheduler address, or an engine already built (tests,
    # embedding). A worker opens the store by ``store_url`` (default: the plan's; a
    # resumed plan holds it with its password masked) and layers ``worker_cli_env``
    # over each Claude Code CLI it starts (a rehearsal's fake API).
    engine_name: str | None = None
    dask_address: str | None = None
    engine: Engine | None = None
    store_url: str | None = None
    worker_cli_env: Mapping[str, str] | None = None
    # Told of every event as it is emitted (a tracer); each agent's backend call carries
    # the trace context they give it (``AgentRequest.trace_context``).
    observers: Sequence[RunObserver] = ()
    # While a run executes, the interpreter's young collections come every ``gc_threshold``
    # container allocations instead of 700 (see swarm.engine._gc); None: left alone.
    gc_threshold: int | None = 20_000


@dataclass(frozen=True, slots=True)
class Hooks:
    """The user's code run around each agent (see :class:`ExecutorOptions`' neighbours)."""

    pre_agent: tuple[PreAgentHook, ...] = ()
    post_agent: tuple[PostAgentHook, ...] = ()
