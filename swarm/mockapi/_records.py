"""The request log, and reading the text a rule matches out of a request."""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Claude Code wraps context it adds to user turns in these tags; rules and the default
# reply's hash should see what the user asked, not the date or the tool list.
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>\s*", re.DOTALL)

#: Header names whose values never reach the log.
SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})

#: Headers that identify the calling Claude Code session, first present wins.
SESSION_HEADERS = ("x-claude-code-session-id", "x-session-id", "anthropic-session-id")


def block_text(block: Any) -> str:
    """The text of one content block: text blocks, and the text inside ``tool_result``."""
    if isinstance(block, str):
        return block
    if not isinstance(block, Mapping):
        return ""
    if block.get("type") == "text":
        return str(block.get("text", ""))
    if block.get("type") == "tool_result":
        inner = block.get("content", "")
        if isinstance(inner, list):
            return "\n".join(block_text(b) for b in inner)
        return str(inner)
    return ""


def message_text(message: Any, *, strip_reminders: bool = True) -> str:
    """The text of one message's content, optionally without ``<system-reminder>`` blocks."""
    if not isinstance(message, Mapping):
        return ""
    content = message.get("content", "")
    parts = [content] if isinstance(content, str) else [block_text(b) for b in content or ()]
    text = "\n".join(p for p in parts if p)
    return _REMINDER.sub("", text).strip() if strip_reminders else text


def has_tool_result(message: Any) -> bool:
    """Whether a message carries a ``tool_result`` block."""
    if not isinstance(message, Mapping) or not isinstance(message.get("content"), list):
        return False
    return any(
        isinstance(b, Mapping) and b.get("type") == "tool_result" for b in message["content"]
    )


def last_user_message(messages: Sequence[Any]) -> Any:
    """The last message with role ``user``, or ``None``."""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return message
    return None


def system_text(system: Any) -> str:
    """The system prompt as text, whether given as a string or as text blocks."""
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(block_text(b) for b in system)
    return ""


@dataclass
class RequestRecord:
    """One request the fake API received, filled in as it is answered.

    Times are ``trio.current_time()`` (monotonic, and virtual under a ``MockClock``).
    ``status`` is ``None`` while the request is in flight; a dropped connection is
    logged with status 200 and ``error="connection_drop"``.  ``disconnected`` means the
    client hung up before the response was complete.
    """

    index: int
    method: str
    path: str
    query: str
    headers: dict[str, str]
    started: float
    client: tuple[str, int] | None = None
    model: str | None = None
    messages: list[Any] = field(default_factory=list)
    system: Any = None
    tools: list[str] = field(default_factory=list)
    stream: bool = False
    body: Any = None
    status: int | None = None
    usage: dict[str, int] | None = None
    error: str | None = None
    rule: str | None = None
    content: list[dict[str, Any]] | None = None
    disconnected: bool = False
    ended: float | None = None
    body_bytes: int = 0

    @property
    def session_id(self) -> str | None:
        """The calling Claude Code session id, from ``x-claude-code-session-id`` or alike."""
        for name in SESSION_HEADERS:
            if name in self.headers:
                return self.headers[name]
        return None

    @property
    def retry_count(self) -> int:
        """The client's own retry counter (``x-stainless-retry-count``), 0 if absent.

        Claude Code retries in its own loop and always sends 0 here; count the requests
        of one session instead.
        """
        try:
            return int(self.headers.get("x-stainless-retry-count", "0"))
        except ValueError:
            return 0

    @property
    def betas(self) -> list[str]:
        """The ``anthropic-beta`` flags sent, in order."""
        raw = self.headers.get("anthropic-beta", "")
        return [b.strip() for b in raw.split(",") if b.strip()]

    @property
    def is_messages(self) -> bool:
        """Whether this was a ``POST /v1/messages`` (not count_tokens, not a probe)."""
        return self.method == "POST" and self.path == "/v1/messages"

    @property
    def last_user_text(self) -> str:
        """The text of the last user message, without ``<system-reminder>`` blocks."""
        return message_text(last_user_message(self.messages))

    @property
    def user_texts(self) -> list[str]:
        """The text of every user message, in order, without ``<system-reminder>`` blocks."""
        return [
            message_text(m)
            for m in self.messages
            if isinstance(m, Mapping) and m.get("role") == "user"
        ]

    @property
    def reply_text(self) -> str:
        """The text blocks of the reply, joined (empty for errors and non-message calls)."""
        return "".join(block_text(b) for b in self.content or () if b.get("type") == "text")

    @property
    def duration(self) -> float | None:
        """Seconds from receipt to the last byte sent, once finished."""
        return None if self.ended is None else self.ended - self.started

    def mentions(self, pattern: str | re.Pattern[str]) -> bool:
        """Whether ``pattern`` (substring, or compiled regex) occurs in any message's text."""
        texts = [message_text(m, strip_reminders=False) for m in self.messages]
        texts.append(system_text(self.system))
        if isinstance(pattern, re.Pattern):
            return any(pattern.search(t) for t in texts)
        return any(pattern in t for t in texts)

    def one_line(self) -> str:
        """A one-line summary for the server's console log."""
        took = f"{self.duration * 1000:.0f}ms" if self.duration is not None else "..."
        parts = [f"#{self.index}", self.method, self.path, str(self.status or "-"), took]
        if self.model:
            parts.append(self.model)
        if self.is_messages:
            parts.append("stream" if self.stream else "json")
            parts.append(f"msgs={len(self.messages)}")
        if self.usage:
            u = self.usage
            parts.append(
                f"in={u['input_tokens']} out={u['output_tokens']} "
                f"cache_read={u['cache_read_input_tokens']} "
                f"cache_write={u['cache_creation_input_tokens']}"
            )
        if self.rule:
            parts.append(f"rule={self.rule}")
        if self.error:
            parts.append(f"error={self.error}")
        if self.disconnected:
            parts.append("client-disconnected")
        if self.session_id:
            parts.append(f"session={self.session_id}")
        return " ".join(parts)


#: How many requests the log keeps, and how many bytes of request bodies at most.
DEFAULT_LOG_SIZE = 1000
DEFAULT_LOG_BYTES = 128 * 2**20


class RequestLogTruncated(LookupError):
    """Records asked for are no longer in the log (it keeps only the last ones)."""


class RequestLog:
    """The last requests received, bodies included, plus running counts of all of them.

    A server used for hours (``swarm mock-api``) must not keep every request: the log
    holds the newest ``max_records`` whose bodies add up to at most ``max_bytes`` (the
    newest one always), dropping the oldest first. ``received`` and ``by_status``
    count every request ever received.
    """

    def __init__(
        self, max_records: int = DEFAULT_LOG_SIZE, max_bytes: int = DEFAULT_LOG_BYTES
    ) -> None:
        if max_records < 1 or max_bytes < 0:
            raise ValueError("the request log keeps at least one record, in a budget >= 0")
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.received = 0
        self.by_status: Counter[int] = Counter()
        self._records: deque[RequestRecord] = deque()
        self._kept: set[int] = set()  # id() of the records held
        self._bytes = 0

    def new_index(self) -> int:
        """The index of the next request (its position among all ever received)."""
        return self.received

    def append(self, record: RequestRecord) -> None:
        self.received += 1
        self._records.append(record)
        self._kept.add(id(record))
        self._bytes += record.body_bytes
        self._evict()

    def body_read(self, record: RequestRecord, size: int) -> None:
        """``record``'s body (``size`` bytes) is kept with it: count it in the budget."""
        record.body_bytes += size
        if id(record) in self._kept:
            self._bytes += size
            self._evict()

    def finished(self, record: RequestRecord) -> None:
        """Count a finished request's status (kept or not)."""
        if record.status is not None:
            self.by_status[record.status] += 1

    def _evict(self) -> None:
        records = self._records
        while len(records) > 1 and (
            len(records) > self.max_records or self._bytes > self.max_bytes
        ):
            gone = records.popleft()
            self._kept.discard(id(gone))
            self._bytes -= gone.body_bytes

    @property
    def dropped(self) -> int:
        """How many records the log no longer holds."""
        return self.received - len(self._records)

    def since(self, index: int) -> list[RequestRecord]:
        """The records from ``index`` on (e.g. ``request_count`` before a phase began);
        raise :class:`RequestLogTruncated` if some of them were dropped already."""
        first = self._records[0].index if self._records else self.received
        if index < first:
            raise RequestLogTruncated(
                f"requests {index}..{first - 1} are no longer in the log (it keeps the last "
                f"{self.max_records} requests, {self.max_bytes // 2**20} MB of bodies); "
                "open the server with a larger log_size or log_bytes"
            )
        return [r for r in self._records if r.index >= index]

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)
