"""The ``anthropic`` backend as plans know it: its options, defaults and entry.

Nothing here imports the anthropic SDK: the factory imports it when a run builds the
backend, so a plan validates (and ``import swarm`` runs) without it loaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict
from typing_extensions import TypedDict

from ..._values import Bool, HttpURL, ModelName, NonEmpty, Number
from ...errors import BackendUnavailable, UsageError
from .._entry import BackendConfig, BackendEntry
from ._defaults import DEFAULT_MAX_TOKENS, DEFAULT_MODEL

if TYPE_CHECKING:
    from ...stores import Store
    from .._protocol import Backend


class PriceOptions(BaseModel):
    """US dollars per million tokens of one model family (``backend.options.prices``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Number = Field(ge=0)
    output: Number = Field(ge=0)
    cache_write: Number = Field(ge=0)
    cache_read: Number = Field(ge=0)


class AnthropicOptions(TypedDict, total=False):
    """``backend.options`` of the anthropic backend (each one optional)."""

    model: ModelName
    base_url: HttpURL
    api_key: NonEmpty
    max_tokens: Annotated[int, Strict(), Field(ge=1)]
    prices: dict[str, PriceOptions]
    prompt_caching: Bool  # mark the base and each fork's history for the prompt cache


def _create(spec: BackendConfig, store: Store, cli_env: Mapping[str, str] | None) -> Backend:
    import anthropic

    from ._backend import AnthropicBackend

    options = dict(spec.options)
    base_url = options.pop("base_url", None) or os.environ.get("ANTHROPIC_BASE_URL")
    if not (os.environ.get("ANTHROPIC_API_KEY") or options.get("api_key")):
        raise BackendUnavailable(
            "the anthropic backend needs ANTHROPIC_API_KEY (or backend.options.api_key)"
        )
    client = anthropic.AsyncAnthropic(
        base_url=base_url, api_key=options.pop("api_key", None), max_retries=0
    )
    return AnthropicBackend(
        store,
        client=client,
        model=options.get("model", DEFAULT_MODEL),
        max_tokens=_positive_int(options, "max_tokens", DEFAULT_MAX_TOKENS),
        prices=options.get("prices"),
        prompt_caching=bool(options.get("prompt_caching", True)),
    )


def _positive_int(options: Mapping[str, object], name: str, default: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"backend.options.{name}: expected a positive integer")
    return value


ANTHROPIC = BackendEntry(
    "anthropic", AnthropicOptions, _create, preload=("swarm.backends.anthropic._backend",)
)
