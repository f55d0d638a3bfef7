"""The ``claude`` backend: real Claude Code sessions through claude-agent-sdk.

The base session is one ``query()`` from the plan's base prompt (or an existing
session id). Each agent is a real fork of it: ``resume=<parent>``,
``fork_session=True`` and ``resume_session_at=<uuid>`` when a fork point is set.
The child's real session id comes from the CLI's init message; every message
is persisted with the CLI's own uuid, so a later ``fork_at`` names it exactly.

A plan's ``allowed_tools`` is the agent's whole tool set: the listed tools run
without asking, any other ``tool_use`` is answered "No such tool available" and
never runs, whatever the ``permission_mode``; ``[]`` offers the model no tools at
all; unset keeps Claude Code's default tools (see :func:`tool_fields`).

Each assistant message is stored with its response's final usage (from the
``message_delta`` stream event), so an agent's messages sum to what the API
billed and to its result's usage. A CLI that fails says why on stderr, which
becomes the agent's error, redacted; credentials are checked before any CLI
starts (:func:`swarm.backends.check_claude_credentials`).

Every transcript line is also mirrored into the swarm store through the SDK's
``SessionStore`` protocol (:mod:`swarm.backends.claude._session_store`), so a fork or a
resume works where the local ``.jsonl`` is missing.

Retries are ours: the CLI runs with ``CLAUDE_CODE_MAX_RETRIES=0`` and a
transient failure (429, 529, 5xx, a refused or dropped connection) re-runs the
attempt under :func:`~swarm.backends._retries.call_with_retries`, each retry
reported to the sink. An attempt's session and messages reach the sink only
once the model has answered (or the failure is final), so a retried attempt
leaves no half session behind. The CLI does not pass ``retry-after`` on, so
waits are exponential backoff with jitter.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import trio
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKError,
    CLINotFoundError,
    ProcessError,
    ResultError,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    UserMessage,
    import_session_to_store,
    project_key_for_directory,
    query,
)
from claude_agent_sdk.types import SystemPromptFile

from ..._log import get_logger
from ..._redaction import environment_secrets, known_secrets
from ..._scratch import python_tempfiles_in, scratch_dir
from ...errors import APIError, BackendError, BackendUnavailable
from ...records import Message, Usage
from ...stores import Store
from .._protocol import AgentOutcome, AgentRequest, AgentSink, BaseRequest, BaseSession
from .._retries import call_with_retries
from .._retry_policy import RetryPolicy
from ._messages import (
    assistant_message,
    own_cost,
    result_error,
    stderr_reason,
    usage_of,
    user_message,
)
from ._session_store import StoreSessionStore
from ._trace import trace_env

log = get_logger("swarm.backends.claude")


def _not_the_exit_report(record: logging.LogRecord) -> bool:
    # The SDK logs a CLI's non-zero exit as "Fatal error in message reader: ... Check
    # stderr output for details"; we raise it with the stderr instead, so drop that.
    return not record.getMessage().startswith("Fatal error in message reader")


logging.getLogger("claude_agent_sdk._internal.query").addFilter(_not_the_exit_report)


@dataclasses.dataclass(frozen=True, slots=True)
class _Run:
    """What one finished CLI process produced."""

    session_id: str
    result: ResultMessage
    messages: list[Message]


class _Attempt:
    """One CLI process: its messages are held back until the model has answered.

    The CLI emits an assistant message per content block, carrying its response's
    ``message_start`` usage (output_tokens 1). The final usage comes later, in the
    response's ``message_delta`` stream event, which may even follow the result of
    a tool the response called. So from a streaming response's first message on,
    messages queue in arrival order until its ``message_delta``; its first message
    then gets that usage, and an agent's messages sum to what the API billed.
    """

    def __init__(self, sink: AgentSink, metadata: Mapping[str, Any], first_parent: str | None):
        self.sink = sink
        self.metadata = dict(metadata)
        self.session_id: str | None = None
        self.parent_uuid = first_parent
        self.pending: list[Message] = []
        self.messages: list[Message] = []
        self.live = False
        self.answered = False
        self.last_error_kind: str | None = None
        self.seen_responses: set[str] = set()
        # Responses streaming now, per thread (None: the main one, else the calling
        # subagent's tool_use id): their message id and message_start usage.
        self.streaming: dict[str | None, tuple[str, dict[str, Any]]] = {}
        # Messages not reported yet, in arrival order: (message, its response id, is an answer).
        self.queue: list[tuple[Message, str | None, bool]] = []
        # The CLI's last stderr lines: the only place it says why it exited non-zero.
        self.stderr: collections.deque[str] = collections.deque(maxlen=50)

    async def started(self, session_id: str, data: Mapping[str, Any]) -> None:
        self.session_id = session_id
        self.metadata.update(
            {
                k: data[k]
                for k in ("model", "cwd", "permissionMode", "claude_code_version")
                if k in data
            }
        )

    async def add(self, message: Message, *, answered: bool, response: str | None = None) -> None:
        """A message; ``response`` is an assistant message's API message id."""
        self.parent_uuid = message.uuid
        self.queue.append((message, response, answered))
        await self._drain()

    async def stream_event(self, event: Mapping[str, Any], thread: str | None) -> None:
        """Follow a response's stream: its start, then its final usage (message_delta)."""
        kind = event.get("type")
        if kind == "message_start":
            # A stream cut off without its message_delta keeps its message_start usage.
            self.streaming.pop(thread, None)
            body = event.get("message") or {}
            if body.get("id"):
                self.streaming[thread] = (str(body["id"]), dict(body.get("usage") or {}))
        elif kind == "message_delta" and thread in self.streaming:
            response, start = self.streaming.pop(thread)
            # Its usage is cumulative; fields it leaves out (or nulls) keep their start value.
            delta = {k: v for k, v in (event.get("usage") or {}).items() if v is not None}
            self._set_usage(response, usage_of({**start, **delta}))
        else:
            return
        await self._drain()

    def _set_usage(self, response: str, usage: Usage) -> None:
        for index, (message, of, answered) in enumerate(self.queue):
            if of == response:  # the response's first message carries its usage
                self.queue[index] = (dataclasses.replace(message, usage=usage), of, answered)
                return

    async def _drain(self) -> None:
        """Report queued messages up to the first of a response still streaming."""
        open_responses = {response for response, _ in self.streaming.values()}
        while self.queue and self.queue[0][1] not in open_responses:
            message, _, answered = self.queue.pop(0)
            self.messages.append(message)
            if self.live:
                await self.sink.message(message)
            else:
                self.pending.append(message)
                self.answered = self.answered or answered
        if self.answered:
            await self._go_live()

    async def _go_live(self) -> None:
        if self.live or self.session_id is None:
            return
        self.live = True
        await self.sink.session_started(self.session_id, metadata=self.metadata)
        for message in self.pending:
            await self.sink.message(message)
        self.pending.clear()

    async def flush(self) -> None:
        """Report the session and every held message (idempotent)."""
        self.streaming.clear()
        self.answered = True
        await self._drain()


class ClaudeBackend:
    """Agents as real Claude Code sessions forked off a base session.

    ``env`` is layered over ``os.environ`` for every CLI process (the rehearsal
    passes :func:`swarm.mockapi.cli_env` here); an agent's own ``env`` goes on top.
    ``session_store=False`` keeps transcripts on local disk only.
    """

    name = "claude"

    def __init__(
        self,
        store: Store,
        *,
        env: Mapping[str, str] | None = None,
        model: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        cli_path: str | os.PathLike[str] | None = None,
        session_store: bool = True,
        retry: RetryPolicy | None = None,
        preset_system_prompt: bool = False,
        exclude_dynamic_sections: bool = True,
        bare: bool = False,
    ) -> None:
        self._store = store
        self._preset = preset_system_prompt
        self._exclude_dynamic = exclude_dynamic_sections
        self._bare = bare
        self._env = dict(env or {})
        self._model = model
        self._cwd = Path(cwd) if cwd is not None else None
        self._cli_path = cli_path
        self._retry = retry or RetryPolicy()
        self.session_store = StoreSessionStore(store) if session_store else None
        # Each session's last cumulative total_cost_usd, to turn a child's into a delta.
        self._totals: dict[str, float] = {}

    @property
    def cli_env(self) -> dict[str, str]:
        """What is layered over the environment of each CLI (an engine running agents on
        other machines gives it to them: a rehearsal's fake API)."""
        return dict(self._env)

    # --- options -------------------------------------------------------------------

    def _cwd_of(self, cwd: str | None) -> Path:
        return Path(cwd) if cwd is not None else (self._cwd or Path.cwd())

    def _options(
        self,
        *,
        cwd: Path,
        env: Mapping[str, str],
        model: str | None,
        system_prompt: str | None,
        **fields: Any,
    ) -> ClaudeAgentOptions:
        return ClaudeAgentOptions(
            cwd=cwd,
            env={**self._env, **env, "CLAUDE_CODE_MAX_RETRIES": "0"},
            model=model or self._model,
            system_prompt=self._system_prompt(system_prompt),
            setting_sources=[],
            cli_path=Path(self._cli_path) if self._cli_path is not None else None,
            session_store=self.session_store.as_sdk_store() if self.session_store else None,
            # Eager: a crash mid-agent loses at most the frame in flight, not a whole turn.
            session_store_flush="eager",
            # The CLI echoes our prompt back with its uuid, so the store keeps it too.
            extra_args={"replay-user-messages": None, **({"bare": None} if self._bare else {})},
            # Stream events carry each response's final usage (see _Attempt).
            include_partial_messages=True,
            **fields,
        )

    def _system_prompt(self, system_prompt: str | None) -> Any:
        """The agent's own system prompt, or Claude Code's preset with it appended.

        The preset renders per-machine sections (the cwd among them) into the system
        prompt; with the snapshot off (``--bare`` turns it off) a fork in another cwd then
        shares nothing after the tools with its base and pays the whole history again
        (8.8x the base + tasks, benchmarks/README.md). Excluding them (the default) moves
        them after the cached prefix.
        """
        if not self._preset:
            return system_prompt
        preset: dict[str, Any] = {"type": "preset", "preset": "claude_code"}
        if system_prompt:
            preset["append"] = system_prompt
        if self._exclude_dynamic:
            preset["exclude_dynamic_sections"] = True
        return preset

    # --- one CLI process ---------------------------------------------------------------

    async def _run_once(self, prompt: str, options: ClaudeAgentOptions, attempt: _Attempt) -> _Run:
        # Every temporary file of this attempt goes to swarm's scratch folder, swept if a
        # kill -9 leaves it: the SDK's claude-resume-* copy of the session, the CLI's own.
        with scratch_dir() as scratch, python_tempfiles_in(scratch):
            options = dataclasses.replace(
                options,
                env={"CLAUDE_CODE_TMPDIR": str(scratch), **options.env},
                system_prompt=_system_prompt_arg(options.system_prompt, scratch),
                max_buffer_size=cli_message_limit(prompt),
                # With a callback the SDK pipes the CLI's stderr to us, not to the terminal.
                stderr=attempt.stderr.append,
            )
            return await self._run_cli(prompt, options, attempt)

    async def _run_cli(self, prompt: str, options: ClaudeAgentOptions, attempt: _Attempt) -> _Run:
        result: ResultMessage | None = None
        secrets = [*known_secrets(), *environment_secrets(options.env)]

        def why(extra: str | None = None) -> str:
            return stderr_reason([*attempt.stderr, extra or ""], secrets)

        try:
            items = query(prompt=prompt, options=options)
            try:
                async for item in items:
                    session_id = attempt.session_id
                    if isinstance(item, SystemMessage) and item.subtype == "init":
                        log.debug("claude.started", session_id=item.data.get("session_id"))
                        await attempt.started(str(item.data["session_id"]), item.data)
                    elif isinstance(item, StreamEvent):
                        await attempt.stream_event(item.event, item.parent_tool_use_id)
                    elif isinstance(item, UserMessage) and session_id is not None:
                        message = user_message(item, session_id, attempt.parent_uuid)
                        if message is not None:
                            await attempt.add(message, answered=False)
                    elif isinstance(item, AssistantMessage) and session_id is not None:
                        if item.error is not None:
                            attempt.last_error_kind = item.error
                        first = item.message_id not in attempt.seen_responses
                        attempt.seen_responses.add(item.message_id or "")
                        message = assistant_message(
                            item, session_id, attempt.parent_uuid, count_usage=first
                        )
                        if message is not None:
                            answered = item.error is None
                            await attempt.add(message, answered=answered, response=item.message_id)
                    elif isinstance(item, ResultMessage):
                        result = item
            finally:
                # The SDK stops the CLI process in aclose; do it even when cancelled.
                with trio.move_on_after(10) as cleanup:
                    cleanup.shield = True
                    await cast(Any, items).aclose()
        except ResultError as exc:
            raise _with_reason(result_error(exc.data, attempt.last_error_kind), why()) from None
        except CLINotFoundError as exc:
            raise BackendUnavailable(f"the Claude Code CLI was not found: {exc}") from None
        except ProcessError as exc:
            raise BackendError(
                f"Claude Code exited with code {exc.exit_code}: "
                f"{why(exc.stderr) or 'it wrote no reason to stderr'} (resume={options.resume})"
            ) from None
        except ClaudeSDKError as exc:
            raise BackendError(f"claude-agent-sdk: {exc}{_suffix(why())}") from None
        if result is None or attempt.session_id is None:
            raise BackendError(f"Claude Code ended without a result message{_suffix(why())}")
        if result.is_error:
            error = result_error(dataclasses.asdict(result), attempt.last_error_kind)
            raise _with_reason(error, why())
        if attempt.stderr:
            # Succeeded, but said something (e.g. an unrecognized model name that
            # the fake API accepts and the real one would refuse): keep it visible.
            log.warning("claude.stderr", session_id=attempt.session_id, stderr=why())
        await attempt.flush()
        return _Run(attempt.session_id, result, attempt.messages)

    async def _run(
        self,
        sink: AgentSink,
        prompt: str,
        options: ClaudeAgentOptions,
        metadata: Mapping[str, Any],
        first_parent: str | None,
    ) -> _Run:
        attempts: list[_Attempt] = []

        async def once() -> _Run:
            attempts.append(_Attempt(sink, metadata, first_parent))
            return await self._run_once(prompt, options, attempts[-1])

        try:
            return await call_with_retries(once, sink, self._retry)
        except BackendError:
            # A final failure keeps its session in the store, to show what happened.
            if attempts:
                await attempts[-1].flush()
            raise

    # --- the Backend protocol ------------------------------------------------------------

    async def open_base(self, request: BaseRequest, sink: AgentSink) -> BaseSession:
        cwd = self._cwd_of(request.cwd)
        if request.session_id is not None:
            return await self._existing_base(request, cwd, sink)
        tools = tool_fields(request.allowed_tools) if request.allowed_tools is not None else {}
        options = self._options(
            cwd=cwd,
            env=request.env,
            model=request.model,
            system_prompt=request.system_prompt,
            **tools,
        )
        run = await self._run(sink, request.prompt or "", options, self._metadata(cwd), None)
        total = float(run.result.total_cost_usd or 0.0)
        self._totals[run.session_id] = total
        return BaseSession(run.session_id, usage=usage_of(run.result.usage), cost_usd=total)

    async def run_agent(self, request: AgentRequest, sink: AgentSink) -> AgentOutcome:
        cwd = self._cwd_of(request.cwd)
        own = request.resume_session_id
        parent = own or request.parent_session_id
        if self.session_store is not None:
            # The SDK finds a stored session under the project key of the agent's cwd.
            await self.session_store.copy_to_project(parent, project_key_for_directory(cwd))
        fields: dict[str, Any] = {"resume": parent, "fork_session": own is None}
        if own is None and request.fork_point is not None:
            fields["resume_session_at"] = request.fork_point
        if request.max_turns is not None:
            fields["max_turns"] = request.max_turns
        if request.allowed_tools is not None:
            fields.update(tool_fields(request.allowed_tools))
        if request.permission_mode is not None:
            fields["permission_mode"] = cast(Any, request.permission_mode)
        options = self._options(
            cwd=cwd,
            env={**request.env, **trace_env(request.trace_context)},
            model=request.model,
            system_prompt=request.system_prompt,
            **fields,
        )
        metadata = {**self._metadata(cwd), "agent_id": request.agent_id}
        first_parent = None if own is not None else request.fork_point
        run = await self._run(sink, request.prompt, options, metadata, first_parent)
        total = float(run.result.total_cost_usd or 0.0)
        cost = own_cost(run.result, self._totals.get(parent))
        self._totals[run.session_id] = total
        return AgentOutcome(
            session_id=run.session_id,
            output=run.result.result or _last_text(run.messages),
            turns=run.result.num_turns,
            usage=usage_of(run.result.usage),
            cost_usd=cost,
        )

    async def aclose(self) -> None:
        return None

    # --- an existing base session ----------------------------------------------------------

    def _metadata(self, cwd: Path) -> dict[str, Any]:
        return {"backend": "claude", "cwd": str(cwd), "project_key": project_key_for_directory(cwd)}

    async def _existing_base(self, request: BaseRequest, cwd: Path, sink: AgentSink) -> BaseSession:
        session_id = request.session_id
        assert session_id is not None
        known = await self._store.get_session(session_id)
        messages = await self._store.get_messages(session_id) if known else []
        if known is None:
            entries = await self._transcript(session_id)
            if entries is None:
                raise BackendError(
                    f"base session {session_id}: not in the store and no Claude Code transcript "
                    "of it was found (looked under CLAUDE_CONFIG_DIR or ~/.claude/projects)"
                )
            messages = _messages_of(session_id, entries)
            await sink.session_started(
                session_id, metadata={**self._metadata(cwd), "imported": True}
            )
            for message in messages:
                await sink.message(message)
        if request.at is not None and request.at not in {m.uuid for m in messages}:
            raise BackendError(
                f"base.at: message {request.at} is not a message of session {session_id}"
            )
        return BaseSession(session_id, fork_point=request.at)

    async def _transcript(self, session_id: str) -> list[dict[str, Any]] | None:
        """The session's transcript lines from the store, importing a local file first."""
        adapter = self.session_store
        if adapter is None:
            return None
        projects = await adapter.store.transcript_projects(session_id)
        if not projects:
            try:
                await import_session_to_store(session_id, adapter.as_sdk_store())
            except (FileNotFoundError, ValueError):
                return None
            projects = await adapter.store.transcript_projects(session_id)
        return await adapter.store.load_transcript(projects[0], session_id) if projects else None


#: The longest system prompt given on the CLI's command line: Linux takes at most
#: 128 KiB in one argument (MAX_ARG_STRLEN); a longer one goes through a file.
MAX_ARG_BYTES = 100_000
#: The SDK reads each of the CLI's JSON lines whole, 1 MiB at most by default. The CLI
#: echoes an agent's prompt back in one line, JSON-escaped (at most six bytes for one:
#: ``\u0001``), so the limit grows with the prompt, never below what replies and tool
#: results need.
MIN_CLI_MESSAGE_BYTES = 8 * 2**20


def cli_message_limit(prompt: str) -> int:
    """The SDK's buffer for one CLI message of an attempt whose prompt is ``prompt``."""
    return max(MIN_CLI_MESSAGE_BYTES, 6 * len(prompt.encode("utf-8", "surrogatepass")) + 2**20)


def _system_prompt_arg(system_prompt: Any, scratch: Path) -> Any:
    """A system prompt too long for the command line, moved to a file in ``scratch``."""
    if not isinstance(system_prompt, str):
        return system_prompt
    encoded = system_prompt.encode("utf-8", "surrogatepass")
    if len(encoded) <= MAX_ARG_BYTES:
        return system_prompt
    fd, path = tempfile.mkstemp(prefix="system-prompt-", suffix=".md", dir=scratch)
    with os.fdopen(fd, "wb") as file:
        file.write(encoded)
    return SystemPromptFile(type="file", path=path)


def _suffix(reason: str) -> str:
    return f" (Claude Code said: {reason})" if reason else ""


def _with_reason(error: BackendError, reason: str) -> BackendError:
    """A failed result's error with the CLI's stderr; API errors already carry theirs."""
    if not reason or isinstance(error, APIError):
        return error
    return BackendError(f"{error}{_suffix(reason)}")


def tool_fields(allowed: Sequence[str]) -> dict[str, list[str]]:
    """The SDK options that make a plan's ``allowed_tools`` the agent's whole tool set.

    The SDK's own ``allowed_tools`` only pre-approves: every default tool stays
    available, and e.g. ``acceptEdits`` still lets a Bash ``touch`` run. ``tools``
    (the CLI's ``--tools``) limits the built-in tools the model is offered at all
    (``[]``: none), and a ``tool_use`` of any other tool is answered "No such tool
    available" without running. ``--tools`` takes bare names, so ``Bash(git diff:*)``
    offers Bash while only that rule is pre-approved (other commands then need a
    permission no one can grant headless, and are refused).
    """
    names = list(dict.fromkeys(entry.split("(", 1)[0].strip() for entry in allowed))
    return {"tools": names, "allowed_tools": list(allowed)}


def _messages_of(session_id: str, entries: list[dict[str, Any]]) -> list[Message]:
    """User and assistant messages of an imported transcript, in file order."""
    messages: list[Message] = []
    # One line per content block, each with the whole response's usage: count it once.
    counted: set[str] = set()
    for entry in entries:
        body = entry.get("message")
        kind = entry.get("type")
        if kind not in ("user", "assistant") or not isinstance(body, dict) or entry.get("isMeta"):
            continue
        content = body.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        text = "\n".join(b.get("text", "") for b in blocks if isinstance(b, dict))
        response = str(body.get("id") or entry.get("uuid"))
        first = kind == "assistant" and response not in counted
        counted.add(response)
        messages.append(
            Message(
                uuid=str(entry.get("uuid")),
                session_id=session_id,
                role=str(kind),
                content=text,
                parent_uuid=entry.get("parentUuid"),
                usage=usage_of(body.get("usage")) if first else Usage(),
                raw={"content": blocks},
            )
        )
    return messages


def _last_text(messages: list[Message]) -> str:
    for message in reversed(messages):
        if message.role == "assistant" and message.content:
            return message.content
    return ""
