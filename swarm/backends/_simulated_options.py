"""The ``simulated`` backend as plans know it: its settings in a plan, and its entry.

Nothing here imports the backend itself (nor trio): the factory imports it when a run
builds one, so a plan validates without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from .._values import Int, Number
from ._entry import BackendConfig, BackendEntry

if TYPE_CHECKING:
    from ..stores import Store
    from ._protocol import Backend


def _relative_path(value: str) -> str:
    parts = PurePosixPath(value).parts
    if not value or value.startswith("/") or ".." in parts or (parts and parts[0] == ".git"):
        raise ValueError(
            "expected a path relative to the agent's worktree, without '..', not in .git"
        )
    return value


class SimulatedSpec(BaseModel):
    """Settings of the ``simulated`` backend, plan-wide (``backend.simulated``) or per agent
    (an agent's ``simulated``); unset ones come from the backend's ``SimulatedSettings``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_s: Number | None = Field(None, ge=0, description="mean seconds per agent")
    jitter: Number | None = Field(None, ge=0, description="sigma of a log-normal factor")
    input_tokens: Int | None = Field(None, ge=0)
    output_tokens: Int | None = Field(None, ge=0)
    failure_rate: Number | None = Field(None, ge=0, le=1)
    turns: Int | None = Field(None, ge=1, le=10_000)
    files: list[str] | None = Field(
        None, description="paths each agent 'writes' (a Write tool use), to test checkpoints"
    )
    edits: dict[Annotated[str, AfterValidator(_relative_path)], str] | None = Field(
        None,
        description="with workspace: worktree, files each agent really writes in its "
        "worktree at its last turn (path relative to it: content), besides its "
        "SIMULATED-<agent>.md",
    )


class SimulatedOptions(TypedDict, total=False):
    """The simulated backend reads no ``backend.options``: its settings are
    ``backend.simulated`` (:class:`SimulatedSpec`)."""


def _create(spec: BackendConfig, store: Store, cli_env: Mapping[str, str] | None) -> Backend:
    from ._simulated import SimulatedBackend, SimulatedSettings

    settings = SimulatedSettings().merged(spec.simulated.model_dump(exclude_none=True))
    return SimulatedBackend(store, seed=spec.seed, settings=settings)


SIMULATED = BackendEntry("simulated", SimulatedOptions, _create)
