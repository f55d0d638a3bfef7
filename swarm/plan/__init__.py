"""Plans: the YAML a user writes, validated into typed models, with file:line errors.

The models (:class:`Plan` and its sections) are the one definition of the plan's
vocabulary and defaults; reading files (the default configuration merged under a
plan, the checks of what it points at on disk) is :func:`load_plan` and
:func:`parse_plan`; translating validation errors into issues that name the file,
the line and the field is a module of its own. A plan is merged over the default
configuration (``./configs/default.yaml``, else the copy packaged with swarm).
"""

from ._file import (
    DEFAULT_CONFIG_SECTIONS,
    MAX_PLAN_BYTES,
    PACKAGED_CONFIG,
    PlanProblem,
    PlanSource,
    default_config_path,
    load_config,
    load_plan,
    parse_plan,
    read_plan,
    read_yaml,
)
from ._models import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_CONTINUE_PROMPT,
    DEFAULT_MAX_CHECKPOINTS,
    MAX_TURNS,
    MODES,
    ON_RESUME_POLICIES,
    PERMISSION_MODES,
    AgentDefaults,
    AgentSpec,
    BackendSpec,
    BaseSpec,
    Budget,
    CheckpointSpec,
    ExecutionSpec,
    ForkFrom,
    Mode,
    OnResume,
    PermissionMode,
    Plan,
    Priority,
    StoreSpec,
    plan_json_schema,
)

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "DEFAULT_CONFIG_SECTIONS",
    "DEFAULT_CONTINUE_PROMPT",
    "DEFAULT_MAX_CHECKPOINTS",
    "MAX_PLAN_BYTES",
    "MAX_TURNS",
    "MODES",
    "ON_RESUME_POLICIES",
    "PACKAGED_CONFIG",
    "PERMISSION_MODES",
    "AgentDefaults",
    "AgentSpec",
    "BackendSpec",
    "BaseSpec",
    "Budget",
    "CheckpointSpec",
    "ExecutionSpec",
    "ForkFrom",
    "Mode",
    "OnResume",
    "PermissionMode",
    "Plan",
    "PlanProblem",
    "PlanSource",
    "Priority",
    "StoreSpec",
    "default_config_path",
    "load_config",
    "load_plan",
    "parse_plan",
    "plan_json_schema",
    "read_plan",
    "read_yaml",
]
