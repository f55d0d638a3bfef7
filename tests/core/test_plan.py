"""Plan files: validation errors name the file, line and field; defaults merge."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from swarm import PlanError, Priority, load_plan, parse_plan
from swarm.plan import Plan, plan_json_schema

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
name: demo
base:
  prompt: read it
defaults:
  model: claude-test
  timeout_s: 30
agents:
  - id: a
    prompt: do a
  - id: b
    prompt: do b
    priority: high
    model: other
"""


def issues_of(text: str, file: str = "plan.yaml") -> list[str]:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, file)
    return [str(issue) for issue in caught.value.issues]


def test_defaults_merge_into_agents() -> None:
    """Agents inherit plan defaults unless they set their own."""
    plan = parse_plan(GOOD, "plan.yaml")
    a, b = (plan.resolved(agent) for agent in plan.agents)
    assert (a.model, a.timeout_s, a.priority) == ("claude-test", 30, Priority.MEDIUM)
    assert (b.model, b.timeout_s, b.priority) == ("other", 30, Priority.HIGH)
    assert plan.execution.mode == "window" and plan.execution.max_parallel == 4


def test_wrong_value_names_file_line_and_field() -> None:
    """A bad priority is reported at its own line with the accepted values."""
    text = GOOD.replace("priority: high", "priority: urgent")
    (issue,) = issues_of(text)
    assert issue.startswith("plan.yaml:12: agents[1].priority:")
    assert "'critical', 'high', 'medium' or 'low'" in issue and "urgent" in issue


def test_unknown_field_is_reported_with_its_line() -> None:
    """A misspelt key is an error at its line, not silently ignored."""
    text = GOOD.replace("  timeout_s: 30", "  timeout_s: 30\n  max_turn: 5")
    (issue,) = issues_of(text)
    assert issue == "plan.yaml:7: defaults.max_turn: unknown field (check its spelling)"


def test_missing_prompt_and_unsafe_id() -> None:
    """A missing required field and an id with a path in it are both reported."""
    text = "base: {prompt: x}\nagents:\n  - id: ../etc\n    type: t\n"
    found = issues_of(text)
    assert any(i.startswith("plan.yaml:3: agents[0].id:") and "../etc" in i for i in found)
    assert any(i.startswith("plan.yaml:3: agents[0].prompt: required field") for i in found)


def test_duplicate_ids_and_bad_base() -> None:
    """Duplicate agent ids and a base with both session and prompt are plan errors."""
    (dup,) = issues_of("base: {prompt: x}\nagents: [{id: a, prompt: p}, {id: a, prompt: q}]\n")
    assert "used twice" in dup and dup.startswith("plan.yaml:2: agents[1].id:")
    (base,) = issues_of("base:\n  prompt: x\n  session: s\nagents: [{id: a, prompt: p}]\n")
    assert base.startswith("plan.yaml:2: base:") and "exactly one" in base


def test_fork_from_cycle_and_unknown_agent() -> None:
    """fork_from naming an unknown agent or making a cycle is rejected."""
    (unknown,) = issues_of(
        "base: {prompt: x}\nagents:\n  - {id: a, prompt: p, fork_from: {agent: zz}}\n"
    )
    assert unknown.startswith("plan.yaml:3: agents[0].fork_from.agent:")
    assert "unknown agent" in unknown and "(got 'zz')" in unknown
    (cycle,) = issues_of(
        "base: {prompt: x}\nagents:\n"
        "  - {id: a, prompt: p, fork_from: {agent: b}}\n"
        "  - {id: b, prompt: p, fork_from: {agent: a}}\n"
    )
    assert "cycle" in cycle and "a -> b -> a" in cycle
    assert cycle.startswith("plan.yaml:3: agents[0].fork_from.agent:")


def test_yaml_syntax_error_names_its_line() -> None:
    """Broken YAML is reported at the line the parser stopped on."""
    (issue,) = issues_of("base: {prompt: x}\nagents:\n  - id: a\n   prompt: [unclosed\n")
    assert issue.startswith("plan.yaml:4: not valid YAML")


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    """A missing file and a plan that is not a mapping get clear errors."""
    with pytest.raises(PlanError, match="no such file"):
        load_plan(tmp_path / "absent.yaml")
    (issue,) = issues_of("- just\n- a list\n")
    assert "expected a mapping" in issue


def test_config_errors_name_the_config_file(tmp_path: Path) -> None:
    """An error coming from the configuration file names that file and line."""
    config = tmp_path / "config.yaml"
    config.write_text("execution:\n  max_parallel: -1\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(GOOD)
    with pytest.raises(PlanError) as caught:
        load_plan(plan, config_path=config)
    assert str(caught.value).startswith(f"{config}:2: execution.max_parallel:")


def test_shipped_config_matches_the_models() -> None:
    """configs/default.yaml validates and agrees with the built-in defaults it documents."""
    plan = load_plan(REPO / "examples" / "plan.yaml", config_path=REPO / "configs" / "default.yaml")
    assert plan.store.url == "sqlite:///sessions/swarm.db"
    assert plan.execution.max_parallel == 4
    assert plan.resolved(plan.agents[0]).max_turns == 4  # the plan wins over the config


def test_example_plan_is_valid_and_mixed() -> None:
    """The shipped example has at least six agents of mixed priorities."""
    plan = load_plan(REPO / "examples" / "plan.yaml")
    assert len(plan.agents) >= 6
    assert {a.priority for a in plan.agents} == set(Priority)


def test_json_schema_describes_the_plan() -> None:
    """The JSON Schema is valid JSON and lists the plan's sections and priorities."""
    schema = plan_json_schema()
    json.dumps(schema)
    assert set(Plan.model_fields) <= set(schema["properties"])
    assert "critical" in json.dumps(schema)


def test_overrides_are_validated() -> None:
    """Command-line style overrides go through the same validation."""
    plan = parse_plan(GOOD, "plan.yaml")
    assert plan.with_overrides(execution={"max_parallel": 9}).execution.max_parallel == 9
    with pytest.raises(Exception, match="max_parallel"):
        plan.with_overrides(execution={"max_parallel": 0})


# --- audit fixes: each test names the gap it closes ----------------------------------


def test_packaged_default_config_is_identical_to_the_repository_one() -> None:
    """The default configuration shipped in the package is byte-for-byte configs/default.yaml."""
    from swarm.plan import PACKAGED_CONFIG

    shipped = (REPO / "configs" / "default.yaml").read_bytes()
    assert PACKAGED_CONFIG.read_bytes() == shipped, (
        "configs/default.yaml changed: copy it to swarm/default_config.yaml"
    )


def test_defaults_do_not_depend_on_the_working_directory(in_tmp_cwd: Path) -> None:
    """Without ./configs/default.yaml the packaged defaults apply, e.g. the per-agent timeout."""
    from swarm.plan import PACKAGED_CONFIG, default_config_path

    assert default_config_path() == PACKAGED_CONFIG
    (in_tmp_cwd / "plan.yaml").write_text("base: {prompt: x}\nagents: [{id: a, prompt: p}]\n")
    plan = load_plan(in_tmp_cwd / "plan.yaml")
    agent = plan.resolved(plan.agents[0])
    assert (agent.max_turns, agent.timeout_s) == (20, 600)
    (in_tmp_cwd / "configs").mkdir()
    (in_tmp_cwd / "configs" / "default.yaml").write_text("defaults: {max_turns: 3}\n")
    assert default_config_path() == in_tmp_cwd / "configs" / "default.yaml"
    assert load_plan(in_tmp_cwd / "plan.yaml").defaults.max_turns == 3


def test_permission_modes_are_those_of_the_sdk() -> None:
    """permission_mode accepts exactly claude_agent_sdk's PermissionMode values."""
    import typing

    from claude_agent_sdk.types import PermissionMode

    from swarm.plan import PERMISSION_MODES

    assert set(PERMISSION_MODES) == set(typing.get_args(PermissionMode))
    (issue,) = issues_of(
        GOOD.replace("  timeout_s: 30", "  timeout_s: 30\n  permission_mode: yolo")
    )
    assert issue.startswith("plan.yaml:7: defaults.permission_mode:")
    assert "'acceptEdits'" in issue and "(got 'yolo')" in issue


def test_an_empty_model_name_is_refused() -> None:
    """`model: ""` (or blanks) is a plan error at its line, not a run-time failure."""
    (issue,) = issues_of(GOOD.replace("model: other", 'model: ""'))
    assert issue.startswith("plan.yaml:13: agents[1].model: expected a model name")


def test_cwd_must_be_an_existing_directory(in_tmp_cwd: Path) -> None:
    """A cwd that does not exist is reported with its field, line and resolved path."""
    (in_tmp_cwd / "work").mkdir()
    (in_tmp_cwd / "file.txt").write_text("x")
    plan = in_tmp_cwd / "plan.yaml"
    plan.write_text(
        "base: {prompt: x}\ndefaults: {cwd: work}\nagents:\n"
        "  - {id: a, prompt: p, cwd: /nonexistent/dir}\n"
        "  - {id: b, prompt: p, cwd: file.txt}\n"
    )
    with pytest.raises(PlanError) as caught:
        load_plan(plan)
    first, second = (str(issue) for issue in caught.value.issues)
    assert first == f"{plan}:4: agents[0].cwd: no such directory: /nonexistent/dir"
    assert second.startswith(f"{plan}:5: agents[1].cwd: not a directory: file.txt")
    assert str(in_tmp_cwd / "file.txt") in second
    plan.write_text(
        "base: {prompt: x}\ndefaults: {cwd: work, bogus: 1}\nagents: [{id: a, prompt: p}]\n"
        "backend: {name: claude, options: {cwd: gone}}\n"
    )
    with pytest.raises(PlanError) as caught:
        load_plan(plan)
    unknown, gone = (str(issue) for issue in caught.value.issues)  # one report holds both
    assert unknown.startswith(f"{plan}:2: defaults.bogus: unknown field")
    assert gone.startswith(f"{plan}:4: backend.options.cwd: no such directory: gone")
    plan.write_text("base: {prompt: x}\ndefaults: {cwd: work}\nagents: [{id: a, prompt: p}]\n")
    assert load_plan(plan).defaults.cwd == "work"


@pytest.mark.parametrize(
    ("backend", "known"),
    [
        (
            "claude",
            "bare, cli_path, cwd, exclude_dynamic_sections, model, preset_system_prompt, "
            "rehearsal, retry, session_store",
        ),
        ("anthropic", "api_key, base_url, max_tokens, model, prices, prompt_caching"),
    ],
)
def test_unknown_backend_options_are_refused(backend: str, known: str) -> None:
    """backend.options keys the named backend does not read are errors listing the known ones."""
    text = GOOD + f"backend:\n  name: {backend}\n  options:\n    bogus_option: 1\n"
    (issue,) = issues_of(text)
    assert issue == (
        f"plan.yaml:17: backend.options.bogus_option: not an option of the {backend} backend; "
        f"expected one of: {known}"
    )


def test_backend_options_a_plan_may_give() -> None:
    """Known options pass; without a name any real backend's options pass (the backend
    is chosen at run time), and `--backend simulated` rehearses such a plan offline."""
    for name in ("", "name: claude, "):
        plan = parse_plan(GOOD + f"backend: {{{name}options: {{model: m, cli_path: c}}}}\n")
        assert plan.backend.options == {"model": "m", "cli_path": "c"}
        rehearsed = plan.with_overrides(
            flags={"backend.name": "--backend"}, backend={"name": "simulated"}
        )
        assert rehearsed.backend.name == "simulated"
    (issue,) = issues_of(GOOD + "backend: {options: {bogus: 1}}\n")
    assert "not an option of any backend" in issue


def test_options_of_another_backend_are_refused_naming_what_it_takes() -> None:
    """A plan naming `simulated` with a real backend's options (which it would silently
    ignore) is refused at that option's line, saying the backend takes none; a real
    backend's refusal lists the options it takes."""
    (issue,) = issues_of(GOOD + "backend:\n  name: simulated\n  options: {cli_path: c}\n")
    assert issue == (
        "plan.yaml:16: backend.options.cli_path: not an option of the simulated backend; "
        "it takes none (its settings are backend.simulated)"
    )
    (issue,) = issues_of(GOOD + "backend: {name: anthropic, options: {cli_path: c}}\n")
    assert issue.startswith("plan.yaml:14: backend.options.cli_path: not an option of the ")
    assert "anthropic backend; expected one of: api_key, base_url, max_tokens, model" in issue


@pytest.mark.parametrize(
    ("options", "field", "expected"),
    [
        ("{session_store: 'no'}", "session_store", "Input should be a valid boolean (got 'no')"),
        ("{prompt_caching: 'false'}", "prompt_caching", "valid boolean (got 'false')"),
        ("{max_tokens: 2.5}", "max_tokens", "valid integer (got 2.5)"),
        ("{max_tokens: 0}", "max_tokens", "greater than or equal to 1 (got 0)"),
        ("{retry: {max_attempts: true}}", "retry.max_attempts", "valid integer (got True)"),
        ("{retry: {tries: 3}}", "retry.tries", "unknown field"),
        (
            "{prices: {opus: {input: 1, output: 5, cache_write: 1}}}",
            "prices.opus.cache_read",
            "required field is missing",
        ),
        ("{base_url: localhost:8080}", "base_url", "expected an http:// or https:// URL"),
        ("{rehearsal: {rules: [{txt: hi}]}}", "rehearsal.rules[0].txt", "unknown field"),
        ("{rehearsal: {error_rate: 2}}", "rehearsal.error_rate", "less than or equal to 1"),
    ],
)
def test_backend_option_values_are_typed(options: str, field: str, expected: str) -> None:
    """Backend options are checked like the rest of the plan, at their line: bools are
    bools ('no' was True), counts are integers, the fake API's script validates."""
    (issue,) = issues_of(GOOD + f"backend:\n  options: {options}\n")
    assert issue.startswith(f"plan.yaml:15: backend.options.{field}: ") and expected in issue


@pytest.mark.parametrize("name", ["../evil", "a/b", "my plan", ".hidden", "a..b", "", "x" * 65])
def test_plan_names_are_restricted_like_ids(name: str) -> None:
    """A plan name with a path, blanks or odd characters is refused at its line."""
    (issue,) = issues_of(GOOD.replace("name: demo", f"name: {json.dumps(name)}"))
    assert issue.startswith("plan.yaml:1: name: expected letters, digits")
    assert f"(got {name!r})" in issue


def test_stored_plans_with_old_names_still_load() -> None:
    """The file-only rules (names, ids, env, options, fork points, store URL) do not stop
    a stored plan from loading again."""
    plan = parse_plan(GOOD)
    document = plan.model_dump(mode="json")
    document["name"] = "an old name"
    document["backend"]["options"] = {"retired_option": 1}
    document["agents"][0].update(id="a..b", env={"A=B": "x"}, fork_at="u")
    document["store"]["url"] = "retired://scheme"
    stored = Plan.model_validate(document)
    assert stored.name == "an old name" and stored.agents[0].id == "a..b"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("junk://x", "unknown scheme 'junk'; expected sqlite:///path/to/file.db"),
        ("postgresql://u:pw@host/", "has no database name"),
        ("", "is empty"),
        (" ", "is empty"),
        (" sessions/x.db", "starts or ends with a space"),
        ("sqlite:///x\u0001.db", "has a control character"),
        ("sqlite:///", "has no file path"),
        (
            "sqlite:///x.db?colour=red",
            "unknown option 'colour' (synchronous, max_size_mb, mode, writer)",
        ),
        ("sqlite:///x.db?writer=fork", "writer must be auto|thread|process"),
        ("sqlite:///x.db?mode=ro&mode=rw", "option 'mode' is given twice"),
        ("sqlite:///x.db?mode", "options must be name=value pairs"),
        ("sqlite:///x.db?mode=zz", "mode must be rw or ro"),
        ("sqlite:///x.db?synchronous=fast", "synchronous must be off|normal|full|extra"),
        ("sqlite:///x.db?max_size_mb=inf", "max_size_mb must be a positive number"),
        ("sqlite://[x/y.db", "Invalid IPv6 URL"),
        ("memory://x", "memory:// takes no path or options"),
        ("sqlite://user:hunter2@/x.db", "a sqlite URL takes no user or password"),
    ],
)
def test_store_urls_are_checked_with_the_plan(url: str, expected: str) -> None:
    """A store URL `swarm run` would refuse is refused by validation, at store.url's line,
    the URL shown masked (it may hold a password): the same parser decides both."""
    from swarm._redaction import mask_url
    from swarm.stores import StoreURLError, parse_store_url

    (issue,) = issues_of(GOOD + f"store: {{url: {json.dumps(url)}}}\n")
    assert issue.startswith("plan.yaml:14: store.url: ") and expected in issue
    assert f"(got {mask_url(url)!r})" in issue and "hunter2" not in issue

    with pytest.raises(StoreURLError, match=re.escape(expected)):
        parse_store_url(url)


@pytest.mark.parametrize(
    "url", ["memory://", "memory:", "sqlite:///sessions/x.db?synchronous=off&max_size_mb=5", "x.db"]
)
def test_good_store_urls_pass(url: str) -> None:
    """The URLs the docs give pass, options and bare paths included."""
    assert parse_plan(GOOD + f"store: {{url: {json.dumps(url)}}}\n").store.url == url


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("max_turns", "true", "Input should be a valid integer (got True)"),
        ("max_turns", "1.0e+29", "Input should be a valid integer (got 1e+29)"),
        ("max_turns", "'5'", "Input should be a valid integer (got '5')"),
        ("max_turns", "2.5", "Input should be a valid integer (got 2.5)"),
        ("max_turns", "100000000000000000000", "less than or equal to 1000000 (got 10000000000"),
        ("timeout_s", ".inf", "Input should be a finite number (got inf)"),
        ("timeout_s", ".nan", "Input should be a finite number (got nan)"),
        ("timeout_s", "-1", "Input should be greater than 0 (got -1)"),
        ("timeout_s", "'30'", "Input should be a valid number (got '30')"),
        ("timeout_s", "false", "Input should be a valid number (got False)"),
    ],
)
def test_lax_numbers_are_refused(field: str, value: str, expected: str) -> None:
    """`true`, a string, a fraction or a huge value for a count, and an infinite, NaN or
    negative timeout are errors at their line, not coerced (`true` was 1 turn, `.inf` was
    stored as null)."""
    text = GOOD.replace("  timeout_s: 30\n", f"  timeout_s: 30\n  {field}: {value}\n")
    if field == "timeout_s":
        text = GOOD.replace("  timeout_s: 30\n", f"  timeout_s: {value}\n")
    (issue,) = issues_of(text)
    assert issue.startswith(f"plan.yaml:{6 if field == 'timeout_s' else 7}: defaults.{field}: ")
    assert expected in issue


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("execution: {fail_fast: 'yes'}", "execution.fail_fast: Input should be a valid boolean"),
        ("execution: {max_parallel: 2.0}", "execution.max_parallel: Input should be a valid int"),
        ("backend: {seed: true}", "backend.seed: Input should be a valid integer"),
        ("checkpoints: {every: true}", "checkpoints.every: Input should be a valid integer"),
        ("backend: {simulated: {latency_s: .inf}}", "latency_s: Input should be a finite number"),
        ("backend: {simulated: {turns: 100000}}", "turns: Input should be less than or equal"),
        ("execution: {budget: {max_cost_usd: .inf}}", "max_cost_usd: Input should be a finite"),
        ("execution: {continue_prompt: '  '}", "continue_prompt: expected some text"),
    ],
)
def test_lax_values_elsewhere_are_refused(section: str, expected: str) -> None:
    """The same strictness in every section: bools are bools, counts integers, numbers finite."""
    (issue,) = issues_of(GOOD + section + "\n")
    assert issue.startswith("plan.yaml:14: ") and expected in issue


def test_ids_and_names_share_one_rule() -> None:
    """`a..b` is refused as an agent id (and a fork_from agent) as it is as a plan name,
    with the same words."""
    from swarm._names import SAFE_ID_RULE

    for text, line, field in [
        (GOOD.replace("id: a\n", "id: a..b\n"), 8, "agents[0].id"),
        (GOOD.replace("name: demo", "name: a..b"), 1, "name"),
    ]:
        (issue,) = issues_of(text)
        assert issue == f"plan.yaml:{line}: {field}: {SAFE_ID_RULE} (got 'a..b')"
    (issue, *_) = issues_of(GOOD + "  - {id: c, prompt: p, fork_from: {agent: a..b}}\n")
    assert issue.startswith("plan.yaml:14: agents[2].fork_from.agent: " + SAFE_ID_RULE)


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        ("{A=B: x}", "A=B", "expected a variable name: not empty, without '='"),
        ("{'': x}", "''", "expected a variable name"),
        ('{"A\\0B": x}', "A\x00B", "without '=' or a NUL character"),
        ('{TOKEN: "sec\\0ret"}', "TOKEN", "has a NUL character, which no environment variable"),
    ],
)
def test_env_that_no_process_can_take_is_refused(env: str, field: str, expected: str) -> None:
    """An env name that is empty or holds '=' or NUL, or a value with NUL, fails every
    agent's CLI at exec: it is refused at its line, a value without being echoed."""
    (issue,) = issues_of(GOOD + f"    env: {env}\n")
    assert issue.startswith(f"plan.yaml:14: agents[1].env.{field}: ") and expected in issue
    assert "sec" not in issue


def test_fork_points_that_cannot_exist_are_refused() -> None:
    """fork_at with fork_from (two fork points), fork_at on a base built from a prompt (it
    has no uuids yet), and a fork_from.checkpoint no checkpoint can be called."""
    (both,) = issues_of(GOOD + "  - {id: c, prompt: p, fork_at: u1, fork_from: {agent: a}}\n")
    assert both.startswith("plan.yaml:14: agents[2].fork_at: fork_at is a message of the base")
    (prompt_base,) = issues_of(GOOD + "  - {id: c, prompt: p, fork_at: u1}\n")
    assert prompt_base.startswith("plan.yaml:14: agents[2].fork_at: fork_at needs base.session")
    session_base = GOOD.replace("  prompt: read it", "  session: s1") + "    fork_at: u1\n"
    assert parse_plan(session_base).agents[1].fork_at == "u1"  # checked against the store
    for ref, problem in [
        ("''", "is empty"),
        ("../x", "has a path separator"),
        (".x", "starts with '.'"),
    ]:
        text = GOOD + f"  - {{id: c, prompt: p, fork_from: {{agent: a, checkpoint: {ref}}}}}\n"
        (issue,) = issues_of(text)
        assert issue.startswith(f"plan.yaml:14: agents[2].fork_from.checkpoint: {problem}")


def test_agent_shape_errors_speak_in_plan_terms() -> None:
    """A non-mapping agent, an empty agents list and a null one get plan-worded errors."""
    (scalar,) = issues_of("base: {prompt: x}\nagents: [5]\n")
    assert scalar == (
        "plan.yaml:2: agents[0]: each agent is a mapping with at least id and prompt (got 5)"
    )
    (empty,) = issues_of("base: {prompt: x}\nagents: []\n")
    assert empty == "plan.yaml:2: agents: needs at least one agent"
    (null,) = issues_of("base: {prompt: x}\nagents:\n")
    assert null == (
        "plan.yaml:2: agents: expected a list of agents, each a mapping with at least "
        "id and prompt (got null)"
    )
    only_agents = [i for i in issues_of("agents:\n") if "agents" in i]
    assert only_agents[0].startswith("plan.yaml:1: agents: expected a list of agents")
    (base,) = issues_of("base: 5\nagents: [{id: a, prompt: p}]\n")
    assert base.startswith("plan.yaml:1: base: expected a mapping with `prompt`")


def test_unknown_fork_from_is_reported_with_other_errors() -> None:
    """An unknown fork_from agent shows up in the same report as an unknown field."""
    found = issues_of(
        "base: {prompt: x}\nagents:\n"
        "  - {id: a, prompt: p, bogus: 1}\n"
        "  - {id: b, prompt: p, fork_from: {agent: zz}}\n"
    )
    assert found[0] == "plan.yaml:3: agents[0].bogus: unknown field (check its spelling)"
    assert found[1].startswith("plan.yaml:4: agents[1].fork_from.agent: agent 'b' forks from")
    assert len(found) == 2


def test_plan_files_must_be_small_regular_files(tmp_path: Path) -> None:
    """A directory, a FIFO, a device or a file over the size cap is refused, never read."""
    import os

    from swarm.plan import MAX_PLAN_BYTES

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(MAX_PLAN_BYTES + 1)
    cases = {
        tmp_path: "is a directory",
        fifo: "not a regular file",
        Path("/dev/zero"): "not a regular file",
        big: "is larger than 10 MB",
    }
    for path, expected in cases.items():
        with pytest.raises(PlanError) as caught:
            load_plan(path)
        assert str(caught.value).startswith(f"{path}: ") and expected in str(caught.value)
        with pytest.raises(PlanError, match=expected):
            load_plan(REPO / "examples" / "plan.yaml", config_path=path)


def test_continue_prompt_has_a_default() -> None:
    """execution.continue_prompt defaults to a sentence and is described in the schema."""
    from swarm.plan import DEFAULT_CONTINUE_PROMPT

    plan = parse_plan(GOOD)
    assert plan.execution.continue_prompt == DEFAULT_CONTINUE_PROMPT  # resume's own fallback
    assert "continue_prompt" in json.dumps(plan_json_schema())
    (issue,) = issues_of(GOOD + "execution: {continue_prompt: ''}\n")
    assert issue.startswith("plan.yaml:14: execution.continue_prompt:")
