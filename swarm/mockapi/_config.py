"""Scripting the fake API: reply rules, injected errors, latency, and loading them from a file."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from swarm._yamlfile import locate, read_yaml_file
from swarm.errors import PlanError, PlanIssue

ErrorType = Literal[
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "overloaded_error",
    "connection_drop",
]

#: HTTP status the real API uses for each error type; ``connection_drop`` answers 200 then
#: closes the socket mid-body.
ERROR_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
    "connection_drop": 200,
}


class _Frozen(BaseModel):
    # extra="forbid" turns a misspelt key in a rules file into an error instead of a no-op.
    model_config = ConfigDict(frozen=True, extra="forbid")


class LatencyModel(_Frozen):
    """How slowly a reply arrives: ``ttft`` seconds to the first token, then ``tps`` tokens/s.

    ``tps=None`` (or 0) sends all output at once after ``ttft``.  Streams send ``message_start``
    at once and the first ``content_block_delta`` after ``ttft``; JSON replies arrive whole
    after ``ttft + output_tokens / tps``.
    """

    ttft: float = Field(default=0.0, ge=0.0)
    tps: float | None = Field(default=None, ge=0.0)

    def delay_for(self, tokens: int) -> float:
        """Seconds from the request to the moment ``tokens`` output tokens have been sent."""
        if not self.tps:
            return self.ttft
        return self.ttft + tokens / self.tps


class ErrorSpec(_Frozen):
    """One injected failure, in the real API's error shape.

    ``retry_after`` (seconds) is sent as the ``retry-after`` header (429s and 529s only when
    set).  ``connection_drop`` sends the response head, ``message_start`` and
    ``after_deltas`` content deltas (half the body for JSON replies), then closes the socket.
    """

    type: ErrorType
    message: str | None = None
    retry_after: float | None = Field(default=None, ge=0.0)
    after_deltas: int = Field(default=2, ge=0)

    @property
    def status(self) -> int:
        """The HTTP status answered for this error."""
        return ERROR_STATUS[self.type]

    def body(self) -> dict[str, Any]:
        """The JSON error body, e.g. ``{"type": "error", "error": {...}}``."""
        message = self.message or f"Injected {self.type} from the fake Messages API"
        return {"type": "error", "error": {"type": self.type, "message": message}}


class ToolUse(_Frozen):
    """A ``tool_use`` block the fake model emits; the id is derived from the request if unset."""

    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None

    @classmethod
    def write_file(cls, file_path: str, content: str) -> ToolUse:
        """A Claude Code ``Write`` call, which makes the real CLI create ``file_path``."""
        return cls(name="Write", input={"file_path": file_path, "content": content})


class ReplyRule(_Frozen):
    """When ``match`` (and ``system``) match the prompt, answer with this rule's reply.

    ``match`` is a regex searched (``re.DOTALL``) in the text of the last user message:
    its text blocks plus the text of its ``tool_result`` blocks, with Claude Code's
    ``<system-reminder>`` blocks removed.  ``system`` is searched in the system prompt text.
    A rule with neither matches every request.

    By default a rule answers only fresh user turns (the last user message carries no
    ``tool_result``), so a ``tool_use`` rule cannot loop: the follow-up request that carries
    the tool result falls through to the default reply, which ends the turn.  Set
    ``after_tool_result`` to script those follow-ups too.

    The reply is ``text`` and/or ``tool_uses`` (empty both: the default rehearsal text).  With
    ``error`` the rule fails instead: on every match, or only on the first ``fail_first``
    matches, after which it replies normally.  ``times`` retires the rule after that many
    matches (injected failures included).  ``latency`` replaces the global latency model
    for this rule.
    """

    name: str | None = None
    match: str | None = None
    system: str | None = None
    after_tool_result: bool = False
    text: str | None = None
    tool_uses: tuple[ToolUse, ...] = ()
    error: ErrorSpec | None = None
    fail_first: int | None = Field(default=None, ge=0)
    times: int | None = Field(default=None, ge=1)
    latency: LatencyModel | None = None

    @field_validator("match", "system")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a valid regular expression: {error}") from error
        return value

    @model_validator(mode="after")
    def _fail_first_needs_error(self) -> ReplyRule:
        if self.fail_first is not None and self.error is None:
            raise ValueError("fail_first needs an error to inject")
        return self

    @cached_property
    def compiled_match(self) -> re.Pattern[str] | None:
        return re.compile(self.match, re.DOTALL) if self.match is not None else None

    @cached_property
    def compiled_system(self) -> re.Pattern[str] | None:
        return re.compile(self.system, re.DOTALL) if self.system is not None else None

    def matches(self, prompt: str, system: str, *, has_tool_result: bool) -> bool:
        """Whether this rule applies to a request with this prompt text and system text."""
        if has_tool_result and not self.after_tool_result:
            return False
        if self.compiled_match is not None and not self.compiled_match.search(prompt):
            return False
        return self.compiled_system is None or self.compiled_system.search(system) is not None

    def label(self, index: int) -> str:
        """The rule's name, or ``rule[<index>]`` in the request log."""
        return self.name or f"rule[{index}]"


def _default_error_choices() -> tuple[ErrorSpec, ...]:
    return (ErrorSpec(type="rate_limit_error", retry_after=0), ErrorSpec(type="overloaded_error"))


class MockAPIConfig(_Frozen):
    """Everything that scripts a fake Messages API server.

    Rules are tried in order; the first that matches decides.  Independently, each
    ``/v1/messages`` request not already failed by a rule fails with probability
    ``error_rate``, drawing uniformly from ``error_choices`` with a ``random.Random(seed)``.
    ``chunk_tokens`` is how many output tokens each streamed delta carries.
    ``max_request_mb`` caps a request body, as the real API's 32 MB limit does: a larger
    one is answered 413 ``request_too_large`` without being read.
    """

    rules: tuple[ReplyRule, ...] = ()
    latency: LatencyModel = LatencyModel()
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_choices: tuple[ErrorSpec, ...] = Field(default_factory=_default_error_choices)
    seed: int = 0
    chunk_tokens: int = Field(default=4, ge=1)
    cache: bool = True
    max_request_mb: float = Field(default=32.0, gt=0, allow_inf_nan=False)

    @property
    def max_request_bytes(self) -> int:
        """The largest request body accepted; a larger one is answered 413 unread."""
        return int(self.max_request_mb * 2**20)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> MockAPIConfig:
        """Load a YAML or JSON file: a mapping of these fields, or just a list of rules.

        ``overrides`` (e.g. from command-line flags) win over the file's values.  Raises
        ``PlanError`` naming the file and the offending field.
        """
        path = Path(path)
        file = str(path)
        # The plan loader's guards (size, aliases, regular files only): a rules file is
        # user input too, and `--rehearse-config` reads one for every rehearsal.
        data, lines = read_yaml_file(path, "rules file")
        if data is None:
            data = {}
        if isinstance(data, list):
            data = {"rules": data}
            lines = {("rules", *loc): line for loc, line in lines.items()}
        if not isinstance(data, dict):
            issue = PlanIssue(file, 1, "", "expected a mapping or a list of rules")
            raise PlanError([issue])
        data.update(overrides)
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            issues = []
            for e in error.errors():
                loc = tuple(e["loc"])
                where, line = locate(loc, [(file, lines)], file)
                issues.append(PlanIssue(where, line, ".".join(str(p) for p in loc), e["msg"]))
            raise PlanError(issues) from None
