"""Reading plan files: YAML with the line of every field, the default configuration,
the checks a file must pass before it is read, and the checks of what it points at.

``parse_plan`` and ``load_plan`` turn a file into a :class:`~swarm.plan.Plan` or a
:class:`~swarm.errors.PlanError` whose issues name file, line and field.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .errors import PlanError, PlanIssue
from .plan import (
    PLAN_FILE_CONTEXT,
    Lines,
    Plan,
    _deep_merge,
    _field_name,
    _got,
    _issues,
    _locate,
    _raw_references,
    _reference_errors,
)

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
            if isinstance(value_node, yaml.ScalarNode):
                # An empty value (`agents:` then nothing) starts where the next token does.
                lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines, file) for i, item in enumerate(node.value)]
    # Constructed from the node itself: serializing an empty scalar and parsing it
    # again failed with "expected the node content" for a plain `key:` with no value.
    return yaml.constructor.SafeConstructor().construct_object(node)


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


def parse_plan(
    text: str,
    file: str = "<plan>",
    *,
    config: tuple[dict[str, Any], Lines, str] | None = None,
) -> Plan:
    """Validate plan text, merged over an optional ``(data, lines, file)`` configuration."""
    return _parse(text, file, config)


def _parse(
    text: str,
    file: str,
    config: tuple[dict[str, Any], Lines, str] | None,
    *,
    check_directories: bool = False,
) -> Plan:
    data, lines = read_yaml(text, file)
    sources = [(file, lines)]
    if config is not None:
        config_data, config_lines, config_file = config
        data = _deep_merge(config_data, data)
        sources.append((config_file, config_lines))
    plan: Plan | None = None
    issues: list[PlanIssue] = []
    try:
        plan = Plan.model_validate(data, context=PLAN_FILE_CONTEXT)
    except ValidationError as exc:
        issues = _issues(exc, sources, file)
        # Any other error stops validation before the plan-wide checks (unknown
        # fork_from agents, duplicate ids): run those on the raw data, so that one
        # report holds them all.
        references = _reference_errors(_raw_references(data))
        if references:
            found = ValidationError.from_exception_data("Plan", references)
            issues += [i for i in _issues(found, sources, file) if i not in issues]
    if check_directories:
        issues += _directory_issues(data, sources, file)
    if plan is None or issues:
        raise PlanError(issues)
    return plan


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


MAX_PLAN_BYTES = 10 * 1024 * 1024


def _read_text(path: Path) -> str:
    """The text of a plan or configuration file: a regular UTF-8 file of at most 10 MB."""
    file = str(path)

    def fail(message: str) -> PlanError:
        return PlanError([PlanIssue(file, None, "", message)])

    too_big = f"is larger than {MAX_PLAN_BYTES // 2**20} MB, the most a plan file may be"
    try:
        # Non-blocking, so that opening a FIFO does not wait for a writer; fstat refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise fail("no such file") from None
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from None
    try:
        mode, size = os.fstat(fd).st_mode, os.fstat(fd).st_size
        if stat.S_ISDIR(mode):
            raise fail("is a directory; expected a YAML file")
        if not stat.S_ISREG(mode):
            raise fail("not a regular file (a FIFO, device or socket); expected a YAML file")
        if size > MAX_PLAN_BYTES:
            raise fail(too_big)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(MAX_PLAN_BYTES + 1)  # it may have grown since fstat
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_PLAN_BYTES:
        raise fail(too_big)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"cannot read: not UTF-8 text (byte {exc.start}: {exc.reason})") from None


def load_plan(path: str | Path, *, config_path: Path | None = None) -> Plan:
    """Read and validate a plan file, merged over the default configuration.

    Unlike :func:`parse_plan` this also looks at the file system: every ``cwd``
    must be an existing directory.
    """
    path = Path(path)
    file = str(path)
    text = _read_text(path)
    config = load_config(config_path or default_config_path())
    return _parse(text, file, config, check_directories=True)


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
            problem = f"expected the path of a directory{_got(value, loc)}" if untyped else None
        if problem is not None:
            issues.append(PlanIssue(*_locate(loc, sources, file), _field_name(loc), problem))
    return issues


def _directory_problem(value: str) -> str | None:
    path = Path(value)
    full = path if path.is_absolute() else Path.cwd() / path
    if full.is_dir():
        return None
    shown = value if path.is_absolute() else f"{value} (in the working directory: {full})"
    return f"not a directory: {shown}" if full.exists() else f"no such directory: {shown}"
