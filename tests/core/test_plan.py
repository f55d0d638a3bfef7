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
