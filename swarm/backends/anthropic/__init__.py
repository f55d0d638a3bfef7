"""The ``anthropic`` backend: agents on the Messages API, forks as pointers into the store.

This package is light: its entry (name, options, factory) is read by plans and
commands without the SDK; :class:`AnthropicBackend` and the rest of the
implementation load the anthropic SDK when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._defaults import DEFAULT_MAX_TOKENS, DEFAULT_MODEL
from ._options import ANTHROPIC, AnthropicOptions, PriceOptions

if TYPE_CHECKING:
    from ._backend import PRICES, AnthropicBackend, Price, api_error, price_of, to_api_messages

__all__ = [
    "ANTHROPIC",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MODEL",
    "PRICES",
    "AnthropicBackend",
    "AnthropicOptions",
    "Price",
    "PriceOptions",
    "api_error",
    "price_of",
    "to_api_messages",
]

# Names of the implementation, imported (with the SDK) when first asked for.
_LAZY = frozenset(
    {"PRICES", "AnthropicBackend", "Price", "api_error", "price_of", "to_api_messages"}
)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import _backend

        return getattr(_backend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
