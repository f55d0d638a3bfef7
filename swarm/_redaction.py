"""Keeping secrets out of the store: API keys, tokens and passwords are never persisted.

Two layers, because neither is enough alone:

- :func:`redact_plan` blanks every value whose *name* looks secret (an agent's
  ``env: {GITHUB_TOKEN: ...}``, ``backend.options.api_key``) before a plan is
  saved with its run;
- :func:`redact_json` runs on every record the SQLite store writes: it replaces
  the *values* of known secrets (environment variables with secret-looking
  names, plus those :func:`register_secrets` was given, e.g. from a plan's env)
  and anything shaped like a well-known kind of secret (Anthropic, OpenAI,
  GitHub, Slack, AWS and Google keys, JWTs, PEM private keys; see
  :mod:`swarm._secret_shapes`), wherever they occur (a prompt that quotes a key,
  a tool result that echoes a token, a URL that carries one).

The log processor :class:`swarm._log.RedactSecrets` uses the same values.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, Self, TypeVar
from urllib.parse import quote, quote_plus, unquote_plus

from . import _jsoncodec as jsoncodec
from ._secret_shapes import (
    REDACTED,
    SECRET_SHAPES,
    URL_PASSWORD,
    may_hold_shape,
    redact_shapes,
    shape_label,
)

__all__ = [
    "ID_FIELDS",
    "REDACTED",
    "SECRET_NAMES",
    "SECRET_SHAPES",
    "environment_secrets",
    "known_secrets",
    "looks_secret",
    "mask_url",
    "may_hold_shape",
    "plan_secrets",
    "redact",
    "redact_document",
    "redact_json",
    "redact_plan",
    "redact_record",
    "redact_records",
    "redact_text",
    "register_secrets",
    "restore_secrets",
    "secret_kind",
]


# Searched in a name made lower_snake_case (see looks_secret). Secret wherever they occur:
# the words below; ``pat`` as a word of its own (GITHUB_PAT); ``key`` as the last word after
# another one (OPENAI_KEY, private_key, signingKey, AWS_ACCESS_KEY_ID), unless that one says
# what the key identifies rather than unlocks (public_key, project_key, sort_key). Not
# secret: key alone or first (key_points), inside a word (monkey, keyboard), and pwd (the
# PWD variable is the working directory, and its value is in many records).
_IDENTIFYING = (
    "public|project|history|cache|sort|primary|foreign|partition|shard|routing|lookup"
    "|idempotency|dedup|hash|group|row|index|map|dict|message|record|object"
)
SECRET_NAMES = re.compile(
    r"api_?key|token|secret|passw(?:or)?d|passphrase|credential|authorization|cookie"
    r"|(?:^|_)pat(?:_|$)"
    rf"|(?:^|_)(?!(?:{_IDENTIFYING})_)[a-z0-9]+_key(?:_id)?$"
)
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")

_MIN_SECRET_LEN = 8

_lock = threading.Lock()
_registered: set[str] = set()
_known: tuple[str, ...] | None = None


@functools.lru_cache(maxsize=4096)
def looks_secret(name: str) -> bool:
    """True for names like ``ANTHROPIC_API_KEY``, ``github_token``, ``db-password``,
    ``GITHUB_PAT``, ``OPENAI_KEY``, ``signingKey`` (see :data:`SECRET_NAMES`)."""
    # Cached: a plan of 10,000 agents asks about the same few keys 100,000 times.
    words = _NOT_WORD.sub("_", _CAMEL_HUMP.sub("_", name).lower())
    return bool(SECRET_NAMES.search(words))


def environment_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look secret."""
    env = os.environ if environ is None else environ
    return [v for k, v in env.items() if looks_secret(k) and len(v) >= _MIN_SECRET_LEN]


def register_secrets(values: Iterable[str]) -> None:
    """Add values to redact from now on (e.g. a plan's env secrets), and re-read the environment."""
    global _known
    with _lock:
        _registered.update(v for v in values if len(v) >= _MIN_SECRET_LEN)
        _known = None


def known_secrets() -> tuple[str, ...]:
    """The environment's secret values (read once, until the next :func:`register_secrets`)
    plus every registered one, each also in its URL-encoded forms (a password in a query
    string), longest first so a secret containing another goes whole."""
    global _known
    known = _known
    if known is None:
        with _lock:
            values = set(environment_secrets()) | _registered
            values |= {form for v in values for form in (quote(v, safe=""), quote_plus(v))}
            known = _known = tuple(sorted(values, key=len, reverse=True))
    return known


def redact_text(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with known secret values and key-shaped strings replaced."""
    for value in known_secrets() if secrets is None else secrets:
        if value and value in text:
            text = text.replace(value, REDACTED)
    return redact_shapes(text)


def redact(value: Any, secrets: Iterable[str] | None = None) -> Any:
    """A copy of JSON-like ``value``: strings under secret-looking keys blanked, and
    secret values replaced in every other string (and in keys)."""
    found = tuple(known_secrets() if secrets is None else secrets)
    return _redact(value, found, under_secret_name=False)


def _redact(value: Any, secrets: tuple[str, ...], *, under_secret_name: bool) -> Any:
    if isinstance(value, str):
        return REDACTED if under_secret_name and value else redact_text(value, secrets)
    if isinstance(value, dict):
        return {
            (redact_text(k, secrets) if isinstance(k, str) else k): _redact(
                v, secrets, under_secret_name=isinstance(k, str) and looks_secret(k)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(v, secrets, under_secret_name=under_secret_name) for v in value]
    return value


# The fields of a record that identify it (and things it points at): its store keys are
# made of them, so redaction never rewrites them; an id that looks like a secret is refused
# where it is chosen (plan validation, `swarm fork --agent-id`, checkpoint names).
ID_FIELDS = frozenset(
    {
        "run_id",
        "agent_id",
        "session_id",
        "parent_session_id",
        "base_session_id",
        "fork_point",
        "uuid",
        "parent_uuid",
        "message_uuid",
        "checkpoint_id",
        "sessionId",
        "parentUuid",
    }
)


def _redact_document(document: Any) -> Any:
    """A record's JSON document redacted value by value, its id fields as they are."""
    if not isinstance(document, dict):
        return redact(document)
    kept = {k: v for k, v in document.items() if k in ID_FIELDS}
    cleaned: dict[str, Any] = redact({k: v for k, v in document.items() if k not in ID_FIELDS})
    return {**cleaned, **kept}


def plan_secrets(plan: Mapping[str, Any]) -> list[str]:
    """Values in a plan (as JSON) stored under secret-looking names, at any depth."""
    # A loop over a stack, not a recursive walk: every run walks its whole plan (10,000
    # agents are some 300,000 values). A string is secret under a secret-looking key, or
    # in a list (at any depth of lists) under one; a dict's values go by their own keys.
    found: list[str] = []
    pending: list[tuple[Any, bool]] = [(dict(plan), False)]
    while pending:
        value, secret = pending.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                if v is None:
                    continue  # most of a dumped plan's values (a spec's unset fields)
                if isinstance(v, str):
                    if isinstance(k, str) and looks_secret(k):
                        found.append(v)
                elif isinstance(v, dict | list):
                    pending.append((v, isinstance(k, str) and looks_secret(k)))
        else:
            for v in value:
                if isinstance(v, str):
                    if secret:
                        found.append(v)
                elif isinstance(v, dict | list):
                    pending.append((v, secret))
    return found


def mask_url(url: str) -> str:
    """A store URL fit to show or keep: the password of its ``user:password@`` part and the
    values of secret-named query options (``?password=``) replaced, and any key-shaped part.
    Every message and record that names a store URL shows it through here."""
    masked = URL_PASSWORD.sub(rf"\1{REDACTED}@", url)
    base, mark, query = masked.partition("?")
    if mark:
        options = []
        for option in query.split("&"):
            name, equals, value = option.partition("=")
            secret = bool(equals and value) and looks_secret(unquote_plus(name))
            options.append(f"{name}={REDACTED}" if secret else option)
        masked = base + mark + "&".join(options)
    return redact_text(masked)


def redact_plan(plan: Mapping[str, Any]) -> dict[str, Any]:
    """A plan (as JSON) safe to store: secret-named values blanked, secret values replaced,
    the store's URL masked. When there is nothing to replace, the result shares its
    nested values with ``plan`` (pass one nothing changes afterwards, as
    ``model_dump`` returns)."""
    store = plan.get("store")
    if isinstance(store, Mapping) and isinstance(store.get("url"), str):
        masked = mask_url(store["url"])
        if masked != store["url"]:
            plan = {**plan, "store": {**store, "url": masked}}
    named = plan_secrets(plan)
    register_secrets(named)
    if not named:
        clean = dict(plan)
        text = jsoncodec.dumps(clean)
        if redact_json(text) is text:
            # Nothing to blank (the usual case): no walk value by value, and no copy
            # either (decoding a 10,000-agent plan again took longer than the rest). Its
            # run record is saved three times a run: each encodes around this text.
            jsoncodec.share_encoding(clean, text)
            return clean
    cleaned: dict[str, Any] = redact(dict(plan))
    return cleaned


@functools.lru_cache(maxsize=256)
def _encoded(value: str) -> str:
    """A secret as it appears inside a JSON string written by :mod:`swarm._jsoncodec`."""
    return jsoncodec.dumps(value)[1:-1]


def _replaced(text: str) -> str:
    """``text`` with known secrets (as JSON text encodes them) and secret shapes replaced."""
    out = text
    for value in known_secrets():
        encoded = _encoded(value)
        if encoded in out:
            out = out.replace(encoded, REDACTED)
    return redact_shapes(out)


def redact_json(data: str) -> str:
    """JSON text with secrets replaced inside its strings; the result is still valid JSON,
    and a record's id fields (:data:`ID_FIELDS`) are never rewritten.

    The fast path works on the text; if a replacement would break the document
    (a secret that also occurs as a number, say) or touch an id, the document is
    redacted value by value instead.
    """
    out = _replaced(data)
    if out == data:
        return data
    original = jsoncodec.loads(data)
    try:
        cleaned = jsoncodec.loads(out)
    except ValueError:
        cleaned = None
    if cleaned is not None and not isinstance(original, dict):
        return out
    if (
        isinstance(original, dict)
        and isinstance(cleaned, dict)
        and all(cleaned.get(k) == original[k] for k in ID_FIELDS.intersection(original))
    ):
        return out
    return jsoncodec.dumps(_redact_document(original))


def secret_kind(value: str) -> str | None:
    """What ``value`` holds that redaction would replace ("a GitHub token"), or None. Ids
    and names are stored and shown as they are, so one that holds a secret is refused."""
    if any(secret in value for secret in known_secrets()):
        return "a secret from the environment or the plan"
    return shape_label(value)


class _Record(Protocol):
    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self: ...


D = TypeVar("D", bound=_Record)


def redact_document(record: D) -> D:
    """``record`` with secrets replaced in every field of its document but the ids (what a
    store keeps, :class:`swarm.stores.RedactingStore`); the same object when it holds none
    (the usual case)."""
    if jsoncodec.remembered(record):
        return record  # just encoded and found clean (redacted where it entered the run)
    text = jsoncodec.encode(record)
    cleaned = redact_json(text)
    if cleaned is text:
        jsoncodec.remember_text(record, text)  # the store's encoding of it, if it asks
        return record
    return type(record).from_dict(jsoncodec.loads(cleaned))


def redact_records(records: Sequence[D]) -> list[D]:
    """:func:`redact_document` of each record, with one scan of their joined encodings
    when none holds a secret (the usual case: a large plan's queued agents' records)."""
    texts = [jsoncodec.encode(record) for record in records]
    # A newline is never part of compact JSON text, nor of a secret as it is encoded
    # there, and no secret shape matches across one: what the joined text does not hold,
    # no record does.
    joined = "\n".join(texts)
    if _replaced(joined) != joined:
        return [redact_document(record) for record in records]
    jsoncodec.remember_texts(records, texts)
    return list(records)


def redact_record(record: D) -> D:
    """``record`` (a message, an agent's result, a run or session record, a checkpoint) as
    the store keeps it: :func:`redact_document`. The executor applies it where a record
    enters a run, so the store, the events, the hooks and the result it returns all hold
    this one object, and the store (which redacts what it is given) neither scans nor
    encodes it again."""
    return redact_document(record)


def restore_secrets(
    plan: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A stored plan made runnable again (``swarm resume``): each value :func:`redact_plan`
    blanked under a secret-looking name comes back from the environment variable of
    that name, or is dropped (an agent's env then inherits the process's)."""
    env = os.environ if environ is None else environ

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if isinstance(k, str) and looks_secret(k) and v == REDACTED:
                    if k in env:
                        out[k] = env[k]
                    continue
                out[k] = walk(v)
            return out
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    restored: dict[str, Any] = walk(dict(plan))
    return restored
