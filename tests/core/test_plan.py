"""Plan files: validation errors name the file, line and field; defaults merge."""

from __future__ import annotations

import json
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
    from swarm.planfile import PACKAGED_CONFIG

    shipped = (REPO / "configs" / "default.yaml").read_bytes()
    assert PACKAGED_CONFIG.read_bytes() == shipped, (
        "configs/default.yaml changed: copy it to swarm/default_config.yaml"
    )


def test_defaults_do_not_depend_on_the_working_directory(in_tmp_cwd: Path) -> None:
    """Without ./configs/default.yaml the packaged defaults apply, e.g. the per-agent timeout."""
    from swarm.planfile import PACKAGED_CONFIG, default_config_path

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
        ("claude", "cli_path, cwd, model, rehearsal, retry, session_store"),
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
    """Known options pass; without a name any real backend's options pass, and so they do
    with the simulated backend, which reads none, so a plan can be rehearsed offline."""
    for name in ("", "name: simulated, ", "name: claude, "):
        plan = parse_plan(GOOD + f"backend: {{{name}options: {{model: m, cli_path: c}}}}\n")
        assert plan.backend.options == {"model": "m", "cli_path": "c"}
    (issue,) = issues_of(GOOD + "backend: {name: simulated, options: {bogus: 1}}\n")
    assert "not an option of any backend" in issue


@pytest.mark.parametrize("name", ["../evil", "a/b", "my plan", ".hidden", "a..b", "", "x" * 65])
def test_plan_names_are_restricted_like_ids(name: str) -> None:
    """A plan name with a path, blanks or odd characters is refused at its line."""
    (issue,) = issues_of(GOOD.replace("name: demo", f"name: {json.dumps(name)}"))
    assert issue.startswith("plan.yaml:1: name: expected letters, digits")
    assert f"(got {name!r})" in issue


def test_stored_plans_with_old_names_still_load() -> None:
    """The file-only rules (name, backend options) do not stop a stored plan from loading again."""
    plan = parse_plan(GOOD)
    document = plan.model_dump(mode="json")
    document["name"] = "an old name"
    document["backend"]["options"] = {"retired_option": 1}
    assert Plan.model_validate(document).name == "an old name"


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

    from swarm.planfile import MAX_PLAN_BYTES

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
    from swarm.resume import DEFAULT_CONTINUE_PROMPT

    plan = parse_plan(GOOD)
    assert plan.execution.continue_prompt == DEFAULT_CONTINUE_PROMPT  # resume's own fallback
    assert "continue_prompt" in json.dumps(plan_json_schema())
    (issue,) = issues_of(GOOD + "execution: {continue_prompt: ''}\n")
    assert issue.startswith("plan.yaml:14: execution.continue_prompt:")
