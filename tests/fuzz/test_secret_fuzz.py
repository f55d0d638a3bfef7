"""Secrets fuzzed with hypothesis: every well-known shape, disguised (URL-encoded, glued to
a letter or digit, cut by a line break, inside JSON strings) in random text, and store URLs
with random passwords. The property: no raw secret in any stored record, output or error
message."""

from __future__ import annotations

import json
import random
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trio
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from swarm import MemoryStore, ParallelSwarmExecutor
from swarm._redaction import mask_url, redact_json, redact_text
from swarm.backends import AgentRequest, create_backend
from swarm.cli import main
from swarm.errors import PlanError
from swarm.events import SwarmEvent
from swarm.plan import parse_plan
from swarm.records import AgentResult

FAST = settings(max_examples=300, deadline=None)
SLOW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ALNUM = string.ascii_letters + string.digits
KEY = ALNUM + "_-"


@dataclass(frozen=True)
class Secret:
    """A made-up key of a real kind: ``prefix`` + ``body``; ``fixed``: every key of the kind
    has this length (so a cut one's rest is taken even when text follows it)."""

    prefix: str
    body: str
    fixed: bool
    splits: bool = True  # JWTs are never taken across a line break

    @property
    def text(self) -> str:
        return self.prefix + self.body


def _random(seed: int, alphabet: str, size: int) -> str:
    # Keys are random: a seeded draw, so hypothesis varies the key, not its degenerate form.
    return "".join(random.Random(seed).choices(alphabet, k=size))


KINDS = [
    *("anthropic", "anthropic-test", "openai", "openai-legacy", "github", "github-pat"),
    *("slack", "aws", "google", "jwt"),
]


@st.composite
def secrets(draw: st.DrawFn) -> Secret:
    seed = draw(st.integers(0, 2**32))
    kind = draw(st.sampled_from(KINDS))
    if kind == "anthropic":
        return Secret("sk-ant-api03-", _random(seed, KEY, 93) + "AA", fixed=True)
    if kind == "anthropic-test":
        return Secret("sk-ant-", _random(seed, KEY, draw(st.integers(20, 60))), fixed=False)
    if kind == "openai":
        prefix = draw(st.sampled_from(["sk-proj-", "sk-svcacct-", "sk-admin-"]))
        return Secret(prefix, _random(seed, KEY, draw(st.integers(20, 120))), fixed=False)
    if kind == "openai-legacy":
        return Secret("sk-", _random(seed, ALNUM, 48), fixed=False)
    if kind == "github":
        return Secret(f"gh{draw(st.sampled_from('pousr'))}_", _random(seed, ALNUM, 36), True)
    if kind == "github-pat":
        return Secret("github_pat_", _random(seed, ALNUM + "_", 82), fixed=True)
    if kind == "slack":
        prefix = f"xox{draw(st.sampled_from('abprs'))}-"
        return Secret(prefix, _random(seed, ALNUM + "-", draw(st.integers(12, 60))), False)
    if kind == "aws":
        return Secret("AKIA", _random(seed, string.ascii_uppercase + string.digits, 16), True)
    if kind == "google":
        return Secret("AIza", _random(seed, KEY, 35), fixed=True)
    header, payload = _random(seed, KEY, 20), _random(seed + 1, KEY, 30)
    return Secret("eyJ", f"{header}.eyJ{payload}.{_random(seed + 2, KEY, 40)}", False, False)


# Ordinary text around a key: words, spaces, punctuation and line breaks.
filler = st.text(alphabet=" abcdefghij.,:;()\n", max_size=30)


@st.composite
def disguised(draw: st.DrawFn) -> tuple[str, Secret]:
    """Text holding one secret, disguised one way or another."""
    secret = draw(secrets())
    key = secret.text
    how = draw(
        st.sampled_from(
            ["plain", "url =", "url %20", "plus", "glued letter", "glued digit", "split"]
        )
    )
    if how == "split" and secret.splits:
        cut = draw(st.integers(len(secret.prefix), len(key) - 1))
        after = draw(st.sampled_from(["", " and more text"])) if secret.fixed else ""
        # A rest that is a plain word is taken for text (the documented limit), unless it
        # is exactly what a key of fixed length lacks.
        rest = key[cut:]
        assume(secret.fixed or not re.fullmatch(r"[A-Z]?[a-z]+(?:-[a-z]+)*|[A-Z]+|[0-9]+", rest))
        newline = draw(st.sampled_from(["\n", "\r\n"]))
        key = f"{key[:cut]}{newline}{key[cut:]}{after}\n"
    elif how == "url =":
        key = f"?api_key%3D{quote(key)}&next=1"
    elif how == "url %20":
        key = f"key%20{key}%20more"
    elif how == "plus":
        key = f"key+{key}+more"
    elif how == "glued letter":
        key = draw(st.sampled_from(string.ascii_letters)) + key
    elif how == "glued digit":
        key = draw(st.sampled_from(string.digits)) + key
    return f"{draw(filler)} {key} {draw(filler)}", secret


def leaks(secret: Secret, text: str) -> list[str]:
    """Pieces of the secret's body (8 characters) found in ``text``."""
    body = secret.body
    return sorted({body[i : i + 8] for i in range(len(body) - 7) if body[i : i + 8] in text})


@FAST
@given(disguised())
def test_no_disguised_secret_survives_redaction(case: tuple[str, Secret]) -> None:
    """Any shape, disguised any way, is gone from plain text and from a record's JSON (in a
    string, a nested list, a key), and the JSON stays valid."""
    text, secret = case
    assert not leaks(secret, redact_text(text, ()))
    record = json.dumps(
        {"uuid": "u-1", "content": text, "raw": {"blocks": [{"text": text}], text: 1}},
        separators=(",", ":"),
    )
    cleaned = redact_json(record)
    assert json.loads(cleaned)["uuid"] == "u-1"  # ids are never rewritten
    assert not leaks(secret, cleaned)


FIELDS = [
    ("agents", 0, "id"),
    ("agents", 0, "priority"),
    ("agents", 0, "max_turns"),
    ("agents", 0, "fork_from"),
    ("agents", 0, "env", "GITHUB_TOKEN"),
    ("execution", "mode"),
    ("name",),
]


@FAST
@given(disguised(), st.sampled_from(FIELDS))
def test_no_plan_error_quotes_a_secret(case: tuple[str, Secret], where: tuple[Any, ...]) -> None:
    """A secret put in a plan field where it is a bad value: the PlanError (what `swarm:
    error:` lines and `validate --json` print) names the field and holds no raw secret."""
    text, secret = case
    document: dict[str, Any] = {"base": {"prompt": "p"}, "agents": [{"id": "a", "prompt": "p"}]}
    parent: Any = document
    for part in where[:-1]:
        parent = parent.setdefault(part, {}) if isinstance(part, str) else parent[part]
    parent[where[-1]] = text.strip() if where[-1] != "GITHUB_TOKEN" else [text]
    with pytest.raises(PlanError) as caught:
        parse_plan(yaml.safe_dump(document), "fuzz.yaml")
    assert not leaks(secret, str(caught.value))


@SLOW
@given(st.lists(disguised(), min_size=1, max_size=3))
def test_no_secret_in_records_events_hooks_or_the_result(
    cases: list[tuple[str, Secret]],
) -> None:
    """Prompts holding disguised secrets run on a memory store (which redacts nothing
    itself): the stored messages and results, the events, the hooks' arguments and the
    returned result hold none of them."""
    prompts = [text for text, _ in cases]
    seen: list[Any] = []

    async def before(request: AgentRequest) -> None:
        seen.append(request)

    async def after(result: AgentResult) -> None:
        seen.append(result)

    async def run() -> list[Any]:
        store = MemoryStore()
        plan = parse_plan(
            yaml.safe_dump(
                {
                    "base": {"prompt": prompts[0]},
                    "backend": {"name": "simulated", "simulated": {"latency_s": 0}},
                    "agents": [{"id": f"a{i}", "prompt": p} for i, p in enumerate(prompts)],
                }
            )
        )
        executor = ParallelSwarmExecutor(
            create_backend(plan.backend, store), store, pre_agent=[before], post_agent=[after]
        )
        send, receive = trio.open_memory_channel[SwarmEvent](1000)
        events: list[SwarmEvent] = []
        async with trio.open_nursery() as nursery:

            async def collect() -> None:
                async with receive:
                    async for event in receive:
                        events.append(event)

            nursery.start_soon(collect)
            result = await executor.run(plan, events=send)
        stored: list[Any] = list(await store.list_agents(result.run_id))
        for session in await store.list_sessions(result.run_id):
            stored += await store.get_messages(session.session_id)
        return [result, events, stored]

    everything = repr(trio.run(run)) + repr(seen)
    assert "user" in everything  # the messages were there to look at
    for _, secret in cases:
        assert not leaks(secret, everything)


# A password as a user writes it in a URL: any printable text, percent-encoded where the
# URL syntax needs it (RFC 3986: userinfo keeps sub-delimiters; a query value escapes them).
passwords = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=8, max_size=30
)


def in_userinfo(raw: str) -> str:
    return quote(raw, safe="!$&'()*+,;=~")


schemes = st.sampled_from(["postgresql", "postgres", "mysql", "redis", "sqlite", "https"])


@FAST
@given(schemes, passwords, st.booleans())
def test_a_store_url_is_never_shown_with_its_password(
    scheme: str, raw: str, in_query: bool
) -> None:
    """mask_url (every message and record that names a store URL goes through it), and the
    redaction of any text, never show a URL's password, in its user part or its query."""
    password = quote(raw, safe="") if in_query else in_userinfo(raw)
    url = (
        f"{scheme}://db.example/swarm?user=u&password={password}"
        if in_query
        else f"{scheme}://swarm:{password}@db.example:5432/swarm"
    )
    assert password not in mask_url(url)
    assert "db.example" in mask_url(url)
    if not in_query:
        assert password not in redact_text(f"could not connect to {url}: refused", ())


@SLOW
@given(
    # postgresql:// is a store swarm opens (tests/distributed tests its error lines).
    st.sampled_from(["mysql", "redis", "https"]),
    passwords,
    st.sampled_from([["runs", "list"], ["run", "plan.yaml"], ["store", "verify"]]),
)
def test_no_error_line_shows_a_store_password(
    in_tmp_cwd: Path,
    capsys: pytest.CaptureFixture[str],
    scheme: str,
    raw: str,
    command: list[str],
) -> None:
    """`swarm ... --store URL` with a password in the URL: the error line for a store it
    cannot open names the store without it."""
    (in_tmp_cwd / "plan.yaml").write_text(
        "base: {prompt: p}\nbackend: {name: simulated, simulated: {latency_s: 0}}\n"
        "agents: [{id: a, prompt: p}]\n"
    )
    password = in_userinfo(raw)
    url = f"{scheme}://swarm:{password}@db.example/swarm"
    assert main([*command, "--store", url]) == 2
    out, err = capsys.readouterr()
    assert "db.example" in err and password not in out + err
