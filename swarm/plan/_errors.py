"""Plan-file errors in plan terms: pydantic's validation errors become plan issues that
name the file, the line and the field, and say what was expected (never a secret)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from .._names import SAFE_ID_RULE
from .._redaction import REDACTED, looks_secret, redact_text
from .._yamlfile import Lines, locate
from ..errors import PlanIssue

#: The plan's models by class name: what a mapping expected somewhere holds.
Models = Mapping[str, type[BaseModel]]


def blame_flag(issue: PlanIssue, flags: Mapping[str, str]) -> PlanIssue:
    """``issue`` as the error of the flag that set its field, or of its section."""
    for field, flag in flags.items():
        if issue.field == field:
            return PlanIssue(flag, None, "", issue.message)
    for field, flag in flags.items():
        if issue.field.split(".")[0].split("[")[0] == field.split(".")[0]:
            return PlanIssue(flag, None, issue.field, issue.message)
    return issue


def plan_error(
    loc: tuple[str | int, ...], value: Any, message: str, *, show_input: bool = True
) -> InitErrorDetails:
    context = {"message": message, "show_input": show_input}
    return InitErrorDetails(
        type=PydanticCustomError("plan", "{message}", context), loc=loc, input=value
    )


AGENT_SHAPE = "a mapping with at least id and prompt"
# What a mapping expected in a place is, in plan terms, by the model that reads it.
MAPPING_OF = {
    "AgentSpec": f"each agent is {AGENT_SHAPE}",
    "BaseSpec": "expected a mapping with `prompt` (or `session`, and optionally `at`)",
    "ForkFrom": "expected a mapping with `agent` (and optionally `checkpoint`)",
}


def got(value: Any, loc: tuple[str | int, ...]) -> str:
    """The bad value, quoted back; never a secret: a secret-shaped value (or the part of it
    that is) and the value of a secret-named env entry or option are shown redacted."""
    if value is None:
        return " (got null)"
    named = any(
        parent in ("env", "options") and isinstance(name, str) and looks_secret(name)
        for parent, name in itertools.pairwise(loc)
    )
    return f" (got {REDACTED})" if named else f" (got {redact_text(repr(value))})"


def describe(error: Any, models: Models) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    value = error.get("input")
    if kind == "extra_forbidden":
        return "unknown field (check its spelling)"
    if kind == "missing":
        return "required field is missing"
    if loc == ("agents",) and kind == "list_type":
        return f"expected a list of agents, each {AGENT_SHAPE}" + got(value, loc)
    if loc == ("agents",) and kind == "too_short":
        return "needs at least one agent"
    if kind == "model_type":
        name = str((error.get("ctx") or {}).get("class_name", ""))
        model = models.get(name)
        fields = ", ".join(model.model_fields) if model is not None else ""
        expected = MAPPING_OF.get(name) or f"expected a mapping of {fields}"
        return expected + ("" if isinstance(value, dict | list) else got(value, loc))
    if kind == "dict_type":
        return "expected a mapping" + ("" if isinstance(value, list) else got(value, loc))
    if kind == "list_type":
        return "expected a list" + ("" if isinstance(value, dict) else got(value, loc))
    if kind == "plan" and not (error.get("ctx") or {}).get("show_input", True):
        return str(error["msg"])
    if kind == "string_pattern_mismatch":
        return SAFE_ID_RULE + got(error["input"], loc)
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if "input" in error and not isinstance(value, dict | list):
        message += got(value, loc)
    return message


def issues_of(
    exc: ValidationError, sources: list[tuple[str, Lines]], fallback_file: str, models: Models
) -> list[PlanIssue]:
    """The plan issues of a validation error, each at its file and line among ``sources``."""
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
        issues.append(PlanIssue(file, line, field_name(loc), redact_text(describe(error, models))))
    return issues


def field_name(loc: tuple[str | int, ...]) -> str:
    parts = (f"[{p}]" if isinstance(p, int) else str(p) or "''" for p in loc)
    return ".".join(parts).replace(".[", "[")
