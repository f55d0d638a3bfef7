"""Plan files: YAML validated into typed models.

A plan is merged over the default configuration (``./configs/default.yaml``,
else the copy packaged with swarm) and validated with pydantic. Every error
names the file, the line and the field, and says what was expected.

Some rules apply to plan files only (``parse_plan``, command-line overrides),
not to ``Plan.model_validate``: a plan stored with an earlier run must still
load, to be resumed or replayed, even if written before the rule existed.

This module holds the models and turns validation errors into plan issues;
reading files (YAML with line numbers, the default configuration) is
:mod:`swarm.planfile`.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from ._names import (
    CHECKPOINT_NAME_RULE,
    SAFE_ID,
    SAFE_ID_RULE,
    checkpoint_name_problem,
    is_safe_id,
    secret_id_problem,
)
from ._redaction import REDACTED, looks_secret, mask_url, redact_text
from ._yamlfile import Lines, locate
from .errors import PlanError, PlanIssue
from .stores import DEFAULT_STORE_URL, StoreURLError, parse_store_url

# Validation context of plan files: turns on the rules stored plans are spared.
PLAN_FILE_CONTEXT = {"plan_file": True}


def _from_plan_file(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("plan_file"))


def _rule(message: str, *, show_input: bool = True) -> PydanticCustomError:
    """A validation error whose message is shown as is (with the value unless told not)."""
    return PydanticCustomError("plan", "{message}", {"message": message, "show_input": show_input})


def _safe_id(value: str, info: ValidationInfo) -> str:
    # Ids and names go into file names, keys and listings: one rule for both. Stored
    # plans keep the rule they were written under (ids matched SAFE_ID, '..' allowed).
    if _from_plan_file(info) and not is_safe_id(value):
        raise _rule(SAFE_ID_RULE)
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

# Numbers are what they say: YAML's `true`, `"5"` or `5.5` is not a count, and a
# timeout of `.inf` or `.nan` is no timeout (it is written to the store as null).
Int = Annotated[int, Strict()]
Number = Annotated[float, Strict(), AllowInfNan(False)]
Bool = Annotated[bool, Strict()]

#: Beyond any real agent (the claude CLI takes it as a JavaScript number).
MAX_TURNS = 1_000_000


def _text(value: str, info: ValidationInfo) -> str:
    if _from_plan_file(info) and not value.strip():
        raise _rule("expected some text, not only spaces")
    return value


Text = Annotated[str, Field(min_length=1), AfterValidator(_text)]


def _env_name(value: str, info: ValidationInfo) -> str:
    if _from_plan_file(info) and (not value or "=" in value or "\0" in value):
        raise _rule("expected a variable name: not empty, without '=' or a NUL character")
    return value


def _env_value(value: str, info: ValidationInfo) -> str:
    if _from_plan_file(info) and "\0" in value:
        # Not shown: env values are where secrets go.
        raise _rule("has a NUL character, which no environment variable can hold", show_input=False)
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
EnvValue = Annotated[str, AfterValidator(_env_value)]


def _checkpoint_ref(value: str, info: ValidationInfo) -> str:
    problem = checkpoint_name_problem(value) if _from_plan_file(info) else None
    if problem is not None:
        raise _rule(
            f"{problem}; expected `latest`, or a checkpoint id or name: {CHECKPOINT_NAME_RULE}"
        )
    return value


def _model_name(value: str) -> str:
    if not value.strip():
        raise ValueError("expected a model name such as claude-sonnet-4-6, or no model field")
    return value


ModelName = Annotated[str, AfterValidator(_model_name), Field(json_schema_extra={"minLength": 1})]

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


class SimulatedSpec(_Model):
    """Settings of the ``simulated`` backend, plan-wide or per agent."""

    latency_s: Number | None = Field(None, ge=0, description="mean seconds per agent")
    jitter: Number | None = Field(None, ge=0, description="sigma of a log-normal factor")
    input_tokens: Int | None = Field(None, ge=0)
    output_tokens: Int | None = Field(None, ge=0)
    failure_rate: Number | None = Field(None, ge=0, le=1)
    turns: Int | None = Field(None, ge=1, le=10_000)
    files: list[str] | None = Field(
        None, description="paths each agent 'writes' (a Write tool use), to test checkpoints"
    )


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
        if _from_plan_file(info) and self.fork_at is not None and self.fork_from is not None:
            error = _plan_error(
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


class ExecutionSpec(_Model):
    max_parallel: Int = Field(4, ge=1, le=1000)
    mode: Literal["window", "batch"] = "window"
    fail_fast: Bool = False
    budget: Budget | None = None
    on_resume: Literal["continue", "restart"] = Field(
        "continue", description="agents that were running at a crash: continue their session"
    )
    continue_prompt: Text = Field(
        "The previous attempt was interrupted. Continue the task where it stopped.",
        description="what an agent continued after an interruption is told first",
    )


class CheckpointSpec(_Model):
    """When checkpoints are taken automatically, and how many a session keeps."""

    every: Int = Field(10, ge=0, description="a checkpoint every N messages of a session; 0: off")
    max_per_session: Int = Field(
        50, ge=1, description="the oldest automatic ones go first; named ones are always kept"
    )


# --- backend options -----------------------------------------------------------------


class RetryOptions(_Model):
    """``backend.options.retry`` (swarm.backends.retries.RetryPolicy)."""

    max_attempts: Int = Field(6, ge=1, le=100)
    initial_wait_s: Number = Field(1.0, ge=0)
    max_wait_s: Number = Field(30.0, ge=0)
    jitter_s: Number = Field(1.0, ge=0)
    max_retry_after_s: Number = Field(120.0, ge=0)


class PriceOptions(_Model):
    """US dollars per million tokens of one model family (``backend.options.prices``)."""

    input: Number = Field(ge=0)
    output: Number = Field(ge=0)
    cache_write: Number = Field(ge=0)
    cache_read: Number = Field(ge=0)


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value


# The type of each backend option; which backend reads which is BACKEND_OPTIONS.
_OPTION_TYPES: dict[str, Any] = {
    "model": ModelName,
    "cwd": str,
    "cli_path": Annotated[str, Field(min_length=1)],
    "session_store": Bool,
    "retry": RetryOptions,
    "rehearsal": dict[str, Any],
    "base_url": Annotated[str, AfterValidator(_http_url)],
    "api_key": Annotated[str, Field(min_length=1)],
    "max_tokens": Annotated[int, Strict(), Field(ge=1)],
    "prices": dict[str, PriceOptions],
    "prompt_caching": Bool,
}
_OPTION_ADAPTERS = {name: TypeAdapter(kind) for name, kind in _OPTION_TYPES.items()}

# The backend.options each backend reads (swarm.backends.create_backend; `rehearsal` is read
# by swarm.rehearsal under --rehearse). The simulated backend reads none: its settings are
# backend.simulated.
BACKEND_OPTIONS: dict[str, frozenset[str]] = {
    "simulated": frozenset(),
    "claude": frozenset({"model", "cwd", "cli_path", "session_store", "retry", "rehearsal"}),
    "anthropic": frozenset(
        {"model", "base_url", "api_key", "max_tokens", "prices", "prompt_caching"}
    ),
}
_ANY_BACKEND_OPTION = frozenset().union(*BACKEND_OPTIONS.values())


def _backend_from_flag(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("backend_from_flag"))


class BackendSpec(_Model):
    name: Literal["simulated", "claude", "anthropic"] | None = None
    seed: Int = 0
    simulated: SimulatedSpec = SimulatedSpec()
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="settings of the named backend: claude: "
        + ", ".join(sorted(BACKEND_OPTIONS["claude"]))
        + "; anthropic: "
        + ", ".join(sorted(BACKEND_OPTIONS["anthropic"]))
        + " (the simulated backend takes none; its settings are backend.simulated)",
    )

    @model_validator(mode="after")
    def _known_options(self, info: ValidationInfo) -> BackendSpec:
        if not _from_plan_file(info):
            return self
        if self.name is None or (self.name == "simulated" and _backend_from_flag(info)):
            # No backend named: the one chosen at run time reads its own. `--backend
            # simulated` rehearses a plan written for a real backend offline: it ignores them.
            known, owner = _ANY_BACKEND_OPTION, "any backend"
        else:
            known, owner = BACKEND_OPTIONS[self.name], f"the {self.name} backend"
        takes = (
            f"expected one of: {', '.join(sorted(known))}"
            if known
            else "it takes none (its settings are backend.simulated)"
        )
        errors = [
            _plan_error(
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
                errors += _option_errors(key, value)
        if errors:
            raise ValidationError.from_exception_data("BackendSpec", errors)
        return self


def _option_errors(key: str, value: Any) -> list[InitErrorDetails]:
    """The errors of one backend option's value, located under ``options.<key>``."""
    adapters = [_OPTION_ADAPTERS[key]]
    if key == "rehearsal" and isinstance(value, dict):
        # The fake API's own model checks the script; imported only for a plan that has
        # one, as plans load without the server.
        from .mockapi import MockAPIConfig

        adapters.append(TypeAdapter(MockAPIConfig))
    for adapter in adapters:
        try:
            adapter.validate_python(value, context=PLAN_FILE_CONTEXT)
        except ValidationError as exc:
            return [
                _plan_error(
                    ("options", key, *error["loc"]),
                    error.get("input"),
                    _describe(error),
                    show_input=False,  # _describe shows it where it helps
                )
                for error in exc.errors()
            ]
    return []


class StoreSpec(_Model):
    url: str = DEFAULT_STORE_URL

    @field_validator("url")
    @classmethod
    def _parses(cls, value: str, info: ValidationInfo) -> str:
        # The syntax only; a directory where the file goes is planfile's check (the disk).
        if _from_plan_file(info):
            try:
                parse_store_url(value)
            except StoreURLError as exc:
                # Shown masked, as every store URL is: it may hold a password.
                raise _rule(f"{exc.problem} (got {mask_url(value)!r})", show_input=False) from None
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
        errors = _reference_errors(pairs)
        if _from_plan_file(info) and self.base.session is None:
            errors += [
                _plan_error(
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
        updates = {
            name: getattr(self.defaults, name)
            for name in AgentDefaults.model_fields
            if getattr(agent, name) is None and getattr(self.defaults, name) is not None
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
            data[section] = _deep_merge(data.get(section) or {}, dict(values))
        try:
            # `--backend simulated` over a plan for a real backend rehearses it offline.
            context = {**PLAN_FILE_CONTEXT, "backend_from_flag": "backend.name" in (flags or {})}
            return Plan.model_validate(data, context=context if flags else None)
        except ValidationError as exc:
            raise PlanError(
                [_blame_flag(issue, flags or {}) for issue in _issues(exc, [], "command line")]
            ) from None


def _blame_flag(issue: PlanIssue, flags: Mapping[str, str]) -> PlanIssue:
    """``issue`` as the error of the flag that set its field, or of its section."""
    for field, flag in flags.items():
        if issue.field == field:
            return PlanIssue(flag, None, "", issue.message)
    for field, flag in flags.items():
        if issue.field.split(".")[0].split("[")[0] == field.split(".")[0]:
            return PlanIssue(flag, None, issue.field, issue.message)
    return issue


def _plan_error(
    loc: tuple[str | int, ...], value: Any, message: str, *, show_input: bool = True
) -> InitErrorDetails:
    context = {"message": message, "show_input": show_input}
    return InitErrorDetails(
        type=PydanticCustomError("plan", "{message}", context), loc=loc, input=value
    )


def _reference_errors(agents: list[tuple[Any, Any]]) -> list[InitErrorDetails]:
    """Duplicate ids, unknown fork_from agents and fork_from cycles among ``(id, parent)``.

    Works on validated agents and on raw plan data alike, so the raw form can be
    checked too when other errors stop validation before the plan-wide checks.
    """
    errors: list[InitErrorDetails] = []
    seen: set[str] = set()
    for i, (agent_id, _) in enumerate(agents):
        if agent_id in seen:
            errors.append(
                _plan_error(("agents", i, "id"), agent_id, "is used twice; ids must be unique")
            )
        if isinstance(agent_id, str):
            seen.add(agent_id)
    for i, (agent_id, parent) in enumerate(agents):
        if isinstance(parent, str) and parent not in seen:
            errors.append(
                _plan_error(
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
            _plan_error(
                ("agents", index, "fork_from", "agent"),
                cycle[1],
                "fork_from makes a cycle: " + " -> ".join(cycle),
            )
        )
    return errors


def _raw_references(data: Mapping[str, Any]) -> list[tuple[Any, Any]]:
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


# --- loading -----------------------------------------------------------------


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_AGENT_SHAPE = "a mapping with at least id and prompt"
# What a mapping expected in a place is, in plan terms, by the model that reads it.
_MAPPING_OF = {
    "AgentSpec": f"each agent is {_AGENT_SHAPE}",
    "BaseSpec": "expected a mapping with `prompt` (or `session`, and optionally `at`)",
    "ForkFrom": "expected a mapping with `agent` (and optionally `checkpoint`)",
}


_MODELS: dict[str, type[BaseModel]] = {
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


def _got(value: Any, loc: tuple[str | int, ...]) -> str:
    """The bad value, quoted back; never a secret: a secret-shaped value (or the part of it
    that is) and the value of a secret-named env entry or option are shown redacted."""
    if value is None:
        return " (got null)"
    named = any(
        parent in ("env", "options") and isinstance(name, str) and looks_secret(name)
        for parent, name in itertools.pairwise(loc)
    )
    return f" (got {REDACTED})" if named else f" (got {redact_text(repr(value))})"


def _describe(error: Any) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    value = error.get("input")
    if kind == "extra_forbidden":
        return "unknown field (check its spelling)"
    if kind == "missing":
        return "required field is missing"
    if loc == ("agents",) and kind == "list_type":
        return f"expected a list of agents, each {_AGENT_SHAPE}" + _got(value, loc)
    if loc == ("agents",) and kind == "too_short":
        return "needs at least one agent"
    if kind == "model_type":
        name = str((error.get("ctx") or {}).get("class_name", ""))
        model = _MODELS.get(name)
        fields = ", ".join(model.model_fields) if model is not None else ""
        expected = _MAPPING_OF.get(name) or f"expected a mapping of {fields}"
        return expected + ("" if isinstance(value, dict | list) else _got(value, loc))
    if kind == "dict_type":
        return "expected a mapping" + ("" if isinstance(value, list) else _got(value, loc))
    if kind == "list_type":
        return "expected a list" + ("" if isinstance(value, dict) else _got(value, loc))
    if kind == "plan" and not (error.get("ctx") or {}).get("show_input", True):
        return str(error["msg"])
    if kind == "string_pattern_mismatch":
        return SAFE_ID_RULE + _got(error["input"], loc)
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if "input" in error and not isinstance(value, dict | list):
        message += _got(value, loc)
    return message


def _issues(
    exc: ValidationError, sources: list[tuple[str, Lines]], fallback_file: str
) -> list[PlanIssue]:
    issues = []
    for error in exc.errors():
        # A dict key's error ends in "[key]": the key names the field already.
        loc = tuple(
            part
            for part in error["loc"]
            if not str(part).startswith("function-") and part != "[key]"
        )
        file, line = locate(loc, sources, fallback_file)
        # A message may quote what the plan holds (an id in a custom message): never a secret.
        issues.append(PlanIssue(file, line, _field_name(loc), redact_text(_describe(error))))
    return issues


def _field_name(loc: tuple[str | int, ...]) -> str:
    parts = (f"[{p}]" if isinstance(p, int) else str(p) or "''" for p in loc)
    return ".".join(parts).replace(".[", "[")


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of the plan format, for editors."""
    schema = Plan.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "swarm plan"
    return schema
