"""Reading plan files: the default configuration, the plan merged over it, and the
checks of what it points at. The YAML itself (line numbers, size and alias limits,
regular files only) is read by :mod:`swarm._yamlfile`, as for every file swarm reads.

``parse_plan`` and ``load_plan`` turn a file into a :class:`~swarm.plan.Plan` or a
:class:`~swarm.errors.PlanError` whose issues name file, line and field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from .._values import PLAN_FILE_CONTEXT
from .._yamlfile import MAX_YAML_BYTES, Lines, locate, parse_yaml, read_text
from ..errors import PlanError, PlanIssue, Remedy
from ..stores import StoreURLError, parse_store_url, store_location_problem
from ._errors import field_name, got, issues_of
from ._models import MODELS, Plan, deep_merge, raw_references, reference_errors


def read_yaml(text: str, file: str) -> tuple[dict[str, Any], Lines]:
    """Parse YAML text into a mapping plus the line of every field in it."""
    data, lines = parse_yaml(text, file)
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise PlanError([PlanIssue(file, 1, "", "expected a mapping of sections at the top")])
    return data, lines


def parse_plan(
    text: str,
    file: str = "<plan>",
    *,
    config: tuple[dict[str, Any], Lines, str] | None = None,
) -> Plan:
    """Validate plan text, merged over an optional ``(data, lines, file)`` configuration."""
    return _parse(text, file, config)[0]


def _parse(
    text: str,
    file: str,
    config: tuple[dict[str, Any], Lines, str] | None,
    *,
    check_directories: bool = False,
) -> tuple[Plan, PlanSource]:
    data, lines = read_yaml(text, file)
    sources = [(file, lines)]
    if config is not None:
        config_data, config_lines, config_file = config
        data = deep_merge(config_data, data)
        sources.append((config_file, config_lines))
    plan: Plan | None = None
    issues: list[PlanIssue] = []
    try:
        plan = Plan.model_validate(data, context=PLAN_FILE_CONTEXT)
    except ValidationError as exc:
        issues = issues_of(exc, sources, file, MODELS)
        # Any other error stops validation before the plan-wide checks (unknown
        # fork_from agents, duplicate ids): run those on the raw data, so that one
        # report holds them all.
        references = reference_errors(raw_references(data))
        if references:
            found = ValidationError.from_exception_data("Plan", references)
            issues += [i for i in issues_of(found, sources, file, MODELS) if i not in issues]
    if check_directories:
        issues += _directory_issues(data, sources, file) + _store_issues(data, sources, file)
    if plan is None or issues:
        raise PlanError(issues)
    return plan, PlanSource(file, tuple(sources))


DEFAULT_CONFIG_SECTIONS = frozenset({"defaults", "execution", "backend", "store", "checkpoints"})


def load_config(path: Path) -> tuple[dict[str, Any], Lines, str]:
    """Read a configuration file: the plan sections a plan is merged over."""
    file = str(path)
    data, lines = read_yaml(_read_text(path), file)
    unknown = sorted(set(data) - DEFAULT_CONFIG_SECTIONS)
    if unknown:
        line = lines.get((unknown[0],))
        expected = ", ".join(sorted(DEFAULT_CONFIG_SECTIONS))
        raise PlanError([PlanIssue(file, line, unknown[0], f"not a config section ({expected})")])
    return data, lines, file


# A byte-for-byte copy of the repository's configs/default.yaml (a test keeps them equal),
# so that swarm run from any directory gets the same defaults, e.g. the per-agent timeout.
PACKAGED_CONFIG = Path(__file__).with_name("default_config.yaml")


def default_config_path(cwd: Path | None = None) -> Path:
    """``configs/default.yaml`` under the working directory, else the packaged default."""
    candidate = (cwd or Path.cwd()) / "configs" / "default.yaml"
    return candidate if candidate.is_file() else PACKAGED_CONFIG


MAX_PLAN_BYTES = MAX_YAML_BYTES


def _read_text(path: Path) -> str:
    """The text of a plan or configuration file: a regular UTF-8 file of at most 10 MB."""
    return read_text(path, "plan file")


def load_plan(path: str | Path, *, config_path: Path | None = None) -> Plan:
    """Read and validate a plan file, merged over the default configuration.

    Unlike :func:`parse_plan` this also looks at the file system: every ``cwd``
    must be an existing directory, the store's file must not be a directory.
    """
    return read_plan(path, config_path=config_path)[0]


def read_plan(path: str | Path, *, config_path: Path | None = None) -> tuple[Plan, PlanSource]:
    """:func:`load_plan`, and where each field came from, for the checks made later."""
    path = Path(path)
    text = _read_text(path)
    config = load_config(config_path or default_config_path())
    return _parse(text, str(path), config, check_directories=True)


class PlanProblem(NamedTuple):
    """A problem found in a plan after it was read (against the store, say): where in the
    plan, what is wrong, and the way out if one is known."""

    loc: tuple[str | int, ...]
    message: str
    remedy: Remedy | None = None


@dataclass(frozen=True, slots=True)
class PlanSource:
    """The file a plan was read from, and the line of every field in it and in the
    configuration beneath it: problems found after reading (against the store, say)
    are reported at their line like the schema's."""

    file: str
    sources: tuple[tuple[str, Lines], ...] = ()

    def error(
        self, problems: Sequence[PlanProblem | tuple[tuple[str | int, ...], str]]
    ) -> PlanError:
        """A PlanError of ``(field path, message[, remedy])`` problems, each at its file and
        line."""
        issues = []
        for problem in problems:
            loc, message = problem[0], problem[1]
            remedy = problem[2] if len(problem) > 2 else None
            file, line = locate(loc, list(self.sources), self.file)
            issues.append(PlanIssue(file, line, field_name(loc), message, remedy))
        return PlanError(issues)


def _directory_issues(
    data: Mapping[str, Any], sources: list[tuple[str, Lines]], file: str
) -> list[PlanIssue]:
    """Each ``cwd`` of the (raw, merged) plan data that is not an existing directory,
    resolved as the backends do: relative to the working directory of swarm."""

    def section(value: Any) -> Mapping[str, Any]:
        return value if isinstance(value, dict) else {}

    agents = data.get("agents")
    fields: list[tuple[tuple[str | int, ...], Any]] = [
        (("defaults", "cwd"), section(data.get("defaults")).get("cwd"))
    ]
    fields += [
        (("agents", i, "cwd"), section(agent).get("cwd"))
        for i, agent in enumerate(agents if isinstance(agents, list) else [])
    ]
    options = section(section(data.get("backend")).get("options"))
    fields.append((("backend", "options", "cwd"), options.get("cwd")))
    problems: dict[str, str | None] = {}  # 10,000 agents in one directory: one stat
    issues = []
    for loc, value in fields:
        if isinstance(value, str):
            if value not in problems:
                problems[value] = _directory_problem(value)
            problem = problems[value]
        else:
            # A wrong type is the schema's to report, but options are not typed.
            untyped = value is not None and loc[0] == "backend"
            problem = f"expected the path of a directory{got(value, loc)}" if untyped else None
        if problem is not None:
            issues.append(PlanIssue(*locate(loc, sources, file), field_name(loc), problem))
    return issues


def _store_issues(
    data: Mapping[str, Any], sources: list[tuple[str, Lines]], file: str
) -> list[PlanIssue]:
    """The store URL of the (raw, merged) plan data, if it parses but cannot be opened
    where it points (a directory there): what `swarm run` would stop on."""
    store = data.get("store")
    url = store.get("url") if isinstance(store, dict) else None
    if not isinstance(url, str):
        return []
    try:
        problem = store_location_problem(parse_store_url(url))
    except StoreURLError:
        return []  # the schema reports it
    if problem is None:
        return []
    loc = ("store", "url")
    return [PlanIssue(*locate(loc, sources, file), field_name(loc), problem)]


def _directory_problem(value: str) -> str | None:
    path = Path(value)
    full = path if path.is_absolute() else Path.cwd() / path
    if full.is_dir():
        return None
    shown = value if path.is_absolute() else f"{value} (in the working directory: {full})"
    return f"not a directory: {shown}" if full.exists() else f"no such directory: {shown}"
