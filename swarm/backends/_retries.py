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

from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from ..errors import TransientAPIError
from ._protocol import AgentSink
from ._retry_policy import RetryPolicy

T = TypeVar("T")


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
