"""Reading the YAML files a user hands swarm (plans, configurations, the fake API's rules)
with the same guards for all: a regular UTF-8 file of at most 10 MB, safe YAML only, at
most 200,000 values once aliases are expanded, and the line of every value kept.

Errors are :class:`~swarm.errors.PlanError` issues naming the file (and the line where
there is one), so every caller reports them as it reports a bad plan.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from .errors import PlanError, PlanIssue

#: The line (1-based) of each value, by its path: ``("agents", 0, "id")``.
Lines = dict[tuple[str | int, ...], int]

MAX_YAML_BYTES = 10 * 1024 * 1024
# Aliases can expand a file of a few hundred bytes into billions of values.
MAX_YAML_VALUES = 200_000


def read_yaml_file(path: Path, what: str = "YAML file") -> tuple[Any, Lines]:
    """Read and parse a YAML (or JSON) file; ``what`` names it in errors ("plan file")."""
    return parse_yaml(read_text(path, what), str(path))


def read_text(path: Path, what: str = "YAML file") -> str:
    """The text of a regular UTF-8 file of at most :data:`MAX_YAML_BYTES`."""
    file = str(path)

    def fail(message: str) -> PlanError:
        return PlanError([PlanIssue(file, None, "", message)])

    too_big = f"is larger than {MAX_YAML_BYTES // 2**20} MB, the most a {what} may be"
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
            raise fail(f"is a directory; expected a {what}")
        if not stat.S_ISREG(mode):
            raise fail(f"not a regular file (a FIFO, device or socket); expected a {what}")
        if size > MAX_YAML_BYTES:
            raise fail(too_big)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(MAX_YAML_BYTES + 1)  # it may have grown since fstat
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_YAML_BYTES:
        raise fail(too_big)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"cannot read: not UTF-8 text (byte {exc.start}: {exc.reason})") from None


def parse_yaml(text: str, file: str) -> tuple[Any, Lines]:
    """Parse YAML text into plain data (``None`` for an empty document) plus its lines."""
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
        return None, {}
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
    return data, lines


def _construct(node: yaml.Node, path: tuple[str | int, ...], lines: Lines, file: str) -> Any:
    """Build plain Python data from a YAML node, noting each path's line number."""
    lines[path] = node.start_mark.line + 1
    if len(lines) > MAX_YAML_VALUES:
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


def locate(
    loc: tuple[str | int, ...], sources: list[tuple[str, Lines]], fallback_file: str
) -> tuple[str, int | None]:
    """The file and line a field comes from, among ``(file, lines)`` sources."""
    # The source that knows the longest prefix of the field's path wins; the
    # plan comes first, so it wins ties over the configuration beneath it.
    file, line, depth = fallback_file, None, -1
    for source_file, lines in sources:
        probe = loc
        while probe and probe not in lines:
            probe = probe[:-1]
        if probe in lines and len(probe) > depth:
            file, line, depth = source_file, lines[probe], len(probe)
    return file, line
