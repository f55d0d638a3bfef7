"""The plan's models: the one definition of its vocabulary and defaults.

A plan is a base session, agent defaults, agents and how to run them, validated
with pydantic. Every name and default a plan speaks in is declared here once and
used by the rest: priorities, on-resume policies, the continue prompt, checkpoint
defaults, the default store URL (:data:`swarm.stores.DEFAULT_STORE_URL`), and the
backend names and options, which each backend declares in the registry
(:data:`swarm.backends.BACKENDS`).

Some rules apply to plan files only (``parse_plan``, command-line overrides),
not to ``Plan.model_validate``: a plan stored with an earlier run must still
load, to be resumed or replayed, even if written before the rule existed.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from .._names import (
    CHECKPOINT_NAME_RULE,
    SAFE_ID,
    SAFE_ID_RULE,
    checkpoint_name_problem,
    is_safe_id,
    secret_id_problem,
)
from .._redaction import mask_url
from .._values import PLAN_FILE_CONTEXT, Bool, Int, ModelName, Number, from_plan_file, rule
from ..backends import BACKEND_NAMES, BACKENDS, SimulatedSpec
from ..errors import PlanError
from ..stores import DEFAULT_STORE_URL, StoreURLError, parse_store_url
from ._errors import blame_flag, describe, issues_of, plan_error


def _safe_id(value: str, info: ValidationInfo) -> str:
    # Ids and names go into file names, keys and listings: one rule for both. Stored
    # plans keep the rule they were written under (ids matched SAFE_ID, '..' allowed).
    if from_plan_file(info) and not is_safe_id(value):
        raise rule(SAFE_ID_RULE)
    # A secret-shaped id would be one thing in its key and another in its redacted record.
    problem = secret_id_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


_SAFE_ID_DESCRIPTION = "letters, digits, '_', '.', '-'; starts with a letter or digit; at most 64"
SafeId = Annotated[
    str,
    Field(pattern=SAFE_ID, description=_SAFE_ID_DESCRIPTION + "; no '..'"),
    AfterValidator(_safe_id),
]

#: Beyond any real agent (the claude CLI takes it as a JavaScript number).
MAX_TURNS = 1_000_000


def _text(value: str, info: ValidationInfo) -> str:
    if from_plan_file(info) and not value.strip():
        raise rule("expected some text, not only spaces")
    return value


Text = Annotated[str, Field(min_length=1), AfterValidator(_text)]


def _env_name(value: str, info: ValidationInfo) -> str:
    if from_plan_file(info) and (not value or "=" in value or "\0" in value):
        raise rule("expected a variable name: not empty, without '=' or a NUL character")
    return value


def _env_value(value: str, info: ValidationInfo) -> str:
    if from_plan_file(info) and "\0" in value:
        # Not shown: env values are where secrets go.
        raise rule("has a NUL character, which no environment variable can hold", show_input=False)
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
EnvValue = Annotated[str, AfterValidator(_env_value)]


def _checkpoint_ref(value: str, info: ValidationInfo) -> str:
    problem = checkpoint_name_problem(value) if from_plan_file(info) else None
    if problem is not None:
        raise rule(
            f"{problem}; expected `latest`, or a checkpoint id or name: {CHECKPOINT_NAME_RULE}"
        )
    return value


# claude_agent_sdk's PermissionMode, spelt out so that reading a plan does not import the
# SDK; tests/core/test_plan.py checks that the two agree.
PermissionMode = Literal["default", "acceptEdits", "plan", "bypassPermissions", "dontAsk", "auto"]
PERMISSION_MODES: tuple[str, ...] = get_args(PermissionMode)


class Priority(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for critical ... 3 for low: the order agents start in."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class BaseSpec(_Model):
    """The shared base session: an existing one, or one built from a prompt."""

    session: str | None = Field(
        None, min_length=1, description="id of an existing session to fork from"
    )
    at: str | None = Field(None, min_length=1, description="message uuid of `session` to fork at")
    prompt: Text | None = Field(None, description="prompt that builds the base session once")

    @model_validator(mode="after")
    def _one_source(self) -> BaseSpec:
        if (self.session is None) == (self.prompt is None):
            raise ValueError("give exactly one of `session` (an existing id) or `prompt`")
        if self.at is not None and self.session is None:
            raise ValueError("`at` needs `session`: it is a message uuid of that session")
        return self


#: Where agents work: all in ``cwd`` itself, or each in a git worktree of its own.
Workspace = Literal["shared", "worktree"]
WORKSPACES: tuple[str, ...] = get_args(Workspace)


class AgentDefaults(_Model):
    """Settings merged into every agent that does not set its own."""

    model: ModelName | None = None
    max_turns: Int | None = Field(None, ge=1, le=MAX_TURNS)
    timeout_s: Number | None = Field(None, gt=0)
    system_prompt: str | None = None
    allowed_tools: list[str] | None = None
    permission_mode: PermissionMode | None = None
    cwd: str | None = Field(
        None, description="working directory of the agent; relative to where swarm runs"
    )
    env: dict[EnvName, EnvValue] | None = None
    workspace: Workspace | None = Field(
        None,
        description="shared: agents work in `cwd` itself (the default); worktree: each agent "
        "in a git worktree of its own, its changes a commit on branch swarm/<run>/<agent>",
    )


class ForkFrom(_Model):
    """Fork from another agent's session instead of the base (makes the plan a DAG)."""

    agent: SafeId
    checkpoint: Annotated[str, AfterValidator(_checkpoint_ref)] = Field(
        "latest", description="`latest` or a checkpoint id or name"
    )


class AgentSpec(AgentDefaults):
    """One agent of a plan."""

    id: SafeId
    prompt: Text
    type: str = "general"
    priority: Priority = Priority.MEDIUM
    fork_at: str | None = Field(
        None, min_length=1, description="message uuid of the base session to fork at"
    )
    fork_from: ForkFrom | None = None
    simulated: SimulatedSpec | None = None

    @model_validator(mode="after")
    def _one_fork_point(self, info: ValidationInfo) -> AgentSpec:
        if from_plan_file(info) and self.fork_at is not None and self.fork_from is not None:
            error = plan_error(
                ("fork_at",),
                self.fork_at,
                "fork_at is a message of the base session, and fork_from forks another "
                "agent's session instead (at its end, or at fork_from.checkpoint): give one",
                show_input=False,
            )
            raise ValidationError.from_exception_data("AgentSpec", [error])
        return self


class Budget(_Model):
    max_cost_usd: Number | None = Field(None, gt=0)
    max_tokens: Int | None = Field(None, gt=0)
    on_exhausted: Literal["finish", "cancel"] = Field(
        "finish", description="what running agents do once the budget is reached"
    )


#: What becomes of an agent a crash caught running: its session continued, or forked afresh.
OnResume = Literal["continue", "restart"]
ON_RESUME_POLICIES: tuple[str, ...] = get_args(OnResume)
#: What a continued session is told first (its task is in its history already).
DEFAULT_CONTINUE_PROMPT = (
    "The previous attempt was interrupted. Continue the task where it stopped."
)
#: How agents share the window: a slot freed goes at once to the next agent (``window``),
#: or fixed batches wait for their slowest agent (``batch``, claude-flow's, for comparison).
Mode = Literal["window", "batch"]
MODES: tuple[str, ...] = get_args(Mode)


#: Where each agent's backend call runs: here (``local``) or on a Dask cluster (``dask``).
EngineName = Literal["local", "dask"]
ENGINES: tuple[str, ...] = get_args(EngineName)


def _dask_address(value: str) -> str:
    if not value.strip() or value != value.strip() or any(ord(ch) < 32 for ch in value):
        raise ValueError("expected a scheduler address such as tcp://10.0.0.5:8786")
    return value


class DaskSpec(_Model):
    """The Dask cluster of ``execution.engine: dask``."""

    address: Annotated[str, AfterValidator(_dask_address)] | None = Field(
        None,
        description="an existing scheduler (tcp://host:8786); none: a LocalCluster for the run",
    )
    connect_timeout_s: Number = Field(
        10.0, gt=0, le=600, description="how long reaching the scheduler may take"
    )
    workers: Int = Field(2, ge=1, le=64, description="worker processes of that LocalCluster")
    slots_per_worker: Int | None = Field(
        None,
        ge=1,
        le=1000,
        description="agents a LocalCluster worker runs at once; none: max_parallel / workers",
    )


class ExecutionSpec(_Model):
    max_parallel: Int = Field(4, ge=1, le=1000)
    engine: EngineName = Field("local", description="where agents run: local or dask")
    dask: DaskSpec = Field(default_factory=DaskSpec)
    mode: Mode = "window"
    fail_fast: Bool = False
    budget: Budget | None = None
    on_resume: OnResume = Field(
        "continue", description="agents that were running at a crash: continue their session"
    )
    continue_prompt: Text = Field(
        DEFAULT_CONTINUE_PROMPT,
        description="what an agent continued after an interruption is told first",
    )
    require_clean: Bool = Field(
        False,
        description="with workspace: worktree, refuse to start while the repository has "
        "uncommitted changes (they would not be in the agents' worktrees)",
    )


#: A checkpoint every N messages of a session, and at most so many per session.
DEFAULT_CHECKPOINT_EVERY = 10
DEFAULT_MAX_CHECKPOINTS = 50


class CheckpointSpec(_Model):
    """When checkpoints are taken automatically, and how many a session keeps."""

    every: Int = Field(
        DEFAULT_CHECKPOINT_EVERY,
        ge=0,
        description="a checkpoint every N messages of a session; 0: off",
    )
    max_per_session: Int = Field(
        DEFAULT_MAX_CHECKPOINTS,
        ge=1,
        description="the oldest automatic ones go first; named ones are always kept",
    )


# --- the backend section -------------------------------------------------------------
# Which backends there are and which options each reads is the registry's
# (swarm.backends.BACKENDS: each backend declares its own); validation reads it there.

if TYPE_CHECKING:
    BackendName = str
else:
    BackendName = Literal[BACKEND_NAMES]

_ANY_BACKEND_OPTION = frozenset().union(*(entry.option_names for entry in BACKENDS.values()))


def _backend_from_flag(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("backend_from_flag"))


def _options_description() -> str:
    takes = [
        f"{name}: {', '.join(sorted(entry.option_names))}"
        for name, entry in BACKENDS.items()
        if entry.option_names
    ]
    return (
        "settings of the named backend: "
        + "; ".join(takes)
        + " (the simulated backend takes none; its settings are backend.simulated)"
    )


class BackendSpec(_Model):
    name: BackendName | None = None
    seed: Int = 0
    simulated: SimulatedSpec = SimulatedSpec()
    options: dict[str, Any] = Field(default_factory=dict, description=_options_description())

    @model_validator(mode="after")
    def _known_options(self, info: ValidationInfo) -> BackendSpec:
        if not from_plan_file(info):
            return self
        if self.name is None or (self.name == "simulated" and _backend_from_flag(info)):
            # No backend named: the one chosen at run time reads its own. `--backend
            # simulated` rehearses a plan written for a real backend offline: it ignores them.
            known, owner = _ANY_BACKEND_OPTION, "any backend"
        else:
            known, owner = BACKENDS[self.name].option_names, f"the {self.name} backend"
        takes = (
            f"expected one of: {', '.join(sorted(known))}"
            if known
            else "it takes none (its settings are backend.simulated)"
        )
        errors = [
            plan_error(
                ("options", key),
                key,
                f"not an option of {owner}; {takes}",
                show_input=False,  # the key is the last part of the field already
            )
            for key in self.options
            if key not in known
        ]
        for key, value in self.options.items():
            if key in known:
                errors += _option_errors(self.name, key, value)
        if errors:
            raise ValidationError.from_exception_data("BackendSpec", errors)
        return self


def _option_errors(backend: str | None, key: str, value: Any) -> list[InitErrorDetails]:
    """The errors of one backend option's value, located under ``options.<key>``: checked
    as ``backend`` declares it, or (no backend named) as the first backend reading it."""
    named = BACKENDS.get(backend or "")
    entry = next(e for e in (named, *BACKENDS.values()) if e is not None and key in e.option_names)
    return [
        plan_error(
            ("options", *error["loc"]),
            error.get("input"),
            describe(error, MODELS),
            show_input=False,  # describe shows it where it helps
        )
        for error in entry.option_errors(key, value)
    ]


class StoreSpec(_Model):
    url: str = DEFAULT_STORE_URL

    @field_validator("url")
    @classmethod
    def _parses(cls, value: str, info: ValidationInfo) -> str:
        # The syntax only; a directory where the file goes is planfile's check (the disk).
        if from_plan_file(info):
            try:
                parse_store_url(value)
            except StoreURLError as exc:
                # Shown masked, as every store URL is: it may hold a password.
                raise rule(f"{exc.problem} (got {mask_url(value)!r})", show_input=False) from None
        return value


class Plan(_Model):
    """A swarm plan: a base session, agent defaults, agents and how to run them."""

    name: Annotated[str, AfterValidator(_safe_id)] | None = Field(
        None,
        description=_SAFE_ID_DESCRIPTION + "; no '..'",
        json_schema_extra={"pattern": SAFE_ID},
    )
    base: BaseSpec
    defaults: AgentDefaults = AgentDefaults()
    agents: list[AgentSpec] = Field(min_length=1)
    execution: ExecutionSpec = ExecutionSpec()
    backend: BackendSpec = BackendSpec()
    store: StoreSpec = StoreSpec()
    checkpoints: CheckpointSpec = CheckpointSpec()

    @model_validator(mode="after")
    def _check_agents(self, info: ValidationInfo) -> Plan:
        # Errors carry the path of the offending field, so they get its file:line.
        pairs = [(a.id, a.fork_from.agent if a.fork_from else None) for a in self.agents]
        errors = reference_errors(pairs)
        if from_plan_file(info) and self.base.session is None:
            errors += [
                plan_error(
                    ("agents", i, "fork_at"),
                    agent.fork_at,
                    "fork_at needs base.session: it is a message uuid of that session, and a "
                    "base built from base.prompt has none before it runs",
                    show_input=False,
                )
                for i, agent in enumerate(self.agents)
                if agent.fork_at is not None and agent.fork_from is None
            ]
        if errors:
            raise ValidationError.from_exception_data("Plan", errors)
        return self

    def resolved(self, agent: AgentSpec) -> AgentSpec:
        """``agent`` with the plan's defaults filled in where it sets nothing."""
        # The fields' values straight from __dict__: a plan of 10,000 agents asks this
        # for every agent, several times per run, and most plans set no defaults.
        given = agent.__dict__
        updates = {
            name: value
            for name, value in self.defaults.__dict__.items()
            if value is not None and given[name] is None
        }
        return agent.model_copy(update=updates) if updates else agent

    def with_overrides(
        self, *, flags: Mapping[str, str] | None = None, **sections: Mapping[str, Any]
    ) -> Plan:
        """A copy with some sections updated, e.g. ``execution={"max_parallel": 8}``.

        ``flags`` maps a dotted field to the command-line flag that set it
        (``{"backend.name": "--backend"}``): errors name the flag, and the plan-file
        rules apply, since the values come from the user.
        """
        data = self.model_dump(mode="json", exclude_none=False)
        for section, values in sections.items():
            data[section] = deep_merge(data.get(section) or {}, dict(values))
        try:
            # `--backend simulated` over a plan for a real backend rehearses it offline.
            context = {**PLAN_FILE_CONTEXT, "backend_from_flag": "backend.name" in (flags or {})}
            return Plan.model_validate(data, context=context if flags else None)
        except ValidationError as exc:
            raise PlanError(
                [
                    blame_flag(issue, flags or {})
                    for issue in issues_of(exc, [], "command line", MODELS)
                ]
            ) from None


# --- plan-wide rules, also run on raw data (swarm.plan._file) -------------------


def reference_errors(agents: list[tuple[Any, Any]]) -> list[InitErrorDetails]:
    """Duplicate ids, unknown fork_from agents and fork_from cycles among ``(id, parent)``.

    Works on validated agents and on raw plan data alike, so the raw form can be
    checked too when other errors stop validation before the plan-wide checks.
    """
    errors: list[InitErrorDetails] = []
    seen: set[str] = set()
    for i, (agent_id, _) in enumerate(agents):
        if agent_id in seen:
            errors.append(
                plan_error(("agents", i, "id"), agent_id, "is used twice; ids must be unique")
            )
        if isinstance(agent_id, str):
            seen.add(agent_id)
    for i, (agent_id, parent) in enumerate(agents):
        if isinstance(parent, str) and parent not in seen:
            errors.append(
                plan_error(
                    ("agents", i, "fork_from", "agent"),
                    parent,
                    f"agent {agent_id!r} forks from an unknown agent; expected one of: "
                    + ", ".join(sorted(seen)),
                )
            )
    cycle = _find_cycle(agents)
    if cycle:
        index = next(i for i, (agent_id, _) in enumerate(agents) if agent_id == cycle[0])
        errors.append(
            plan_error(
                ("agents", index, "fork_from", "agent"),
                cycle[1],
                "fork_from makes a cycle: " + " -> ".join(cycle),
            )
        )
    return errors


def raw_references(data: Mapping[str, Any]) -> list[tuple[Any, Any]]:
    """``(id, fork_from.agent)`` of each agent of unvalidated plan data; None where absent."""
    agents = data.get("agents")
    pairs: list[tuple[Any, Any]] = []
    for agent in agents if isinstance(agents, list) else []:
        agent = agent if isinstance(agent, dict) else {}
        fork = agent.get("fork_from")
        agent_id = agent.get("id")
        pairs.append(
            (
                agent_id if isinstance(agent_id, str) else None,
                fork.get("agent") if isinstance(fork, dict) else None,
            )
        )
    return pairs


def _find_cycle(agents: list[tuple[Any, Any]]) -> list[str] | None:
    parent = {a: p for a, p in agents if isinstance(a, str) and isinstance(p, str)}
    for start in parent:
        path = [start]
        node = start
        while node in parent:
            node = parent[node]
            if node in path:
                return [*path[path.index(node) :], node]
            path.append(node)
    return None


#: The plan's models by class name, for errors that say what a mapping holds.
MODELS: dict[str, type[BaseModel]] = {
    model.__name__: model
    for model in (
        BaseSpec,
        SimulatedSpec,
        AgentDefaults,
        ForkFrom,
        AgentSpec,
        Budget,
        ExecutionSpec,
        CheckpointSpec,
        BackendSpec,
        StoreSpec,
        Plan,
    )
}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of the plan format, for editors."""
    schema = Plan.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "swarm plan"
    return schema
