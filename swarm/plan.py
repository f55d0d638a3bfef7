"""Plan files: YAML validated into typed models.

A plan is merged over the default configuration (``configs/default.yaml``)
and validated with pydantic. Every error names the file, the line and the
field, and says what was expected.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from .errors import PlanError, PlanIssue

SAFE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_SAFE_ID_RE = re.compile(SAFE_ID)
SafeId = Annotated[
    str,
    Field(
        pattern=SAFE_ID,
        description="letters, digits, '_', '.', '-'; starts with a letter or digit; at most 64",
    ),
]


def is_safe_id(value: str) -> bool:
    """True when ``value`` may be used as an agent id, run id or file name part."""
    return bool(_SAFE_ID_RE.match(value)) and ".." not in value


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

    session: str | None = Field(None, description="id of an existing session to fork from")
    at: str | None = Field(None, description="message uuid of `session` to fork at")
    prompt: str | None = Field(None, description="prompt that builds the base session once")

    @model_validator(mode="after")
    def _one_source(self) -> BaseSpec:
        if (self.session is None) == (self.prompt is None):
            raise ValueError("give exactly one of `session` (an existing id) or `prompt`")
        if self.at is not None and self.session is None:
            raise ValueError("`at` needs `session`: it is a message uuid of that session")
        return self


class SimulatedSpec(_Model):
    """Settings of the ``simulated`` backend, plan-wide or per agent."""

    latency_s: float | None = Field(None, ge=0, description="mean seconds per agent")
    jitter: float | None = Field(None, ge=0, description="sigma of a log-normal factor")
    input_tokens: int | None = Field(None, ge=0)
    output_tokens: int | None = Field(None, ge=0)
    failure_rate: float | None = Field(None, ge=0, le=1)
    turns: int | None = Field(None, ge=1)
    files: list[str] | None = Field(
        None, description="paths each agent 'writes' (a Write tool use), to test checkpoints"
    )


class AgentDefaults(_Model):
    """Settings merged into every agent that does not set its own."""

    model: str | None = None
    max_turns: int | None = Field(None, ge=1)
    timeout_s: float | None = Field(None, gt=0)
    system_prompt: str | None = None
    allowed_tools: list[str] | None = None
    permission_mode: str | None = None
    cwd: str | None = None
    env: dict[str, str] | None = None


class ForkFrom(_Model):
    """Fork from another agent's session instead of the base (makes the plan a DAG)."""

    agent: SafeId
    checkpoint: str = Field("latest", description="`latest` or a checkpoint id")


class AgentSpec(AgentDefaults):
    """One agent of a plan."""

    id: SafeId
    prompt: str = Field(min_length=1)
    type: str = "general"
    priority: Priority = Priority.MEDIUM
    fork_at: str | None = Field(None, description="message uuid of the base to fork at")
    fork_from: ForkFrom | None = None
    simulated: SimulatedSpec | None = None


class Budget(_Model):
    max_cost_usd: float | None = Field(None, gt=0)
    max_tokens: int | None = Field(None, gt=0)
    on_exhausted: Literal["finish", "cancel"] = Field(
        "finish", description="what running agents do once the budget is reached"
    )


class ExecutionSpec(_Model):
    max_parallel: int = Field(4, ge=1, le=1000)
    mode: Literal["window", "batch"] = "window"
    fail_fast: bool = False
    budget: Budget | None = None
    on_resume: Literal["continue", "restart"] = Field(
        "continue", description="agents that were running at a crash: continue their session"
    )


class CheckpointSpec(_Model):
    """When checkpoints are taken automatically, and how many a session keeps."""

    every: int = Field(10, ge=0, description="a checkpoint every N messages of a session; 0: off")
    max_per_session: int = Field(
        50, ge=1, description="the oldest automatic ones go first; named ones are always kept"
    )


class BackendSpec(_Model):
    name: Literal["simulated", "claude", "anthropic"] | None = None
    seed: int = 0
    simulated: SimulatedSpec = SimulatedSpec()
    options: dict[str, Any] = Field(default_factory=dict)


class StoreSpec(_Model):
    url: str = "sqlite:///sessions/swarm.db"


class Plan(_Model):
    """A swarm plan: a base session, agent defaults, agents and how to run them."""

    name: str | None = None
    base: BaseSpec
    defaults: AgentDefaults = AgentDefaults()
    agents: list[AgentSpec] = Field(min_length=1)
    execution: ExecutionSpec = ExecutionSpec()
    backend: BackendSpec = BackendSpec()
    store: StoreSpec = StoreSpec()
    checkpoints: CheckpointSpec = CheckpointSpec()

    @model_validator(mode="after")
    def _check_agents(self) -> Plan:
        # Errors carry the path of the offending field, so they get its file:line.
        errors: list[InitErrorDetails] = []
        seen: set[str] = set()
        for i, agent in enumerate(self.agents):
            if agent.id in seen:
                errors.append(
                    _plan_error(("agents", i, "id"), agent.id, "is used twice; ids must be unique")
                )
            seen.add(agent.id)
        for i, agent in enumerate(self.agents):
            if agent.fork_from is not None and agent.fork_from.agent not in seen:
                errors.append(
                    _plan_error(
                        ("agents", i, "fork_from", "agent"),
                        agent.fork_from.agent,
                        f"agent {agent.id!r} forks from an unknown agent; expected one of: "
                        + ", ".join(sorted(seen)),
                    )
                )
        cycle = _find_cycle(self.agents)
        if cycle:
            index = next(i for i, a in enumerate(self.agents) if a.id == cycle[0])
            errors.append(
                _plan_error(
                    ("agents", index, "fork_from", "agent"),
                    cycle[1],
                    "fork_from makes a cycle: " + " -> ".join(cycle),
                )
            )
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

    def with_overrides(self, **sections: Mapping[str, Any]) -> Plan:
        """A copy with some sections updated, e.g. ``execution={"max_parallel": 8}``."""
        data = self.model_dump(mode="json", exclude_none=False)
        for section, values in sections.items():
            data[section] = _deep_merge(data.get(section) or {}, dict(values))
        try:
            return Plan.model_validate(data)
        except ValidationError as exc:
            raise PlanError(_issues(exc, [], "<override>")) from None


def _plan_error(loc: tuple[str | int, ...], value: str, message: str) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("plan", "{message}", {"message": message}), loc=loc, input=value
    )


def _find_cycle(agents: list[AgentSpec]) -> list[str] | None:
    parent = {a.id: a.fork_from.agent for a in agents if a.fork_from is not None}
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


Lines = dict[tuple[str | int, ...], int]


MAX_YAML_VALUES = 200_000


def _construct(node: yaml.Node, path: tuple[str | int, ...], lines: Lines, file: str) -> Any:
    """Build plain Python data from a YAML node, noting each path's line number."""
    lines[path] = node.start_mark.line + 1
    if len(lines) > MAX_YAML_VALUES:  # aliases can expand a small file exponentially
        raise PlanError(
            [PlanIssue(file, None, "", f"more than {MAX_YAML_VALUES} values (aliases expanded)")]
        )
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if key_node.tag else key_node.value
            if not isinstance(key, str):
                raise PlanError(
                    [PlanIssue(file, key_node.start_mark.line + 1, "", f"key {key!r} must be text")]
                )
            if key in out:
                raise PlanError(
                    [PlanIssue(file, key_node.start_mark.line + 1, key, "duplicate key")]
                )
            out[key] = _construct(value_node, (*path, key), lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines, file) for i, item in enumerate(node.value)]
    return yaml.SafeLoader(yaml.serialize(node)).get_single_data() if node.tag else node.value


def read_yaml(text: str, file: str) -> tuple[dict[str, Any], Lines]:
    """Parse YAML text into a mapping plus the line of every field in it."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise PlanError([PlanIssue(file, None, "", "not valid YAML: nested too deeply")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanError([PlanIssue(file, line, "", f"not valid YAML: {problem}")]) from None
    if node is None:
        return {}, {}
    lines: Lines = {}
    try:
        data = _construct(node, (), lines, file)
    except RecursionError:
        raise PlanError(
            [PlanIssue(file, None, "", "too deeply nested, or an alias that contains itself")]
        ) from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, LookupError) as exc:
        # A tagged value that does not construct: `!!int x`, `!!int ""`, `!custom`.
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanError([PlanIssue(file, line, "", f"not a valid YAML value: {problem}")]) from None
    if not isinstance(data, dict):
        raise PlanError([PlanIssue(file, 1, "", "expected a mapping of sections at the top")])
    return data, lines


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field (check its spelling)"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        return (
            "expected letters, digits, '_', '.' or '-', starting with a letter or digit, "
            f"at most 64 characters (got {error['input']!r})"
        )
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if "input" in error and kind not in ("model_type", "dict_type"):
        value = error["input"]
        if not isinstance(value, dict | list):
            message += f" (got {value!r})"
    return message


def _issues(
    exc: ValidationError, sources: list[tuple[str, Lines]], fallback_file: str
) -> list[PlanIssue]:
    issues = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not str(part).startswith("function-"))
        field = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc)
        field = field.replace(".[", "[")
        # The source that knows the longest prefix of the field's path wins; the
        # plan comes first, so it wins ties over the configuration beneath it.
        file, line, depth = fallback_file, None, -1
        for source_file, lines in sources:
            probe = loc
            while probe and probe not in lines:
                probe = probe[:-1]
            if probe in lines and len(probe) > depth:
                file, line, depth = source_file, lines[probe], len(probe)
        issues.append(PlanIssue(file, line, field, _describe(error)))
    return issues


def parse_plan(
    text: str,
    file: str = "<plan>",
    *,
    config: tuple[dict[str, Any], Lines, str] | None = None,
) -> Plan:
    """Validate plan text, merged over an optional ``(data, lines, file)`` configuration."""
    data, lines = read_yaml(text, file)
    sources = [(file, lines)]
    if config is not None:
        config_data, config_lines, config_file = config
        data = _deep_merge(config_data, data)
        sources.append((config_file, config_lines))
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(_issues(exc, sources, file)) from None


DEFAULT_CONFIG_SECTIONS = frozenset({"defaults", "execution", "backend", "store", "checkpoints"})


def load_config(path: Path) -> tuple[dict[str, Any], Lines, str]:
    """Read a configuration file: the plan sections a plan is merged over."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError([PlanIssue(file, None, "", f"cannot read: {exc.strerror}")]) from None
    data, lines = read_yaml(text, file)
    unknown = sorted(set(data) - DEFAULT_CONFIG_SECTIONS)
    if unknown:
        line = lines.get((unknown[0],))
        expected = ", ".join(sorted(DEFAULT_CONFIG_SECTIONS))
        raise PlanError([PlanIssue(file, line, unknown[0], f"not a config section ({expected})")])
    return data, lines, file


def default_config_path(cwd: Path | None = None) -> Path | None:
    """``configs/default.yaml`` under the working directory, if there is one."""
    candidate = (cwd or Path.cwd()) / "configs" / "default.yaml"
    return candidate if candidate.is_file() else None


def load_plan(path: str | Path, *, config_path: Path | None = None) -> Plan:
    """Read and validate a plan file, merged over the default configuration."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError([PlanIssue(file, None, "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise PlanError([PlanIssue(file, None, "", f"cannot read: {reason}")]) from None
    config_path = config_path or default_config_path()
    config = load_config(config_path) if config_path is not None else None
    return parse_plan(text, file, config=config)


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of the plan format, for editors."""
    schema = Plan.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "swarm plan"
    return schema
