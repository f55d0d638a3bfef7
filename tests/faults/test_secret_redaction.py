"""Secrets from the environment and from a plan's env never reach the store file or the logs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from swarm.redaction import REDACTED, redact_json, redact_plan, restore_secrets

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
    from swarm import redaction

    monkeypatch.setattr(redaction, "_registered", set())
    monkeypatch.setattr(redaction, "_known", None)
    redaction.register_secrets(["12345678"])
    out = redact_json('{"n":12345678,"s":"x 12345678 y","k":"sk-ant-abcdefgh12345"}')
    import json

    assert json.loads(out) == {"n": 12345678, "s": f"x {REDACTED} y", "k": REDACTED}
