"""Logs: run and agent ids bound to every agent line, JSON on request, secrets redacted."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import structlog
import yaml

from swarm import configure_logging
from swarm._log import REDACTED, RedactSecrets, get_logger

from .helpers import make_plan, run_plan


async def test_json_logs_carry_run_and_agent_ids(autojump_clock: object) -> None:
    """Each agent's finish line is JSON with the run id and its agent id."""
    buffer = io.StringIO()
    configure_logging("info", json=True, stream=buffer)
    try:
        result, _, _ = await run_plan(make_plan([{"id": "a"}, {"id": "b"}]))
    finally:
        configure_logging("warning")
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    finished = [line for line in lines if line["event"] == "agent.finished"]
    assert {line["agent_id"] for line in finished} == {"a", "b"}
    assert all(line["run_id"] == result.run_id for line in lines)
    assert {line["level"] for line in lines} == {"info"}


def test_redaction_of_secret_fields_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fields named like secrets and key-shaped or environment secret values are masked."""
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-1234567890")
    processor = RedactSecrets()
    event = processor(
        None,
        "info",
        {
            "event": "calling with sk-ant-api03-abcdefghijklmnop",
            "api_key": "whatever",
            "detail": {"header": "Bearer tok-1234567890"},
            "count": 3,
        },
    )
    assert event["event"] == f"calling with {REDACTED}"
    assert event["api_key"] == REDACTED
    assert event["detail"] == {"header": f"Bearer {REDACTED}"}
    assert event["count"] == 3


def test_unknown_level_is_rejected() -> None:
    """An unknown log level is a clear ValueError, not a silent default."""
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("loud")
    structlog.reset_defaults()


def test_log_redaction_covers_pat_key_cookie_names_and_token_shapes() -> None:
    """Fields named `*_PAT`, `*_KEY`, `passwd` or cookie are blanked, GitHub, Slack, AWS and
    JWT shapes are masked in any value, and ordinary `key`-ish fields keep their values."""
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMDAwMA"
    event = RedactSecrets(environ={})(
        None,
        "info",
        {
            "event": f"pushing with ghp_{'a1' * 18} and xoxb-1234567890-abcdefghij",
            "GITHUB_PAT": "pat-value-123456",
            "openai_key": "openai-value-1234",
            "db_passwd": "passwd-value-1234",
            "session_cookie": "cookie-value-1234",
            "detail": {"auth": f"Bearer {jwt}", "aws": "AKIAIOSFODNN7EXAMPLE"},
            "key_points": "three points",
            "monkey": "business",
            "project_key": "-home-user-repo",
        },
    )
    assert event["event"] == f"pushing with {REDACTED} and {REDACTED}"
    for name in ("GITHUB_PAT", "openai_key", "db_passwd", "session_cookie"):
        assert event[name] == REDACTED
    assert event["detail"] == {"auth": f"Bearer {REDACTED}", "aws": REDACTED}
    assert (event["key_points"], event["monkey"]) == ("three points", "business")
    assert event["project_key"] == "-home-user-repo"


def test_unconfigured_swarm_loggers_print_only_warnings_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Until the application configures structlog, swarm's loggers drop debug and info and
    write warnings to stderr, redacted, nothing to stdout; configure_logging takes over."""
    structlog.reset_defaults()
    log = get_logger("swarm.test")
    try:
        bound = log.bind(run_id="r1")
        log.debug("quiet.debug")
        bound.info("quiet.info")
        bound.warning("loud.warning", api_key="k-123456789")
        out, err = capsys.readouterr()
        assert out == ""
        assert "loud.warning" in err and "run_id=r1" in err and "quiet" not in err
        assert "k-123456789" not in err and REDACTED in err
        buffer = io.StringIO()
        configure_logging("debug", stream=buffer)
        log.debug("now.debug")  # the same module-level logger follows the new set-up
        assert "now.debug" in buffer.getvalue()
        assert capsys.readouterr() == ("", "")
    finally:
        structlog.reset_defaults()


DEFERRED = """\
import json, sys
from swarm._log import configure_logging, configure_logging_when_used, get_logger
try:
    configure_logging_when_used("loud")
except ValueError as exc:
    print("refused:", exc)
configure_logging_when_used("debug", json=True)
print("structlog loaded:", "structlog" in sys.modules)
get_logger("swarm.test").debug("first.line", n=1)
print("structlog loaded:", "structlog" in sys.modules)
configure_logging_when_used("error")  # structlog is loaded now: applied at once
get_logger("swarm.test").warning("dropped.warning")
"""


def test_the_cli_log_level_loads_structlog_when_swarm_first_logs(tmp_path: Path) -> None:
    """``configure_logging_when_used`` (the CLI's ``--log-level``) refuses a bad level at
    once, imports structlog only when a swarm logger first logs, and that line follows
    the set-up it left; once structlog is loaded a new set-up applies at once."""
    done = subprocess.run(
        [sys.executable, "-c", DEFERRED],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.splitlines() == [
        "refused: unknown log level 'loud' (debug, info, warning, error)",
        "structlog loaded: False",
        "structlog loaded: True",
    ]
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["event"], line["level"], line["n"]) for line in lines] == [
        ("first.line", "debug", 1)
    ]


def test_configure_logging_replaces_a_set_up_left_for_later() -> None:
    """An explicit configure_logging wins over a set-up configure_logging_when_used left
    for the first line (which would otherwise be applied over it)."""
    code = (
        "import io, swarm._log as log\n"
        "log.configure_logging_when_used('debug')\n"
        "buffer = io.StringIO()\n"
        "log.configure_logging('warning', stream=buffer)\n"
        "log.get_logger('swarm.test').info('hidden.info')\n"
        "log.get_logger('swarm.test').warning('shown.warning')\n"
        "print(buffer.getvalue().strip())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "shown.warning" in done.stdout and "hidden.info" not in done.stdout
    assert done.stderr == ""


SCRIPT = """\
import trio
from swarm import ParallelSwarmExecutor, create_backend, load_plan, open_store

async def main():
    plan = load_plan("plan.yaml")
    async with open_store("memory://") as store:
        executor = ParallelSwarmExecutor(create_backend(plan.backend, store), store)
        result = await executor.run(plan)
    print("speedup", {a.agent_id: a.status.value for a in result.agents.values()})

trio.run(main)
"""


def test_the_readme_script_prints_only_its_own_output(tmp_path: Path) -> None:
    """The README's Python snippet, which never configures logging, prints its result line
    and not one log line, on stdout or stderr."""
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(make_plan_document()))
    (tmp_path / "script.py").write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, "script.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["speedup {'a': 'succeeded', 'b': 'succeeded'}"]
    assert done.stderr == ""


def make_plan_document() -> dict[str, object]:
    """Two simulated agents, no waiting."""
    return {
        "base": {"prompt": "shared context"},
        "agents": [{"id": "a", "prompt": "task a"}, {"id": "b", "prompt": "task b"}],
        "backend": {"name": "simulated", "simulated": {"latency_s": 0, "jitter": 0}},
    }
