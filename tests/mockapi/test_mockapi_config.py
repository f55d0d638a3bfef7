"""Rules files, the accounting rules, the environment helper and the command-line entry point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from swarm.errors import PlanError
from swarm.mockapi import (
    ErrorSpec,
    LatencyModel,
    MockAnthropicServer,
    MockAPIConfig,
    ReplyRule,
    ToolUse,
    cli_env,
    serve_forever,
)
from swarm.mockapi._accounting import PromptCache, input_tokens, prompt_segments

RULES_YAML = """\
latency: {ttft: 0.1, tps: 50}
error_rate: 0.25
seed: 9
rules:
  - name: writer
    match: "write (\\\\w+)"
    text: "Writing."
    tool_uses:
      - name: Write
        input: {file_path: /tmp/a.txt, content: "hello"}
  - match: flaky
    error: {type: rate_limit_error, retry_after: 0}
    fail_first: 2
    latency: {ttft: 0.5}
"""


def test_yaml_rules_file_loads_every_field(tmp_path: Path) -> None:
    """A YAML config file yields the same rules as building them in Python."""
    path = tmp_path / "rules.yaml"
    path.write_text(RULES_YAML)
    config = MockAPIConfig.from_file(path)
    assert config.latency == LatencyModel(ttft=0.1, tps=50)
    assert config.error_rate == 0.25 and config.seed == 9
    writer, flaky = config.rules
    assert writer.name == "writer"
    assert writer.tool_uses == (ToolUse.write_file("/tmp/a.txt", "hello"),)
    assert writer.matches("please write notes", "", has_tool_result=False)
    assert flaky.error == ErrorSpec(type="rate_limit_error", retry_after=0)
    assert flaky.fail_first == 2
    assert flaky.latency == LatencyModel(ttft=0.5)


def test_json_list_of_rules_and_overrides(tmp_path: Path) -> None:
    """A JSON file holding just a list of rules loads too, and overrides win."""
    path = tmp_path / "rules.json"
    path.write_text(json.dumps([{"match": "hi", "text": "hello"}]))
    config = MockAPIConfig.from_file(path, seed=5)
    assert config.rules == (ReplyRule(match="hi", text="hello"),)
    assert config.seed == 5


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("rules: [{match: hi, txt: typo}]", "rules.0.txt"),
        ("rules: [{match: '(unclosed'}]", "rules.0.match"),
        ("rules: [{fail_first: 1}]", "rules.0"),
        ("error_rate: 2", "error_rate"),
        ("rules: [{error: {type: teapot_error}}]", "rules.0.error.type"),
    ],
)
def test_invalid_rules_file_names_the_field(tmp_path: Path, content: str, field: str) -> None:
    """A bad rules file raises PlanError pointing at the file and the offending field."""
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(PlanError) as caught:
        MockAPIConfig.from_file(path)
    assert caught.value.issues[0].field == field
    assert caught.value.issues[0].file == str(path)


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
)


@pytest.mark.parametrize("target", ["alias-bomb", "/dev/zero", "fifo", "dir", "big", "dup"])
def test_rules_files_get_the_plan_files_guards(tmp_path: Path, target: str) -> None:
    """An alias bomb, /dev/zero, a FIFO, a directory, a file over 10 MB or a duplicate key
    in a rules file is refused at once with one issue naming the file, never read whole."""
    expected = {
        "alias-bomb": "more than 200000 values (aliases expanded)",
        "/dev/zero": "not a regular file",
        "fifo": "not a regular file",
        "dir": "is a directory; expected a rules file",
        "big": "is larger than 10 MB, the most a rules file may be",
        "dup": "duplicate key",
    }[target]
    path = Path(target) if target.startswith("/") else tmp_path / target
    if target == "alias-bomb":
        path.write_text(ALIAS_BOMB)  # 10**9 values once expanded, from 400 bytes
    elif target == "fifo":
        os.mkfifo(path)
    elif target == "dir":
        path.mkdir()
    elif target == "big":
        with path.open("wb") as f:
            f.truncate(10 * 2**20 + 1)
    elif target == "dup":
        path.write_text("seed: 1\nrules: []\nseed: 2\n")
    with pytest.raises(PlanError) as caught:
        MockAPIConfig.from_file(path)
    (issue,) = caught.value.issues
    assert issue.file == str(path) and expected in issue.message


def test_rules_file_errors_give_the_line(tmp_path: Path) -> None:
    """A bad field of a rules file is reported at its line, in a list of rules too."""
    path = tmp_path / "rules.yaml"
    path.write_text("- {match: hi, text: ok}\n- match: bye\n  txt: typo\n")
    with pytest.raises(PlanError) as caught:
        MockAPIConfig.from_file(path)
    (issue,) = caught.value.issues
    assert str(issue).startswith(f"{path}:3: rules.1.txt:")


def test_rule_skips_tool_result_turns_unless_asked() -> None:
    """A rule answers fresh prompts only, unless after_tool_result is set."""
    plain = ReplyRule(match="done")
    follow = ReplyRule(match="done", after_tool_result=True)
    assert plain.matches("done", "", has_tool_result=False)
    assert not plain.matches("done", "", has_tool_result=True)
    assert follow.matches("done", "", has_tool_result=True)


def _body(messages: list[Any], system: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "max_tokens": 1, "messages": messages}
    if system is not None:
        body["system"] = system
    return body


def test_string_and_block_content_count_and_cache_alike() -> None:
    """String content and one text block (with or without cache_control) are the same prompt."""
    as_string = _body([{"role": "user", "content": "hello there"}], system="sys")
    as_blocks = _body(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hello there", "cache_control": {"type": "ephemeral"}}
                ],
            }
        ],
        system=[{"type": "text", "text": "sys"}],
    )
    assert input_tokens(as_string) == input_tokens(as_blocks)
    cache = PromptCache()
    written = cache.account("m", prompt_segments(as_blocks), 1)
    assert written.cache_creation_input_tokens == input_tokens(as_blocks)
    assert written.input_tokens == 0 and written.cache_read_input_tokens == 0
    # A top-level cache_control (automatic caching) puts the breakpoint on the last message.
    read = cache.account("m", prompt_segments({**as_string, "cache_control": {"type": "x"}}), 1)
    assert read.cache_read_input_tokens == input_tokens(as_string)
    assert read.input_tokens == 0


def test_billing_header_block_and_model_scope_the_cache() -> None:
    """Claude Code's billing line is not prompt, and caches are per model."""

    def request(version: str) -> dict[str, Any]:
        system = [
            {"type": "text", "text": f"x-anthropic-billing-header: cc_version={version};"},
            {"type": "text", "text": "agent " * 50, "cache_control": {"type": "ephemeral"}},
        ]
        return _body([{"role": "user", "content": f"task {version}"}], system=system)

    cache = PromptCache()
    first = cache.account("m", prompt_segments(request("a1")), 1)
    second = cache.account("m", prompt_segments(request("b2")), 1)
    other_model = cache.account("m2", prompt_segments(request("c3")), 1)
    assert first.cache_creation_input_tokens > 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert other_model.cache_read_input_tokens == 0


def test_reads_stop_at_the_last_breakpoint() -> None:
    """A prefix written past this request's last breakpoint is not read; none at all: no cache."""

    def body(marked: int | None) -> dict[str, Any]:
        messages: list[Any] = [
            {"role": role, "content": [{"type": "text", "text": f"{role} {i} " * 40}]}
            for i, role in enumerate(("user", "assistant", "user"))
        ]
        if marked is not None:
            block = messages[marked]["content"][0]
            messages[marked]["content"][0] = {**block, "cache_control": {"type": "ephemeral"}}
        return _body(messages)

    cache = PromptCache()
    whole = cache.account("m", prompt_segments(body(2)), 1)
    assert whole.cache_creation_input_tokens == input_tokens(body(2))
    unmarked = cache.account("m", prompt_segments(body(None)), 1)
    assert unmarked.input_tokens == input_tokens(body(None))  # the same prompt, paid in full
    early = cache.account("m", prompt_segments(body(0)), 1)
    first_message = prompt_segments(body(0))[0].tokens
    assert early.cache_read_input_tokens == 0  # only the whole prompt was written
    assert early.cache_creation_input_tokens == first_message
    assert early.input_tokens == input_tokens(body(0)) - first_message


def test_disabled_cache_bills_everything_as_input() -> None:
    """With cache=False every request pays full input and no cache fields."""
    body = _body([{"role": "user", "content": "same"}])
    cache = PromptCache(enabled=False)
    for _ in range(2):
        usage = cache.account("m", prompt_segments(body), 3)
        assert usage.input_tokens == input_tokens(body)
        assert usage.cache_read_input_tokens == usage.cache_creation_input_tokens == 0


def test_cli_env_points_the_cli_at_the_fake(tmp_path: Path) -> None:
    """cli_env isolates HOME/config and sets the offline switches and retry count."""
    env = cli_env("http://127.0.0.1:1234", tmp_path, max_retries=2)
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:1234"
    assert env["HOME"] == str(tmp_path)
    assert env["CLAUDE_CONFIG_DIR"] == str(tmp_path / ".claude")
    assert env["ANTHROPIC_API_KEY"]
    for name in ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "DISABLE_TELEMETRY"):
        assert env[name] == "1"
    assert env["DISABLE_AUTOUPDATER"] == "1"
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "2"
    assert "CLAUDE_CODE_MAX_RETRIES" not in cli_env("http://x", tmp_path, max_retries=None)


async def test_serve_forever_reports_ready_and_logs_requests() -> None:
    """serve_forever calls on_ready with a live server and on_request per finished request."""
    ready: list[MockAnthropicServer] = []
    lines: list[str] = []
    async with trio.open_nursery() as nursery:
        started = trio.Event()

        def on_ready(server: MockAnthropicServer) -> None:
            ready.append(server)
            started.set()

        nursery.start_soon(
            serve_forever,
            MockAPIConfig(),
            "127.0.0.1",
            0,
            on_ready,
            lambda r: lines.append(r.one_line()),
        )
        await started.wait()
        async with httpx.AsyncClient(base_url=ready[0].base_url) as http:
            assert (await http.head("/api/hello")).status_code == 200
        nursery.cancel_scope.cancel()
    assert lines and lines[0].startswith("#0 HEAD /api/hello 200")


async def test_python_m_entry_point_prints_base_url_and_logs(tmp_path: Path) -> None:
    """``python -m swarm.mockapi`` prints the URL and exports, then one line per request."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {match: ping, text: pong}\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "swarm.mockapi", "--port", "0", "--rules", str(rules)]
    command += ["--ttft", "0", "--tps", "500", "--error-rate", "0", "--seed", "1"]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE, env=env)
    assert process.stdout is not None
    output = b""
    try:
        with trio.fail_after(20):
            while b"setting_sources" not in output:
                output += await process.stdout.receive_some()
            text = output.decode()
            base_url = text.split("listening on ", 1)[1].split()[0]
            assert f"export ANTHROPIC_BASE_URL={base_url}" in text
            assert "export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1" in text
            body = {
                "model": "m",
                "max_tokens": 9,
                "messages": [{"role": "user", "content": "ping"}],
            }
            async with httpx.AsyncClient(base_url=base_url) as http:
                reply = await http.post("/v1/messages", json=body)
            assert reply.json()["content"][0]["text"] == "pong"
            while b"rule[0]" not in output:
                output += await process.stdout.receive_some()
            process.send_signal(signal.SIGINT)  # Ctrl-C ends it with the conventional 130
            assert await process.wait() == 130
    finally:
        process.kill()
        await process.wait()
    assert "#0 POST /v1/messages 200" in output.decode()


def test_python_m_entry_point_rejects_public_host() -> None:
    """A non-loopback --host exits with the usage error code and a clear message."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "swarm.mockapi", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode == 2
    assert "only listens on loopback" in done.stderr


def test_mock_api_command_refuses_bad_rules_files_and_sizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`swarm mock-api --rules BOMB` and `--max-request-mb 0` exit 2 with one error line
    before serving; the flag sets the cap the server enforces."""
    from swarm.cli import main
    from swarm.cli._mock_api import mock_api_config

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    assert main(["mock-api", "--rules", str(bomb)]) == 2
    err = capsys.readouterr().err
    assert err == f"swarm: error: {bomb}: more than 200000 values (aliases expanded)\n"
    for bad in ("0", "nan", "-1"):
        assert main(["mock-api", "--max-request-mb", bad]) == 2
        assert "--max-request-mb" in capsys.readouterr().err
    assert mock_api_config(None, max_request_mb=2).max_request_bytes == 2 * 2**20
    assert MockAPIConfig().max_request_bytes == 32 * 2**20  # the real API's limit
