"""Secrets from the environment and from a plan's env never reach the store file or the logs."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import anthropic
import pytest
import trio
import yaml

from swarm import ParallelSwarmExecutor, Plan, parse_plan
from swarm._redaction import REDACTED, plan_secrets, redact_json, redact_plan, restore_secrets
from swarm.backends import AgentRequest
from swarm.backends.anthropic import AnthropicBackend
from swarm.events import SwarmEvent
from swarm.mockapi import ErrorSpec, MockAPIConfig, ReplyRule, open_mock_api
from swarm.records import AgentResult
from swarm.stores import open_store

API_KEY = "sk-ant-test-4f2a9c1e7b3d5a8f0e6c2b9d"
AGENT_TOKEN = "ghp_agentTokenValue-73cd1e"

PLAN = f"""\
base: {{prompt: "shared context; the key is {API_KEY}"}}
backend: {{name: simulated, simulated: {{latency_s: 0, jitter: 0}}}}
defaults: {{env: {{DEPLOY_PASSWORD: "pw-default-9911aa"}}}}
agents:
  - id: a
    prompt: "use the token {AGENT_TOKEN}"
    env: {{GITHUB_TOKEN: "{AGENT_TOKEN}", MODE: fast}}
  - {{id: b, prompt: "quote the key {API_KEY} back"}}
"""


def test_no_secret_reaches_the_database_or_the_debug_log(tmp_path: Path) -> None:
    """A run with ANTHROPIC_API_KEY set and secrets in the plan's env, logging at debug:
    the raw database bytes (and any -wal) and the log hold none of them."""
    (tmp_path / "plan.yaml").write_text(PLAN)
    log = tmp_path / "debug.log"
    env = {**os.environ, "ANTHROPIC_API_KEY": API_KEY, "SWARM_STORE": ""}
    with log.open("w") as stderr:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "swarm",
                "--log-level",
                "debug",
                "run",
                "plan.yaml",
                "--store",
                "sqlite:///store.db",
                "--json",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, log.read_text()
    logged = log.read_text()
    assert "run.started" in logged  # the log really was written at debug level
    files = [p for p in tmp_path.iterdir() if p.name.startswith("store.db")]
    raw = b"".join(p.read_bytes() for p in files)
    assert b"agent a" in raw or b'"a"' in raw  # the store really holds the run
    for secret in (API_KEY, AGENT_TOKEN, "pw-default-9911aa"):
        assert secret.encode() not in raw, f"{secret} found in {[p.name for p in files]}"
        assert secret not in logged
    conn = sqlite3.connect(tmp_path / "store.db")
    (plan,) = conn.execute("SELECT data FROM runs").fetchone()
    conn.close()
    assert '"GITHUB_TOKEN":"[redacted]"' in plan and '"MODE":"fast"' in plan


def test_redact_plan_blanks_secret_names_and_restore_brings_them_back() -> None:
    """Env values under secret names are blanked for the store and come back from the
    environment (or are dropped) when a stored plan is run again."""
    plan = {
        "agents": [{"id": "a", "env": {"API_TOKEN": "t-1234567890", "MODE": "x"}}],
        "backend": {"options": {"api_key": "k-1234567890"}},
    }
    stored = redact_plan(plan)
    assert stored["agents"][0]["env"] == {"API_TOKEN": REDACTED, "MODE": "x"}
    assert stored["backend"]["options"] == {"api_key": REDACTED}
    again = restore_secrets(stored, {"API_TOKEN": "t-from-env-000"})
    assert again["agents"][0]["env"] == {"API_TOKEN": "t-from-env-000", "MODE": "x"}
    assert again["backend"]["options"] == {}


def test_redact_json_keeps_the_document_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret that also appears as a number is redacted value by value, never breaking JSON."""
    from swarm import _redaction as redaction

    monkeypatch.setattr(redaction, "_registered", set())
    monkeypatch.setattr(redaction, "_known", None)
    redaction.register_secrets(["12345678"])
    out = redact_json('{"n":12345678,"s":"x 12345678 y","k":"sk-ant-abcdefgh12345"}')
    import json

    assert json.loads(out) == {"n": 12345678, "s": f"x {REDACTED} y", "k": REDACTED}


# Common secrets by shape (every one a made-up value of the real format) ...
SHAPES = {
    "github classic": "ghp_PLANPAT0000000000000000000000000000",
    "github oauth": "gho_16C7e42F292c6912E7710c838347Ae178B4a",
    "github fine-grained": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123",
    "slack": "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx",
    "aws access key id": "AKIAIOSFODNN7EXAMPLE",
    "google": "AIzaSyA" + "b" * 32,
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFU",
    "openai project": "sk-proj-" + "Ab3_-" * 8,
    "jwt cut short": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    "key after a newline": "sk-ant-api03-afterNewline0000",
}
PEM_BODY = "MIIEowIBAAKCAQEAtestKeyMaterial0000000000"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"
# ... and by name, in an agent's env; next to ordinary values that must stay as they are.
NAMED = {
    "GITHUB_PAT": "plan-pat-value-0001",
    "OPENAI_KEY": "plan-openai-value-0002",
    "PRIVATE_KEY": "plan-private-value-0003",
    "AWS_ACCESS_KEY_ID": "plan-aws-id-value-0004",
    "AWS_SECRET_ACCESS_KEY": "plan-aws-secret-value-0005",
    "DB_PASSWD": "plan-passwd-value-0006",
    "session_cookie": "plan-cookie-value-0007",
    "signingKey": "plan-signing-value-0008",
}
ORDINARY = {
    "MONKEY": "bananas-value-0009",
    "KEYBOARD": "dvorak-value-0010",
    "KEY_POINTS": "three-points-0011",
    "PUBLIC_KEY": "ssh-ed25519-public-0012",
    "PROJECT_KEY": "project-key-value-0013",
    "PATH_HINT": "path-hint-value-0014",
}


def test_common_secret_names_and_shapes_reach_no_store_log_or_export(tmp_path: Path) -> None:
    """GitHub, Slack, AWS, Google, JWT, OpenAI and PEM secrets in prompts and `*_PAT`,
    `*_KEY`, `passwd`, cookie names in an env are in none of the raw SQLite files, the
    debug log, `runs show --json` or any export; ordinary `key`-ish names keep their values."""
    env_doc = {**NAMED, **ORDINARY}
    quoted = " ".join(
        f"{name}: {value}." for name, value in SHAPES.items() if "newline" not in name
    )
    plan = {
        "name": "shapes",
        "base": {"prompt": "shared context"},
        "store": {"url": "sqlite:///store.db"},
        "backend": {"name": "simulated", "simulated": {"latency_s": 0, "jitter": 0}},
        "agents": [
            {"id": "a", "prompt": f"deploy with {quoted}", "env": env_doc},
            {
                "id": "b",
                "prompt": f"the key file:\n{PEM}\nline one\n{SHAPES['key after a newline']}",
            },
        ],
    }
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan))
    env = {**os.environ, "SWARM_STORE": "sqlite:///store.db"}

    def swarm(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "swarm", "--log-level", "debug", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    seen = {"run": swarm("run", "plan.yaml", "--json")}
    assert "run.started" in seen["run"]  # the debug log really was written
    seen["runs show"] = swarm("runs", "show", "latest", "--json")
    for fmt in ("json", "jsonl", "csv", "md"):
        seen[f"export {fmt}"] = swarm("export", "latest", "--format", fmt)
    files = [p for p in tmp_path.iterdir() if p.name.startswith("store.db")]
    raw = b"".join(p.read_bytes() for p in files)
    assert b"deploy with" in raw and b"the key file" in raw  # the prompts were stored
    secrets = [*SHAPES.values(), PEM_BODY, *NAMED.values()]
    for secret in secrets:
        assert secret.encode() not in raw, f"{secret} found in {[p.name for p in files]}"
        for where, text in seen.items():
            assert secret not in text, f"{secret} in the output of {where}"
    conn = sqlite3.connect(tmp_path / "store.db")
    (stored,) = conn.execute("SELECT data FROM runs").fetchone()
    conn.close()
    stored_env = json.loads(stored)["plan"]["agents"][0]["env"]
    assert stored_env == {**{k: REDACTED for k in NAMED}, **ORDINARY}
    assert "line one" in seen["export md"] and "the key file" in seen["export md"]


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        *[(n, True) for n in NAMED],
        *[(n, True) for n in ("PAT", "gh_pat_2", "apiKey", "x-api-key", "ssh-key", "Cookie")],
        *[(n, True) for n in ("GITHUB_TOKEN", "client_secret", "MY_PASSPHRASE", "GPG_KEY_ID")],
        *[(n, False) for n in ORDINARY],
        *[(n, False) for n in ("key", "keys", "monkey", "hotkey", "key_points", "sort_keys")],
        *[(n, False) for n in ("PATH", "pattern", "PWD", "OLDPWD", "cache_key", "publicKey")],
        *[(n, False) for n in ("uuid", "content", "raw", "signature", "project_key")],
    ],
)
def test_which_names_look_secret(name: str, secret: bool) -> None:
    """`pat` as a word and `key` as a name's last word after another one are secret; `key`
    inside a word, alone or first, identifying keys (public, project, cache...) and PWD are not."""
    from swarm._redaction import looks_secret

    assert looks_secret(name) is secret


def _base64_samples() -> list[str]:
    import base64
    import random
    import zlib

    prose = b"The quick brown fox jumps over the lazy dog. " * 40
    noise = random.Random(7).randbytes(3000)
    document = json.dumps({"items": [{"id": i, "name": f"item {i}"} for i in range(60)]})
    blobs = [prose, noise, zlib.compress(prose * 5), document.encode(), bytes(range(256)) * 8]
    samples = []
    for blob in blobs:
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(blob).decode()
            samples.append("\n".join(text[i : i + 76] for i in range(0, len(text), 76)))
    return samples


_BASE64_SAMPLES = _base64_samples()


@pytest.mark.parametrize(
    "text",
    [
        "task-1234 ran on disk-usage-high-throughput-monitor-0001 at 2026-06-01T12:00:00Z",
        "uuid 5ba5cd4c-2af5-4ca5-9f80-cc0aec39f3ee, sha256 " + "0123456789abcdef" * 4,
        "the ghost_writer said: eyJ alone, AKIA short, xoxo-love, AIza-short, ghp_short",
        "thinking signature EqQBCkgIARABGAIiQLtestSignature0000+/== stays",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n-----END PUBLIC KEY-----",
        # checksums and ids, lower and upper case
        "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 md5 D41D8CD98F00B204E9800998ECF8427E",
        "SHA256 E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "ids 0190a4d5-7e2c-7c1a-9a1e-3f5b2c4d6e8f and 01J2Z3K4M5N6P7Q8R9S0T1V2W3",
        # words that end in 'sk' or 'gh' before a key-like tail, glued
        "the task-ant-colony-simulation and risk-assessmentframeworkdocument10 stay",
        "laughs_ and highs_LowsAndEverythingInBetween0 stay",
        # base64 of ordinary data, as a tool result carries it (MIME lines of 76)
        *_BASE64_SAMPLES,
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    """Ids, hashes, words that merely start like a token and a public key are not redacted,
    neither in plain text nor inside a stored record's JSON."""
    from swarm._redaction import redact_text

    assert redact_text(text, ()) == text
    record = json.dumps({"content": text, "role": "assistant"}, separators=(",", ":"))
    assert redact_json(record) == record


@pytest.mark.parametrize("name", [*SHAPES, "pem"])
def test_each_secret_shape_is_redacted_in_text_and_json(name: str) -> None:
    """Every shape is replaced in plain text and in a record's JSON text (where a newline
    before it is an escape), and the JSON stays valid with the text around it intact."""
    from swarm._redaction import redact_text

    secret = PEM if name == "pem" else SHAPES[name]
    text = f"before\n{secret}\nafter"
    assert redact_text(text, ()) == f"before\n{REDACTED}\nafter"
    record = json.dumps({"content": text, "n": 1}, separators=(",", ":"))
    assert json.loads(redact_json(record)) == {"content": f"before\n{REDACTED}\nafter", "n": 1}


# --- Every output shows what the store shows --------------------------------------------------
# A model that quotes every secret shape back, and an API error that carries one: the replies
# and errors of a real backend (anthropic, against the fake API) reach each output path.
QUOTED = [*SHAPES.values(), PEM]
RAW = [*SHAPES.values(), PEM_BODY]  # what must appear nowhere
REPLY = "I found these: " + " ".join(f"{secret} ." for secret in QUOTED)
LEAKY_ERROR = f"the key {SHAPES['github classic']} was refused"
SECRET_RULES = MockAPIConfig(
    rules=(
        ReplyRule(
            match="task b", error=ErrorSpec(type="invalid_request_error", message=LEAKY_ERROR)
        ),
        ReplyRule(text=REPLY),
    )
)


def _plan_document(base_url: str) -> dict[str, Any]:
    return {
        "name": "quoting",
        "base": {"prompt": f"shared context with {SHAPES['slack']} in it"},
        "backend": {
            "name": "anthropic",
            "options": {"base_url": base_url, "api_key": "test-key-0000"},
        },
        "store": {"url": "sqlite:///store.db"},
        "agents": [
            {"id": "a", "prompt": f"task a: quote {SHAPES['jwt']} back"},
            {"id": "b", "prompt": "task b"},
        ],
    }


def _leaks(text: str) -> list[str]:
    return [secret for secret in RAW if secret in text]


async def test_run_json_and_every_output_path_show_what_the_store_shows(tmp_path: Path) -> None:
    """`swarm run --json` (and the plain progress lines and summary, the debug log,
    `runs show --json` and every export format) of an anthropic run whose replies quote each
    secret shape back and whose API error carries one: no raw secret anywhere, and the
    agents' outputs and errors in `--json` are exactly those `runs show --json` shows."""
    env = {**os.environ, "SWARM_STORE": "", "NO_COLOR": "1"}

    async def swarm(*args: str) -> tuple[int, str, str]:
        done = await trio.run_process(
            [sys.executable, "-m", "swarm", *args],
            cwd=tmp_path,
            env=env,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    async with open_mock_api(SECRET_RULES) as server:
        (tmp_path / "plan.yaml").write_text(yaml.safe_dump(_plan_document(server.base_url)))
        code, as_json, log = await swarm("--log-level", "debug", "run", "plan.yaml", "--json")
        plain_code, summary, progress = await swarm("run", "plan.yaml")
    assert (code, plain_code) == (1, 1), log  # agent b failed on the API error
    assert "run.started" in log  # the debug log was written
    printed = json.loads(as_json)
    assert "I found these" in printed["agents"][0]["output"]  # the reply really came back
    assert "was refused" in printed["agents"][1]["error"]
    assert "was refused" in progress and "failed" in summary
    seen = {"run --json": as_json, "debug log": log, "summary": summary, "progress": progress}
    shown = await swarm(
        "runs", "show", printed["run_id"], "--store", "sqlite:///store.db", "--json"
    )
    seen["runs show"] = shown[1]
    for fmt in ("json", "jsonl", "csv", "md"):
        seen[f"export {fmt}"] = (await swarm("export", printed["run_id"], "--format", fmt))[1]
    leaked = {where: _leaks(text) for where, text in seen.items() if _leaks(text)}
    assert not leaked
    stored = {a["agent_id"]: a for a in json.loads(shown[1])["agents"]}
    for agent in printed["agents"]:
        assert (agent["output"], agent["error"]) == (
            stored[agent["agent_id"]]["output"],
            stored[agent["agent_id"]]["error"],
        )


async def test_events_hooks_and_the_returned_result_hold_only_redacted_records(
    tmp_path: Path,
) -> None:
    """ParallelSwarmExecutor.run on the anthropic backend: the events on the channel, the
    arguments of pre- and post-agent hooks and the SwarmResult it returns hold no raw secret,
    and every agent result and message handed out equals the one the store keeps."""
    requests: list[AgentRequest] = []
    finished: list[AgentResult] = []
    events: list[SwarmEvent] = []

    async def before(request: AgentRequest) -> None:
        requests.append(request)

    async def after(result: AgentResult) -> None:
        finished.append(result)

    async with (
        open_mock_api(SECRET_RULES) as server,
        open_store(f"sqlite:///{tmp_path / 'store.db'}") as store,
    ):
        client = anthropic.AsyncAnthropic(base_url=server.base_url, api_key="k", max_retries=0)
        backend = AnthropicBackend(store, client=client, model="claude-test")
        executor = ParallelSwarmExecutor(backend, store, pre_agent=[before], post_agent=[after])
        document = _plan_document(server.base_url)
        plan = parse_plan(yaml.safe_dump(document), "plan.yaml")
        send, receive = trio.open_memory_channel[SwarmEvent](1000)
        async with trio.open_nursery() as nursery:

            async def collect() -> None:
                async with receive:
                    async for event in receive:
                        events.append(event)

            nursery.start_soon(collect)
            result = await executor.run(plan, events=send)
        stored_agents = {a.agent_id: a for a in await store.list_agents(result.run_id)}
        stored_messages = {
            m.uuid: m
            for s in await store.list_sessions(result.run_id)
            for m in await store.get_messages(s.session_id)
        }
    assert "I found these" in (result.agents["a"].output or "")
    assert "was refused" in (result.agents["b"].error or "")
    messages = [e.message for e in events if e.message is not None]
    assert messages and len(requests) == 2 and len(finished) == 2
    handed_out = {
        "events": repr(events),
        "pre-agent hooks": repr(requests),
        "post-agent hooks": repr(finished),
        "result": repr(result),
    }
    leaked = {where: _leaks(text) for where, text in handed_out.items() if _leaks(text)}
    assert not leaked
    assert result.agents == stored_agents
    assert {r.agent_id: r for r in finished} == stored_agents
    for message in messages:
        assert message == stored_messages[message.uuid]


# --- Disguised shapes: URL-encoded, glued, split by a line break -----------------------------
DISGUISES = {
    "after a URL-encoded '='": "api_key%3D{}&x=1",
    "after %20": "key%20{}%20more",
    "after '+'": "key+{}+more",
    "glued to a letter": "x{}",
    "glued to a digit": "1{}",
}


@pytest.mark.parametrize("disguise", DISGUISES)
@pytest.mark.parametrize("name", SHAPES)
def test_url_encoded_and_glued_shapes_are_redacted(name: str, disguise: str) -> None:
    """A key after a URL escape (`%3D`, `%20`), a `+`, or glued to a letter or digit before it
    is replaced, in plain text and in a record's JSON, and nothing around it is."""
    from swarm._redaction import redact_text

    secret = SHAPES[name]
    text = f"see {DISGUISES[disguise].format(secret)} now"
    expected = text.replace(secret, REDACTED)
    assert redact_text(text, ()) == expected
    record = json.dumps({"content": text}, separators=(",", ":"))
    assert json.loads(redact_json(record)) == {"content": expected}


# Keys of their real length (Anthropic: sk-ant-api03- + 93 + AA; GitHub: ghp_ + 36; the
# fine-grained github_pat_ + 82), split anywhere by a line break.
REAL_LENGTH = {
    "anthropic": "sk-ant-api03-" + ("Qz7_x9Lm-K2" * 9)[:93] + "AA",
    "github classic": "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6",
    "github fine-grained": "github_pat_11" + ("AbC9dEf8_" * 10)[:80],
}
# Other kinds have no fixed length: split, their rest is taken when it fills the next line.
NO_FIXED_LENGTH = {
    "anthropic (test key)": "sk-ant-test-4f2a9c1e7b3d5a8f0e6c2b9d",
    "slack": SHAPES["slack"],
    "openai project": SHAPES["openai project"],
}


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("name", [*REAL_LENGTH, *NO_FIXED_LENGTH])
def test_a_key_split_by_a_line_break_is_redacted_whole(name: str, newline: str) -> None:
    """The part of a key after a line break does not survive: the rest of a key of known
    length is taken up to that length (the line goes on after it), the rest of any other
    key when it is all the next line holds. In plain text and in a record's JSON."""
    from swarm._redaction import redact_text

    secret = {**REAL_LENGTH, **NO_FIXED_LENGTH}[name]
    assert len(REAL_LENGTH["anthropic"]) == 108 and len(REAL_LENGTH["github classic"]) == 40
    for cut in (len(secret) // 3, len(secret) - 5):
        head, rest = secret[:cut], secret[cut:]
        after = " is the key" if name in REAL_LENGTH else ""
        text = f"the key:{newline}{head}{newline}{rest}{after}{newline}next line"
        expected = f"the key:{newline}{REDACTED}{after}{newline}next line"
        assert redact_text(text, ()) == expected, cut
        record = json.dumps({"content": text}, separators=(",", ":"))
        assert json.loads(redact_json(record)) == {"content": expected}, cut


@pytest.mark.parametrize(
    "text",
    [
        # a key complete before a line break: the next line is not part of it
        f"{REAL_LENGTH['github classic']}\nDone",
        f"{REAL_LENGTH['anthropic']}\nabcdefgh",
        # a plain word on the next line is text, not the rest of a key
        f"{SHAPES['slack']}\nafter",
        f"{SHAPES['openai project']}\nfollow-up",
        # an .env listing keeps its names
        f"ANTHROPIC_API_KEY={REAL_LENGTH['anthropic']}\nOPENAI_API_KEY={SHAPES['openai project']}",
    ],
)
def test_the_line_after_a_key_stays_when_it_is_not_the_key(text: str) -> None:
    """Only the key goes: a complete key's next line, a plain word, the next variable of an
    .env listing are all kept."""
    from swarm._redaction import redact_text

    expected = text
    for secret in [*REAL_LENGTH.values(), *SHAPES.values()]:
        expected = expected.replace(secret, REDACTED)
    assert redact_text(text, ()) == expected
    record = json.dumps({"content": text}, separators=(",", ":"))
    assert json.loads(redact_json(record)) == {"content": expected}


def test_url_encoded_forms_of_known_secrets_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registered secret with characters a URL escapes is also found in its escaped forms."""
    from swarm import _redaction as redaction

    monkeypatch.setattr(redaction, "_registered", set())
    monkeypatch.setattr(redaction, "_known", None)
    redaction.register_secrets(["pass word/with+plus&more"])
    text = "a=pass%20word%2Fwith%2Bplus%26more b=pass+word%2Fwith%2Bplus%26more"
    assert redaction.redact_text(text) == f"a={REDACTED} b={REDACTED}"


# --- Store URLs and plan errors never echo a secret -----------------------------------------
STORE_PASSWORD = "Pa55-w0rd-for-the-db"
DSN = f"postgresql://swarm:{STORE_PASSWORD}@db.example:5432/swarm?sslpassword=ssl-secret-99"
DSN_SHOWN = "postgresql://swarm:[redacted]@db.example:5432/swarm?sslpassword=[redacted]"


@pytest.mark.parametrize(
    "args",
    [
        ["run", "plan.yaml"],
        ["run", "plan.yaml", "--store", DSN],
        ["validate", "plan.yaml"],
        ["validate", "plan.yaml", "--json"],
        ["runs", "list", "--store", DSN],
        ["runs", "show", "latest", "--store", DSN],
        ["store", "verify", "--store", DSN],
        ["export", "latest", "--store", DSN],
    ],
)
def test_a_store_url_is_shown_without_its_password(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """A store URL with a password (and a secret-named option) in a plan or on the command
    line: whatever the command says about it, error line or not, names the store with its
    password and that option's value masked."""
    from swarm.cli import main

    plan = {
        "base": {"prompt": "p"},
        "backend": {"name": "simulated"},
        "store": {"url": DSN},
        "agents": [{"id": "a", "prompt": "p"}],
    }
    (in_tmp_cwd / "plan.yaml").write_text(yaml.safe_dump(plan))
    main(args)
    out, err = capsys.readouterr()
    assert STORE_PASSWORD not in out + err and "ssl-secret-99" not in out + err
    assert "db.example" in out + err  # it does say which store


async def test_a_run_record_keeps_its_store_url_without_the_password(tmp_path: Path) -> None:
    """The plan stored with a run (what `runs show` and `swarm resume` read) names its store
    with the password masked."""
    from swarm import ParallelSwarmExecutor
    from swarm.backends import SimulatedBackend

    # Built in code: plan files take only the store schemes swarm ships (sqlite, memory).
    plan = Plan.model_validate(
        {
            "base": {"prompt": "p"},
            "backend": {"name": "simulated", "simulated": {"latency_s": 0, "jitter": 0}},
            "store": {"url": DSN},
            "agents": [{"id": "a", "prompt": "p"}],
        }
    )
    async with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        result = await ParallelSwarmExecutor(SimulatedBackend(store), store).run(plan)
        record = await store.get_run(result.run_id)
    assert record is not None and record.plan["store"]["url"] == DSN_SHOWN
    raw = _store_bytes(tmp_path)
    assert STORE_PASSWORD.encode() not in raw and b"ssl-secret-99" not in raw


def _store_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith("store.db"))


GHP = SHAPES["github classic"]


@pytest.mark.parametrize(
    ("agent", "field"),
    [
        ({"max_turns": REAL_LENGTH["anthropic"]}, "agents[0].max_turns"),
        ({"priority": GHP}, "agents[0].priority"),
        ({"timeout_s": f"wait {GHP}"}, "agents[0].timeout_s"),
        ({"env": {"GITHUB_TOKEN": 4815162342}}, "agents[0].env.GITHUB_TOKEN"),
        ({"env": {"DB_PASSWORD": 2.718281828}}, "agents[0].env.DB_PASSWORD"),
        ({"fork_from": GHP}, "agents[0].fork_from"),
    ],
)
def test_plan_errors_never_quote_a_secret_back(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], agent: dict[str, Any], field: str
) -> None:
    """A bad value that is secret-shaped, or sits under a secret-looking name, is not quoted
    back in `(got ...)`: the error still names the field and what was expected, in the
    `swarm: error:` line and in `validate --json`."""
    from swarm.cli import main
    from swarm.errors import PlanError

    plan = {"base": {"prompt": "p"}, "agents": [{"id": "a", "prompt": "p", **agent}]}
    text = yaml.safe_dump(plan)
    raw = [REAL_LENGTH["anthropic"], GHP, "4815162342", "2.718281828"]
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml")
    (issue,) = caught.value.issues
    assert issue.field == field and "[redacted]" in issue.message
    (in_tmp_cwd / "plan.yaml").write_text(text)
    assert main(["validate", "plan.yaml"]) == 2
    assert main(["validate", "plan.yaml", "--json"]) == 2
    out, err = capsys.readouterr()
    assert re.search(rf"swarm: error: plan\.yaml:\d+: {re.escape(field)}: ", err)
    assert not [secret for secret in raw if secret in out + err]


# --- Ids: never secret-shaped, never rewritten -------------------------------------------------
TOKEN_ID = "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8"  # a classic GitHub token's shape, a safe id


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"agents": [{"id": TOKEN_ID, "prompt": "p"}]}, "agents[0].id"),
        (
            {"agents": [{"id": "a", "prompt": "p"}, {"id": "b", "prompt": "p",
                         "fork_from": {"agent": SHAPES["aws access key id"]}}]},
            "agents[1].fork_from.agent",
        ),
        ({"name": TOKEN_ID, "agents": [{"id": "a", "prompt": "p"}]}, "name"),
    ],
)  # fmt: skip
def test_a_secret_shaped_id_or_name_is_refused_naming_the_field(
    document: dict[str, Any], field: str
) -> None:
    """An agent id or plan name shaped like a token would be stored in plain text in key
    columns while its records say [redacted] (and `history`/`fork` could not find it): it is
    refused at validation, naming the field and why, without quoting the id back."""
    from swarm.errors import PlanError

    text = yaml.safe_dump({"base": {"prompt": "p"}, **document})
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml")
    said = [issue.message for issue in caught.value.issues if issue.field == field]
    assert any("looks like" in m and "plain text" in m for m in said), caught.value.issues
    assert TOKEN_ID not in str(caught.value)
    assert SHAPES["aws access key id"] not in str(caught.value)


def test_fork_ids_and_checkpoint_names_shaped_like_a_token_are_refused() -> None:
    """`swarm fork --agent-id` and `swarm checkpoints create --name` refuse a secret-shaped
    id or name the same way (both are stored and looked up as they are)."""
    from swarm.errors import UsageError
    from swarm.records import Checkpoint
    from swarm.timeline import check_name, fork_plan

    checkpoint = Checkpoint("c1", "s1", "m1", 1)
    with pytest.raises(UsageError, match="looks like a GitHub token") as forked:
        fork_plan(checkpoint, "go on", agent_id=TOKEN_ID)
    with pytest.raises(UsageError, match="looks like a GitHub token") as named:
        check_name(TOKEN_ID)
    assert TOKEN_ID not in str(forked.value) + str(named.value)


async def test_redaction_never_rewrites_an_id_so_keys_and_records_agree(tmp_path: Path) -> None:
    """Records written by a caller that bypassed validation, with token-shaped ids: the store
    still redacts their text but keeps every id field, so the record read back by its key
    column has the same id (a lookup by id, as `history` and `fork` make, finds it)."""
    from swarm.records import Checkpoint, Message, SessionRecord

    secret = SHAPES["slack"]
    async with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        await store.save_agents("run-1", [AgentResult(agent_id=TOKEN_ID, error=f"bad {secret}")])
        await store.save_session(SessionRecord(session_id=TOKEN_ID, backend="x", run_id="run-1"))
        message = Message(uuid=TOKEN_ID, session_id=TOKEN_ID, role="user", content=secret)
        await store.append_messages(TOKEN_ID, [message])
        await store.save_checkpoint(Checkpoint(TOKEN_ID, TOKEN_ID, TOKEN_ID, 1, description=secret))
        (agent,) = await store.list_agents("run-1")
        session = await store.get_session(TOKEN_ID)
        messages = await store.get_message_range(TOKEN_ID, upto=TOKEN_ID)
        (checkpoint,) = await store.list_checkpoints(TOKEN_ID)
    assert agent.agent_id == TOKEN_ID and agent.error == f"bad {REDACTED}"
    assert session is not None and session.session_id == TOKEN_ID
    assert [(m.uuid, m.session_id, m.content) for m in messages] == [(TOKEN_ID, TOKEN_ID, REDACTED)]
    assert (checkpoint.checkpoint_id, checkpoint.message_uuid) == (TOKEN_ID, TOKEN_ID)
    assert checkpoint.description == REDACTED


def test_plan_secrets_finds_values_under_secret_names_at_any_depth() -> None:
    """A string under a secret-looking key, or in lists (of lists) under one, is a secret;
    a dict's values go by their own keys, wherever it sits; other strings are not."""
    plan = {
        "agents": [
            {"id": "a", "env": {"GITHUB_TOKEN": "ghp-one", "MODE": "fast"}},
            {"id": "b", "options": {"api_keys": ["k-two", ["k-three"]]}},
        ],
        "backend": {"password": {"user": "not-a-secret", "secret": "s-four"}},
        "tokens": [{"note": "not-either"}, "t-five"],
        "prompt": "mentions a token: ghp-not-named",
    }
    assert sorted(plan_secrets(plan)) == ["ghp-one", "k-three", "k-two", "s-four", "t-five"]
