"""Retrying transient API failures with tenacity, shared by every backend.

Transient failures (429, 529, 5xx, a refused or dropped connection) arrive as
:class:`~swarm.errors.TransientAPIError`; anything else is final at once.
Waits are exponential with jitter, or the server's ``retry-after`` when it
sent one (capped); the number of attempts is bounded. Every retry is reported
to the sink before its sleep, so the executor counts it and narrows its
window on rate limits. Attempts, not elapsed time, bound the budget:
tenacity's time-based stops read the wall clock even under trio's MockClock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import trio
from pydantic import BaseModel, ConfigDict, Field
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from .._values import Int, Number
from ..errors import TransientAPIError, UsageError
from ._protocol import AgentSink

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to retry one API call: attempts in all, and the wait between them."""

    max_attempts: int = 6
    initial_wait_s: float = 1.0
    max_wait_s: float = 30.0
    jitter_s: float = 1.0
    max_retry_after_s: float = 120.0

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RetryPolicy:
        """The policy of a plan's ``backend.options.retry``; unset values are the defaults."""
        try:
            return cls(**options)
        except TypeError as exc:
            raise UsageError(
                f"backend.options.retry: {exc}; expected max_attempts, initial_wait_s, "
                "max_wait_s, jitter_s, max_retry_after_s"
            ) from None


_DEFAULT = RetryPolicy()


class RetryOptions(BaseModel):
    """``backend.options.retry`` of a plan: a :class:`RetryPolicy`, checked (its defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: Int = Field(_DEFAULT.max_attempts, ge=1, le=100)
    initial_wait_s: Number = Field(_DEFAULT.initial_wait_s, ge=0)
    max_wait_s: Number = Field(_DEFAULT.max_wait_s, ge=0)
    jitter_s: Number = Field(_DEFAULT.jitter_s, ge=0)
    max_retry_after_s: Number = Field(_DEFAULT.max_retry_after_s, ge=0)


class _Wait:
    """``retry-after`` when the server gave one, else exponential backoff with jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._backoff = wait_exponential_jitter(
            multiplier=policy.initial_wait_s, max=policy.max_wait_s, jitter=policy.jitter_s
        )

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, TransientAPIError) and error.retry_after_s is not None:
            return min(max(error.retry_after_s, 0.0), self._policy.max_retry_after_s)
        return float(self._backoff(state))


async def call_with_retries(
    call: Callable[[], Awaitable[T]], sink: AgentSink, policy: RetryPolicy | None = None
) -> T:
    """Await ``call()``, retrying transient API errors; the last error is re-raised."""
    policy = policy or RetryPolicy()

    async def report(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        status = error.status if isinstance(error, TransientAPIError) else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        reason = f"attempt {state.attempt_number} of {policy.max_attempts}: {error}"
        await sink.retry(status=status, reason=reason, delay_s=delay)

    retrying = AsyncRetrying(
        sleep=trio.sleep,
        stop=stop_after_attempt(policy.max_attempts),
        wait=_Wait(policy),
        retry=retry_if_exception_type(TransientAPIError),
        before_sleep=report,
        reraise=True,
    )
    result: T = await retrying(call)
    await sink.succeeded_call()
    return result
