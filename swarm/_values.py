"""The checked value types of plan fields, shared by the plan's models and by each
backend's options (which the plan validates, and which the backends declare).

Numbers are what they say: YAML's ``true``, ``"5"`` or ``5.5`` is not a count, and a
timeout of ``.inf`` or ``.nan`` is no timeout. Some rules apply to plan files only
(validated with :data:`PLAN_FILE_CONTEXT`), not to a stored plan read back: a plan
stored with an earlier run must still load, to be resumed or replayed, even if it was
written before the rule existed.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, AllowInfNan, Field, Strict, ValidationInfo
from pydantic_core import PydanticCustomError

# Validation context of plan files: turns on the rules stored plans are spared.
PLAN_FILE_CONTEXT: dict[str, Any] = {"plan_file": True}


def from_plan_file(info: ValidationInfo) -> bool:
    """Whether the value being validated comes from a plan file (or the command line)."""
    return isinstance(info.context, dict) and bool(info.context.get("plan_file"))


def rule(message: str, *, show_input: bool = True) -> PydanticCustomError:
    """A validation error whose message is shown as is (with the value unless told not)."""
    return PydanticCustomError("plan", "{message}", {"message": message, "show_input": show_input})


Int = Annotated[int, Strict()]
Number = Annotated[float, Strict(), AllowInfNan(False)]
Bool = Annotated[bool, Strict()]


def _model_name(value: str) -> str:
    if not value.strip():
        raise ValueError("expected a model name such as claude-sonnet-4-6, or no model field")
    return value


ModelName = Annotated[str, AfterValidator(_model_name), Field(json_schema_extra={"minLength": 1})]


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value


HttpURL = Annotated[str, AfterValidator(_http_url)]
NonEmpty = Annotated[str, Field(min_length=1)]
