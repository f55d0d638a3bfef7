"""How hard a backend retries one API call (:class:`RetryPolicy`), and its plan form
(``backend.options.retry``, :class:`RetryOptions`).

Apart from the retrying itself (:mod:`._retries`: tenacity and trio), so that a plan
validates its ``retry`` option without importing either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .._values import Int, Number
from ..errors import UsageError


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
