"""What a backend declares about itself: its :class:`BackendEntry` (name, options, factory)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, get_type_hints

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from .._values import PLAN_FILE_CONTEXT

if TYPE_CHECKING:  # named in strings below: reading a plan imports neither
    from ..stores import Store
    from ._protocol import Backend


class BackendConfig(Protocol):
    """What building a backend reads: a plan's ``backend`` section (``swarm.plan.BackendSpec``)."""

    @property
    def name(self) -> str | None: ...

    @property
    def seed(self) -> int: ...

    @property
    def simulated(self) -> Any: ...  # the simulated backend's settings (SimulatedSpec)

    @property
    def options(self) -> Mapping[str, Any]: ...


#: Builds a backend from a plan's ``backend`` section, the store, and the environment layered
#: over every Claude Code CLI it starts (a rehearsal's fake API), or None.
BackendFactory = Callable[[BackendConfig, "Store", Mapping[str, str] | None], "Backend"]


@dataclass(frozen=True, slots=True)
class BackendEntry:
    """One backend as plans and commands know it.

    ``options`` is a ``TypedDict`` (``total=False``): its keys are the ``backend.options``
    the backend reads, its value types what plan validation checks. ``option_checks``
    adds checks of one option's value that need a module of their own (the fake API's
    script), imported only when a plan sets that option. ``preload`` names the modules
    ``create`` will import (its SDK): :func:`preload_backend` imports them in a worker
    thread while a run opens its store, so the run does not wait for them afterwards.
    """

    name: str
    options: type
    create: BackendFactory
    option_checks: Mapping[str, Callable[[], Any]] = field(default_factory=dict)
    preload: tuple[str, ...] = ()

    @property
    def option_names(self) -> frozenset[str]:
        return frozenset(get_type_hints(self.options))

    def option_errors(self, key: str, value: Any) -> list[ErrorDetails]:
        """What is wrong with ``value`` for option ``key`` (a key the backend reads), as
        pydantic errors located under the key; empty when it is fine."""
        adapters = [_option_adapter(self.options)]
        check = self.option_checks.get(key)
        if check is not None:
            adapters.append(TypeAdapter(check()))
        for i, adapter in enumerate(adapters):
            try:
                adapter.validate_python(
                    {key: value} if i == 0 else value, context=PLAN_FILE_CONTEXT
                )
            except ValidationError as exc:
                errors = exc.errors()
                if i:  # a deeper check's locations are within the option
                    for error in errors:
                        error["loc"] = (key, *error["loc"])
                return errors
        return []


@functools.cache
def _option_adapter(options: type) -> TypeAdapter[Any]:
    return TypeAdapter(options)
